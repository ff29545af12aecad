"""``/api/stops``: stops in planned time and their reasons; ``/api/stop-reasons``: each site's reason codes.

A student in session classifies the current or last stop of her machine from the
kiosk; a master classifies or reclassifies any stop. A stop nobody classified is
listed with no reason ("non renseigné"), never dropped.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from gateway.auth import Principal
from gateway.domain.stops import UNCLASSIFIED, Classified
from gateway.errors import ForbiddenError, NotFoundError
from gateway.store import stops_repo
from gateway.store.db import Db
from gateway.store.machines_repo import machine_key
from gateway.store.models import Machine
from gateway.store.reports_repo import MachineReport, machine_report, machine_reports, recent_stops
from gateway.store.work_repo import open_work_session
from gateway.web.csv_export import Column, FormatQuery, csv_response, sheet_of
from gateway.web.guards import Admin, AtMachine, machine_for, own_site
from gateway.web.i18n import lang_of
from gateway.web.records_state import RecordsState, StateDep
from gateway.web.routes.calendars import Site
from gateway.web.routes.reports import Period, window
from gateway.web.schemas import Short
from gateway.web.stop_schemas import Classification, ReasonCreate, ReasonPublic, ReasonUpdate, StopPublic

router = APIRouter(prefix="/api/stops", tags=["stops"])
reasons_router = APIRouter(prefix="/api/stop-reasons", tags=["stops"])
DayQuery = Annotated[date | None, Query(alias="date", description="a day of the period; default today")]


def stop_public(machine: Machine, item: Classified) -> StopPublic:
    reason = item.reason
    return StopPublic(
        machine=machine_key(machine),
        start=item.stop.start,
        end=item.stop.end,
        seconds=item.stop.seconds,
        alarm=item.stop.alarm,
        ongoing=item.stop.ongoing,
        reason=None if reason is None else reason.code,
        reason_label=None if reason is None else reason.label,
        category=None if reason is None else reason.category,
        prefilled=item.prefilled,
    )


def period_reports(
    state: RecordsState, who: Principal, period: Period, day: date | None, machine: str | None
) -> list[MachineReport]:
    start, end = window(state, period, day)
    with state.reading(who) as db:
        return machine_reports(db=db, start=start, end=end, now=state.now(), zone=state.settings.timezone, name=machine)


@router.get("")
def list_stops(
    who: Admin, state: StateDep, period: Period = "day", day: DayQuery = None, machine: Short | None = None
) -> list[StopPublic]:
    """Every stop of the period in planned time, per machine, with its reason (null: not classified)."""
    return [stop_public(r.machine, s) for r in period_reports(state, who, period, day, machine) for s in r.stops]


@router.get("/last")
def last_stop(who: AtMachine, state: StateDep, machine: Short | None = None, site: Short | None = None) -> StopPublic:
    """The machine's current or last stop of the last day: what the kiosk offers to classify."""
    with state.reading(who) as db:
        found = machine_for(db, who, machine, site)
        item = _today(db, state, found)[-1:]
    if not item:
        raise NotFoundError("stop_not_found", machine=found.name, started="—")
    return stop_public(found, item[0])


def _today(db: Db, state: RecordsState, machine: Machine) -> list[Classified]:
    return recent_stops(db=db, machine=machine, now=state.now(), zone=state.settings.timezone)


