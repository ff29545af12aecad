"""``/network?week=YYYY-Www``: every school that publishes, from the aggregates the network's gateway keeps:
machines online, utilisation and OEE over planned time, good parts, practice hours, free capacity, the
trend of the last weeks, and each local school against the network's median. ``/network.csv``: the same
weeks per school. Role: admin (a ``network`` role comes with sites, issue 17 item 1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.auth import Principal
from gateway.domain.network import median, mondays
from gateway.store.network_outbound import sites as local_sites
from gateway.store.network_repo import Figures, Online, online_now, weeks
from gateway.web.csv_export import Column, Flavour, csv_response, sheet_of
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.pages import records, render, require
from gateway.web.routes.utilisation_page import week_day, week_label

# A school's masters see their school against the network; the network role sees aggregates, never records.
READERS = ("admin", "network")
router = APIRouter(include_in_schema=False)
TREND_WEEKS = 8
HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class SiteRow:
    site: str
    online: Online | None
    week: Figures  # the week shown
    trend: list[Figures]  # the last TREND_WEEKS weeks, oldest first, ending with the week shown
    local: bool  # one of this gateway's own schools


def _rows(request: Request, who: Principal) -> tuple[list[SiteRow], list[date]]:
    """Every school's figures; ``local`` marks a master's own schools (the network role's: this gateway's)."""
    state = records(request)
    today = state.now().astimezone(state.settings.zone()).date()
    shown = _weeks(week_day(request.query_params.get("week"), today), today)
    with state.reading(None) as db:  # aggregates of every school and which sites are local: no records
        per_site = weeks(db=db, mondays=shown)
        online = online_now(db=db)
        local = set(who.sites) if who.role == "admin" else set(local_sites(db=db))
    rows = [SiteRow(s, online.get(s), f[-1], f, s in local) for s, f in sorted(per_site.items())]
    return rows, shown


def _weeks(monday: date, today: date) -> list[date]:
    """The trend's Mondays; a week at the edge of the calendar (0001-W01, 9999-W52) shows this week instead."""
    try:
        monday + timedelta(days=14)  # the page links the next week, and a week's days run to its Sunday
        return mondays(monday, TREND_WEEKS)
    except OverflowError:
        return mondays(today, TREND_WEEKS)


@router.get("/network")
def network_page(request: Request) -> Response:
    who = require(request, *READERS)
    rows, shown = _rows(request, who)
    words = page_labels(lang_of(request))
    monday = shown[-1]
    medians = {
        "utilisation": median([r.week.utilisation for r in rows]),
        "oee": median([r.week.oee for r in rows]),
        "trend": [median([r.trend[i].utilisation for r in rows]) for i in range(len(shown))],
    }
    context: dict[str, Any] = {
        "rows": rows,
        "weeks": [week_label(m) for m in shown],
        "week": week_label(monday),
        "prev": week_label(monday - timedelta(days=7)),
        "next": week_label(monday + timedelta(days=7)),
        "median": medians,
        "against": [_against(r, medians, words) for r in rows if r.local],
        "hour_s": HOUR_S,
    }
    return render(request, "network.html", context)


def _against(row: SiteRow, medians: dict[str, Any], words: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.0f} %"

    return str(words["network_against"]).format(
        site=row.site,
        mine=pct(row.week.utilisation),
        oee=pct(row.week.oee),
        median=pct(medians["utilisation"]),
        median_oee=pct(medians["oee"]),
    )


COLUMNS = (
    Column("site", "École", "School"),
    Column("week", "Semaine", "Week"),
    Column("planned_h", "Temps planifié", "Planned time", "hours"),
    Column("running_h", "En production", "Running", "hours"),
    Column("utilisation", "Utilisation", "Utilisation", "ratio"),
    Column("oee", "TRS", "OEE", "ratio"),
    Column("good", "Pièces bonnes", "Good parts", "int"),
    Column("scrap", "Rebuts", "Scrap", "int"),
    Column("practice_h", "Heures de pratique", "Practice hours", "hours"),
    Column("free_h", "Capacité libre", "Free capacity", "hours"),
    Column("setup_h", "Arrêts réglage", "Setup stops", "hours"),
    Column("organisation_h", "Arrêts organisation", "Organisation stops", "hours"),
    Column("technical_h", "Arrêts techniques", "Technical stops", "hours"),
    Column("planned_stop_h", "Arrêts planifiés", "Planned stops", "hours"),
    Column("unclassified_h", "Arrêts non classés", "Unclassified stops", "hours"),
)


@router.get("/network.csv")
def network_csv(request: Request) -> Response:
    who = require(request, *READERS)
    rows, shown = _rows(request, who)
    flavour: Flavour = "raw" if request.query_params.get("format") == "raw" else "sheet"
    lines = [
        (
            row.site,
            week_label(monday),
            f.planned_h * HOUR_S,
            f.running_h * HOUR_S,
            f.utilisation,
            f.oee,
            f.good,
            f.scrap,
            f.practice_h * HOUR_S,
            f.free_h * HOUR_S,
            *(f.stops_h[name] * HOUR_S for name in ("setup", "organisation", "technical", "planned", "unclassified")),
        )
        for row in rows
        for monday, f in zip(shown, row.trend, strict=True)
    ]
    sheet = sheet_of(request, records(request), flavour)
    return csv_response(COLUMNS, lines, f"network-{week_label(shown[-1])}.csv", sheet)
