"""``/api/students``: students, their practice logs, and privacy (export, deletion)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from gateway.errors import InvalidError
from gateway.store import machines_repo, privacy, sites_repo, students_repo
from gateway.store.log_record_repo import customer_names
from gateway.store.reports_repo import student_log
from gateway.web.csv_export import Column, FormatQuery, csv_response, sheet_of
from gateway.web.guards import Admin, AdminOrStudent, own_student
from gateway.web.i18n import lang_of
from gateway.web.log_query import HIDE, asked
from gateway.web.page_labels import page_labels
from gateway.web.records_state import StateDep
from gateway.web.records_views import practice_public
from gateway.web.report_schemas import PracticeLogPublic
from gateway.web.schemas import MAX_ID, StudentCreate, StudentDeleted, StudentPublic, StudentUpdate, Ts

router = APIRouter(prefix="/api/students", tags=["students"])
StudentId = Annotated[int, Path(ge=1, le=MAX_ID)]
Since = Annotated[Ts | None, Query(description="sessions ending after this time")]
Until = Annotated[Ts | None, Query(description="sessions starting before this time")]


@router.get("")
def list_students(who: Admin, state: StateDep, active: bool | None = None) -> list[StudentPublic]:
    with state.reading(who) as db:
        return [StudentPublic.model_validate(s) for s in students_repo.list_students(db=db, active=active)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_student(body: StudentCreate, who: Admin, state: StateDep) -> StudentPublic:
    with state.transaction(who) as db:
        site = sites_repo.site_for_new(sites=who.sites, asked=body.site)
        row = students_repo.create_student(
            db=db, who=who.name, now=state.now(), fields=body.model_dump() | {"site": site}
        )
        return StudentPublic.model_validate(row)


@router.get("/{student_id}")
def get_student(student_id: StudentId, who: Admin, state: StateDep) -> StudentPublic:
    with state.reading(who) as db:
        return StudentPublic.model_validate(students_repo.get_student(db=db, student_id=student_id))


@router.patch("/{student_id}")
def update_student(student_id: StudentId, body: StudentUpdate, who: Admin, state: StateDep) -> StudentPublic:
    with state.transaction(who) as db:
        row = students_repo.update_student(
            db=db, who=who.name, now=state.now(), student_id=student_id, changes=body.changes()
        )
        return StudentPublic.model_validate(row)


@router.delete("/{student_id}")
def delete_student(student_id: StudentId, who: Admin, state: StateDep) -> StudentDeleted:
    """Delete the student, their users and logins; their work sessions stay, nameless, so orders keep their counts."""
    with state.transaction(who) as db:
        detached = privacy.delete_student(db=db, who=who.name, student_id=student_id, now=state.now())
    return StudentDeleted(student_id=student_id, sessions_detached=detached)


@router.get("/{student_id}/export")
def export_student(student_id: StudentId, who: AdminOrStudent, state: StateDep) -> dict[str, Any]:
    """Everything held on the student, as JSON (for the student, their family or the school)."""
    own_student(who, student_id)
    with state.reading(who) as db:
        return privacy.export_student(db=db, student_id=student_id, now=state.now())


@router.get("/{student_id}/practice-log")
def practice_log(
    student_id: StudentId, who: AdminOrStudent, state: StateDep, since: Since = None, until: Until = None
) -> PracticeLogPublic:
    own_student(who, student_id)
    with state.reading(who) as db:
        found = student_log(
            db=db, student_id=student_id, now=state.now(), since=since, until=until, zone=state.settings.timezone
        )
        return practice_public(found)


SESSION_COLUMNS = (
    Column("session", "N°", "No.", "int", only="raw"),
    Column("machine", "Machine", "Machine", only="raw"),
    Column("machine", "Machine", "Machine", only="sheet"),
    Column("order", "Commande", "Order", "int", only="raw"),
    Column("order", "Commande", "Order", only="sheet"),
    Column("started", "Début", "Start", "time"),
    Column("ended", "Fin", "End", "time"),
    Column("cycles", "Cycles", "Cycles", "int"),
    Column("cycle_s", "Temps de coupe", "Cutting time", "duration"),
    Column("parts", "Pièces", "Parts", "int"),
    Column("setup_s", "Réglage", "Setup", "duration"),
    Column("operation", "Opération", "Operation", "int"),  # the order's operation (10, 20, ...)
    Column("customer", "Client", "Customer", only="sheet"),  # empty when asked with customer=hide
)
From = Annotated[str | None, Query(alias="from", description="first local day of the period (YYYY-MM-DD), included")]
To = Annotated[str | None, Query(alias="to", description="last local day of the period (YYYY-MM-DD), included")]
CustomerQuery = Annotated[str | None, Query(alias="customer", description="hide: leave the customers' names out")]


@router.get("/{student_id}/practice-log.csv", response_class=Response)
def practice_log_csv(
    student_id: StudentId,
    who: AdminOrStudent,
    state: StateDep,
    request: Request,
    *,
    since: Since = None,
    until: Until = None,
    first: From = None,
    last: To = None,
    customer: CustomerQuery = None,
    flavour: FormatQuery = "sheet",
) -> Response:
    """The student's sessions: for a spreadsheet, or ``?format=raw`` for scripts. ``from`` and ``to`` are the
    period of the page and the PDF (local days, both included); ``since`` and ``until`` (UTC instants) remain
    for scripts, and may not be mixed with them."""
    own_student(who, student_id)
    if (since is not None or until is not None) and (first is not None or last is not None):
        raise InvalidError("period_mixed")
    zone = state.settings.timezone
    with state.reading(who) as db:
        if since is None and until is None:
            query = asked(request.query_params, db=db, state=state, student_id=student_id)
            since, until = query.period.start(zone), query.period.end(zone)
        found = student_log(db=db, student_id=student_id, now=state.now(), since=since, until=until, zone=zone)
        labels = machines_repo.machine_labels(db=db, ids={r.machine_id for r in found.sessions})
        names = {} if customer == HIDE else customer_names(db=db, order_ids={r.order_id for r in found.sessions})
    practice = page_labels(lang_of(request))["practice"]
    rows = []
    for row in found.sessions:
        tally = found.per_session[row.id]
        place = [found.machines[row.machine_id], labels[row.machine_id]]
        order = [row.order_id, found.order_reference(row) or practice]
        counts = [tally.cycles, tally.cycle_s, tally.parts, tally.setup_s]
        extra = [found.operation_number(row), None if row.order_id is None else names.get(row.order_id)]
        rows.append([row.id, *place, *order, row.started, row.ended, *counts, *extra])
    return csv_response(SESSION_COLUMNS, rows, f"practice-log-{student_id}.csv", sheet_of(request, state, flavour))
