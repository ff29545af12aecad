"""``/api/sessions``: check-in and check-out at a machine, masters' corrections; ``/api/cycles``: attribution.

A kiosk checks students in and out at its own machine only, by badge only (it
cannot name a student by id, nor end a session without the badge of the student
in it). A session recorded after the fact, a correction and the assignment of
an unattributed cycle are for masters, and audited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from gateway.errors import ForbiddenError, InvalidError
from gateway.store import badges_repo, closing_repo, machines_repo, students_repo, work_repo
from gateway.store.attribution_repo import unattributed
from gateway.web.guards import Admin, AtMachine, machine_for
from gateway.web.records_state import StateDep
from gateway.web.records_views import work_session_public
from gateway.web.schemas import (
    MAX_ID,
    AssignmentCreate,
    AssignmentPublic,
    CheckIn,
    CheckOut,
    Id,
    SessionCreate,
    SessionPublic,
    SessionUpdate,
    Ts,
    UnattributedCycle,
)

router = APIRouter(prefix="/api/sessions", tags=["sessions"])
cycles_router = APIRouter(prefix="/api/cycles", tags=["sessions"])
SessionId = Annotated[int, Path(ge=1, le=MAX_ID)]
CycleId = Annotated[int, Path(ge=1, le=MAX_ID)]
DEFAULT_LOOKBACK = timedelta(days=30)


@router.post("/check-in", status_code=status.HTTP_201_CREATED, responses={200: {"description": "the same check-in"}})
def check_in(body: CheckIn, who: AtMachine, state: StateDep, response: Response) -> SessionPublic:
    """Check a student in: a kiosk by badge only, a master by badge or id. The same check-in again (same
    student, machine and order) answers 200 with the session already open."""
    if who.role == "kiosk" and body.badge is None:
        raise ForbiddenError("kiosk_badge_only")
    now = state.now()
    with state.transaction(who) as db:
        machine = machine_for(db, who, body.machine, body.site)
        student_id = body.student_id
        if body.badge is not None:
            student_id = students_repo.student_by_badge(db=db, badge=body.badge).id
        assert student_id is not None  # the schema asks for a badge or a student id
        # Yesterday's forgotten session ends at its closing hour first, instead of blocking this check-in.
        closing_repo.close_overdue(
            db=db, now=now, zone=state.settings.timezone, machine_id=machine.id, student_id=student_id
        )
        row, created = work_repo.check_in(
            db=db,
            who=who.name,
            machine=machine,
            student_id=student_id,
            order_id=body.order_id,
            at=now,
            day=now.astimezone(state.settings.zone()).date(),
            operation=work_repo.Wanted(id=body.operation_id, number=body.operation),
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return work_session_public(row, {machine.id: machines_repo.machine_key(machine)})


@router.post("/check-out")
def check_out(body: CheckOut, who: AtMachine, state: StateDep) -> SessionPublic:
    """End the machine's session: a kiosk with the badge of the student in it, or a master's badge (the
    session is then closed by that master). The same check-out again answers with the session it ended
    (ended once)."""
    if who.role == "kiosk" and body.badge is None:
        raise InvalidError("badge_required")
    with state.transaction(who) as db:
        machine = machine_for(db, who, body.machine, body.site)
        closer, student_id = who.name, None
        master = None if body.badge is None else badges_repo.master_with_badge(db=db, badge=body.badge)
        if master is not None:
            closer = master.username
        elif body.badge is not None:
            student_id = students_repo.student_by_badge(db=db, badge=body.badge).id
        # A session past its closing hour ends there, not now: a badge the next morning does not add a night.
        closing_repo.close_overdue(db=db, now=state.now(), zone=state.settings.timezone, machine_id=machine.id)
        row, _ = work_repo.check_out(db=db, who=closer, machine=machine, at=state.now(), student_id=student_id)
        return work_session_public(row, {machine.id: machines_repo.machine_key(machine)})


@router.post("", status_code=status.HTTP_201_CREATED)
def add_session(body: SessionCreate, who: Admin, state: StateDep) -> SessionPublic:
    """Record a session after the fact; the cycles it covers are attributed to it at once."""
    with state.transaction(who) as db:
        machine = machine_for(db, who, body.machine, body.site)
        row = work_repo.add_work_session(
            db=db,
            who=who.name,
            machine=machine,
            student_id=body.student_id,
            order_id=body.order_id,
            start=body.started,
            end=body.ended,
            now=state.now(),
            operation=work_repo.Wanted(id=body.operation_id),
        )
        return work_session_public(row, {machine.id: machines_repo.machine_key(machine)})


@router.patch("/{session_id}")
def update_session(session_id: SessionId, body: SessionUpdate, who: Admin, state: StateDep) -> SessionPublic:
    with state.transaction(who) as db:
        row = work_repo.update_work_session(
            db=db, who=who.name, work_session_id=session_id, changes=body.changes(), now=state.now()
        )
        return work_session_public(row, machines_repo.machine_keys(db=db, ids=[row.machine_id]))


@router.get("")
def list_sessions(
    who: Admin,
    state: StateDep,
    student_id: Annotated[Id | None, Query()] = None,
    open_only: bool = False,
) -> list[SessionPublic]:
    with state.reading(who) as db:
        rows = work_repo.list_work_sessions(db=db, student_id=student_id, open_only=open_only)
        names = machines_repo.machine_keys(db=db, ids={r.machine_id for r in rows})
        return [work_session_public(r, names) for r in rows]


@cycles_router.get("/unattributed")
def list_unattributed(
    who: Admin,
    state: StateDep,
    since: Annotated[Ts | None, Query()] = None,
    until: Annotated[Ts | None, Query()] = None,
) -> list[UnattributedCycle]:
    """Cycles that ran while nobody was checked in (default: the last 30 days), for a master to assign."""
    now = state.now()
    until = until or now
    since = since or until - DEFAULT_LOOKBACK
    with state.reading(who) as db:
        found = unattributed(db=db, since=since, until=until)
    return [
        UnattributedCycle(
            id=c.row.id,
            machine=c.machine,
            program=c.row.program,
            started=c.row.started,
            ended=c.row.ended,
            duration_s=c.row.duration_s,
            parts=c.row.parts,
            outcome=c.row.outcome,
        )
        for c in found
    ]


@cycles_router.post("/{cycle_id}/assignment")
def assign_cycle(cycle_id: CycleId, body: AssignmentCreate, who: Admin, state: StateDep) -> AssignmentPublic:
    """Assign (or reassign) a cycle to a work session on the same machine; its parts follow it."""
    with state.transaction(who) as db:
        row = work_repo.assign_cycle(
            db=db, who=who.name, cycle_id=cycle_id, work_session_id=body.session_id, now=state.now()
        )
        return AssignmentPublic.model_validate(row)
