"""``/utilisation?week=YYYY-Www``: per machine, over the site's planned time: running, idle, in alarm, offline,
running outside opening hours apart; OEE (ISO 22400-2); free capacity."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.domain.oee import counted
from gateway.domain.stops import by_category, pareto
from gateway.store.reports_repo import MachineReport, machine_reports
from gateway.web.charts import pareto_chart
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.pages import records, render, require
from gateway.web.routes.reports import window

router = APIRouter(include_in_schema=False)
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_day(text: str | None, today: date) -> date:
    """The Monday of ISO week ``YYYY-Www``; this week when missing or malformed."""
    found = WEEK.match(text or "")
    if found is not None:
        try:
            return date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            pass
    return today - timedelta(days=today.weekday())


def week_label(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@router.get("/utilisation")
def utilisation_page(request: Request) -> Response:
    who = require(request, "admin", "viewer")
    state = records(request)
    now = state.now()
    today = now.astimezone(state.settings.zone()).date()
    monday = week_day(request.query_params.get("week"), today)
    start, end = window(state, "week", monday)
    with state.reading(who) as db:
        reports = machine_reports(db=db, start=start, end=end, now=now, zone=state.settings.timezone)
    words = page_labels(lang_of(request))
    classified = [item for r in reports for item in r.stops]
    lost = pareto(classified, words["unclassified"])
    context = {
        "reports": reports,
        "categories": by_category(classified),
        "lost_s": sum(line.seconds for line in lost),
        "pareto": lost,
        "pareto_svg": pareto_chart(
            [(line.label, line.seconds) for line in lost], title=words["pareto_title"], lang=lang_of(request)
        ),
        "week": week_label(monday),
        "prev": week_label(monday - timedelta(days=7)),
        "next": week_label(monday + timedelta(days=7)),
        "totals": _totals(reports),
        "start": start,
        "end": end - timedelta(seconds=1),
        "period": counted(start, end, now),
    }
    return render(request, "utilisation.html", context)


def _totals(reports: list[MachineReport]) -> dict[str, float]:
    """The shop's sums over planned time (free capacity is per machine: planned hours not used, added up)."""
    names = ("busy_s", "running_s", "unplanned_running_s", "held_s", "alarm_s", "idle_s", "offline_s", "free_s")
    return {name: sum(getattr(r.planned, name) for r in reports) for name in names}
