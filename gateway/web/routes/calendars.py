"""``/api/calendars``: each site's opening calendar, its closures and its machines' exceptions (masters only).

Every change is audited. Planned time, OEE, stops and projected finishes all read
the calendar at the time of the request, so a correction applies to past weeks too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from gateway.domain.calendar import planned, planned_seconds
from gateway.store import calendar_repo
from gateway.store.machines_repo import find_machine
from gateway.web.calendar_schemas import (
    CalendarPublic,
    CalendarUpdate,
    ClosureCreate,
    ClosurePublic,
    ExceptionCreate,
    ExceptionPublic,
)
from gateway.web.guards import Admin, own_site
from gateway.web.records_state import RecordsState, StateDep
from gateway.web.routes.reports import window
from gateway.web.schemas import MAX_ID

router = APIRouter(prefix="/api/calendars", tags=["calendars"])
Site = Annotated[str, Path(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_.-]+$")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def calendar_public(view: calendar_repo.CalendarView, state: RecordsState) -> CalendarPublic:
    row = view.row
    start, end = window(state, "week", None)
    return CalendarPublic(
        site=row.site,
        timezone=row.timezone,
        week=[str(day) for day in row.week],
        public_holidays=row.public_holidays,
        school_zone=row.school_zone,
        stop_threshold_s=row.stop_threshold_s,
        alarm_prefills_breakdown=row.alarm_prefills_breakdown,
        closures=[ClosurePublic.model_validate(c) for c in view.closures],
        exceptions=[
            ExceptionPublic(
                id=e.id,
                machine=machine,
                first=e.first,
                last=e.last,
                kind="extra" if e.kind == "extra" else "out_of_service",
                start_time=e.start_time,
                end_time=e.end_time,
                label=e.label,
            )
            for e, machine in view.exceptions
        ],
        planned_week_s=planned_seconds(planned(view.calendar, start, end)),
    )


@router.get("")
def list_calendars(who: Admin, state: StateDep) -> list[CalendarPublic]:
    """The calendar of every site that has a machine or a calendar (defaults where none is stored)."""
    with state.reading(who) as db:
        zone = state.settings.timezone
        return [
            calendar_public(calendar_repo.calendar_view(db=db, site=site, zone=zone), state)
            for site in calendar_repo.sites(db=db)
        ]


@router.get("/{site}")
def get_calendar(site: Site, who: Admin, state: StateDep) -> CalendarPublic:
    own_site(who, site)
    with state.reading(who) as db:
        return calendar_public(calendar_repo.calendar_view(db=db, site=site, zone=state.settings.timezone), state)


@router.patch("/{site}")
def update_calendar(site: Site, body: CalendarUpdate, who: Admin, state: StateDep) -> CalendarPublic:
    own_site(who, site)
    with state.transaction(who) as db:
        calendar_repo.save_settings(
            db=db, who=who.name, now=state.now(), site=site, zone=state.settings.timezone, changes=body.changes()
        )
        return calendar_public(calendar_repo.calendar_view(db=db, site=site, zone=state.settings.timezone), state)


@router.post("/{site}/closures", status_code=status.HTTP_201_CREATED)
def add_closure(site: Site, body: ClosureCreate, who: Admin, state: StateDep) -> ClosurePublic:
    own_site(who, site)
    with state.transaction(who) as db:
        row = calendar_repo.add_closure(db=db, who=who.name, now=state.now(), site=site, **body.model_dump())
        return ClosurePublic.model_validate(row)


@router.delete("/closures/{closure_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_closure(closure_id: RowId, who: Admin, state: StateDep) -> Response:
    with state.transaction(who) as db:
        calendar_repo.delete_closure(db=db, who=who.name, now=state.now(), closure_id=closure_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{site}/exceptions", status_code=status.HTTP_201_CREATED)
def add_exception(site: Site, body: ExceptionCreate, who: Admin, state: StateDep) -> ExceptionPublic:
    own_site(who, site)
    with state.transaction(who) as db:
        machine = find_machine(db=db, name=body.machine, site=site)
        values = body.model_dump(exclude={"machine"})
        row = calendar_repo.add_exception(db=db, who=who.name, now=state.now(), machine_id=machine.id, **values)
        return ExceptionPublic(
            id=row.id,
            machine=machine.name,
            first=row.first,
            last=row.last,
            kind=body.kind,
            start_time=row.start_time,
            end_time=row.end_time,
            label=row.label,
        )


@router.delete("/exceptions/{exception_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_exception(exception_id: RowId, who: Admin, state: StateDep) -> Response:
    with state.transaction(who) as db:
        calendar_repo.delete_exception(db=db, who=who.name, now=state.now(), exception_id=exception_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