@router.post("/classify")
def classify_stop(body: Classification, who: AtMachine, state: StateDep) -> StopPublic:
    """Say why a machine stopped. A kiosk: the current or last stop of its machine, while a student is
    checked in there; a master: any stop, again as often as needed (the last word counts, audited)."""
    now = state.now()
    with state.transaction(who) as db:
        machine = machine_for(db, who, body.machine, body.site)
        if who.role == "kiosk":
            if open_work_session(db=db, machine=machine) is None:
                raise ForbiddenError("stop_needs_student")
            candidates = _today(db, state, machine)[-1:]
        else:
            day = body.started.astimezone(state.settings.zone()).date()
            start, end = window(state, "day", day)
            report = machine_report(db=db, machine=machine, start=start, end=end, now=now, zone=state.settings.timezone)
            candidates = report.stops
        match = [c for c in candidates if c.stop.start == body.started]
        if not match:
            raise NotFoundError("stop_not_found", machine=machine.name, started=body.started)
        stops_repo.save_classification(
            db=db, who=who.name, now=now, machine=machine, started=match[0].stop.start, code=body.reason
        )
        reason = next(r for r, _ in stops_repo.reasons(db=db, site=machine.site) if r.code == body.reason)
    return stop_public(machine, Classified(match[0].stop, reason))


STOP_COLUMNS = (
    Column("machine", "Machine", "Machine"),
    Column("start", "Début", "Start", "time"),
    Column("end", "Fin", "End", "time"),
    Column("duration", "Durée", "Duration", "duration"),
    Column("reason", "Cause", "Reason", "word"),
    Column("category", "Catégorie", "Category", "word"),
    Column("alarm", "Alarme", "Alarm", "bool"),
    Column("prefilled", "Pré-rempli", "Pre-filled", "bool"),
)
WORDS = {
    "fr": {
        "setup": "réglage",
        "organisation": "organisation",
        "technical": "technique",
        "planned": "planifié",
        UNCLASSIFIED: "non renseigné",
    },
    "en": {
        "setup": "setup",
        "organisation": "organisation",
        "technical": "technical",
        "planned": "planned",
        UNCLASSIFIED: "not classified",
    },
}


@router.get("/export.csv", response_class=Response)
def stops_csv(
    *,
    who: Admin,
    state: StateDep,
    request: Request,
    period: Period = "week",
    day: DayQuery = None,
    flavour: FormatQuery = "sheet",
) -> Response:
    """The stops of the period: for a French spreadsheet, or ``?format=raw`` for scripts."""
    rows = []
    for report in period_reports(state, who, period, day, None):
        for item in report.stops:
            reason, stop = item.reason, item.stop
            label = UNCLASSIFIED if reason is None else reason.label
            category = UNCLASSIFIED if reason is None else reason.category
            rows.append(
                [
                    machine_key(report.machine),
                    stop.start,
                    stop.end,
                    stop.seconds,
                    label,
                    category,
                    stop.alarm,
                    item.prefilled,
                ]
            )
    words = WORDS["en" if lang_of(request) == "en" else "fr"]
    return csv_response(STOP_COLUMNS, rows, "stops.csv", sheet_of(request, state, flavour, words))


@reasons_router.get("/{site}")
def list_reasons(site: Site, who: AtMachine, state: StateDep) -> list[ReasonPublic]:
    """The site's reason codes (the default French list until the school edits it)."""
    own_site(who, site)
    with state.reading(who) as db:
        found = stops_repo.reasons(db=db, site=site)
    return [ReasonPublic(code=r.code, label=r.label, category=r.category, active=a) for r, a in found]


@reasons_router.post("/{site}", status_code=status.HTTP_201_CREATED)
def add_reason(site: Site, body: ReasonCreate, who: Admin, state: StateDep) -> ReasonPublic:
    own_site(who, site)
    with state.transaction(who) as db:
        row = stops_repo.add_reason(db=db, who=who.name, now=state.now(), site=site, **body.model_dump())
        return ReasonPublic.model_validate(row)


@reasons_router.patch("/{site}/{code}")
def update_reason(site: Site, code: str, body: ReasonUpdate, who: Admin, state: StateDep) -> ReasonPublic:
    own_site(who, site)
    with state.transaction(who) as db:
        row = stops_repo.update_reason(
            db=db, who=who.name, now=state.now(), site=site, code=code, changes=body.changes()
        )
        return ReasonPublic.model_validate(row)
