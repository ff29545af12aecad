"""``/api/students``: students, their practice logs, and privacy (export, deletion)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from gateway.store import machines_repo, privacy, students_repo
from gateway.store.reports_repo import student_log
from gateway.web.csv_export import Column, FormatQuery, csv_response, sheet_of
from gateway.web.guards import Admin, AdminOrStudent, own_student
from gateway.web.i18n import lang_of
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
    with state.reading() as db:
        return [StudentPublic.model_validate(s) for s in students_repo.list_students(db=db, active=active)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_student(body: StudentCreate, who: Admin, state: StateDep) -> StudentPublic:
    with state.transaction() as db:
        row = students_repo.create_student(db=db, who=who.name, now=state.now(), fields=body.model_dump())
        return StudentPublic.model_validate(row)


@router.get("/{student_id}")
def get_student(student_id: StudentId, who: Admin, state: StateDep) -> StudentPublic:
    with state.reading() as db:
        return StudentPublic.model_validate(students_repo.get_student(db=db, student_id=student_id))


@router.patch("/{student_id}")
def update_student(student_id: StudentId, body: StudentUpdate, who: Admin, state: StateDep) -> StudentPublic:
    with state.transaction() as db:
        row = students_repo.update_student(
            db=db, who=who.name, now=state.now(), student_id=student_id, changes=body.changes()
        )
        return StudentPublic.model_validate(row)


@router.delete("/{student_id}")
def delete_student(student_id: StudentId, who: Admin, state: StateDep) -> StudentDeleted:
    """Delete the student, their users and logins; their work sessions stay, nameless, so orders keep their counts."""
    with state.transaction() as db:
        detached = privacy.delete_student(db=db, who=who.name, student_id=student_id, now=state.now())
    return StudentDeleted(student_id=student_id, sessions_detached=detached)


@router.get("/{student_id}/export")
def export_student(student_id: StudentId, who: AdminOrStudent, state: StateDep) -> dict[str, Any]:
    """Everything held on the student, as JSON (for the student, their family or the school)."""
    own_student(who, student_id)
    with state.reading() as db:
        return privacy.export_student(db=db, student_id=student_id, now=state.now())


@router.get("/{student_id}/practice-log")
def practice_log(
    student_id: StudentId, who: AdminOrStudent, state: StateDep, since: Since = None, until: Until = None
) -> PracticeLogPublic:
    own_student(who, student_id)
    with state.reading() as db:
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
)


@router.get("/{student_id}/practice-log.csv", response_class=Response)
def practice_log_csv(
    student_id: StudentId,
    who: AdminOrStudent,
    state: StateDep,
    request: Request,
    *,
    since: Since = None,
    until: Until = None,
    flavour: FormatQuery = "sheet",
) -> Response:
    """The student's sessions: for a spreadsheet, or ``?format=raw`` for scripts."""
    own_student(who, student_id)
    with state.reading() as db:
        found = student_log(
            db=db, student_id=student_id, now=state.now(), since=since, until=until, zone=state.settings.timezone
        )
        labels = machines_repo.machine_labels(db=db, ids={r.machine_id for r in found.sessions})
    practice = page_labels(lang_of(request))["practice"]
    rows = []
    for row in found.sessions:
        tally = found.per_session[row.id]
        place = [found.machines[row.machine_id], labels[row.machine_id]]
        order = [row.order_id, found.order_reference(row) or practice]
        rows.append([row.id, *place, *order, row.started, row.ended, tally.cycles, tally.cycle_s, tally.parts])
    return csv_response(SESSION_COLUMNS, rows, f"practice-log-{student_id}.csv", sheet_of(request, state, flavour))
