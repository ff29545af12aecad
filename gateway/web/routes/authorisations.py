"""``/api/machine-groups``, ``/api/authorisations``, ``/api/duty``: who may use which machine, and who supervises.

Masters only. A check-in (``/api/sessions/check-in``) asks ``authorisations_repo.permit``;
these routes keep what it reads. The CSV lists a student's or a machine's authorisations,
revoked ones included, for a labour inspection.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from gateway.auth import Principal
from gateway.errors import InvalidError
from gateway.store import authorisations_repo, machines_repo, sites_repo, students_repo
from gateway.store.db import Db
from gateway.store.models import Authorisation, MachineGroup
from gateway.web.csv_export import Column, FormatQuery, csv_response, sheet_cells, sheet_of
from gateway.web.downloads import disposition
from gateway.web.guards import Admin, own_site
from gateway.web.page_labels import page_labels
from gateway.web.records_state import RecordsState, StateDep
from gateway.web.schemas import MAX_ID, Short
from gateway.web.table_pdf import table_pdf
from gateway.web.teaching_schemas import (
    AuthorisationCreate,
    AuthorisationPublic,
    DutyPublic,
    GroupCreate,
    GroupPublic,
    GroupUpdate,
)

groups_router = APIRouter(prefix="/api/machine-groups", tags=["authorisations"])
router = APIRouter(prefix="/api/authorisations", tags=["authorisations"])
duty_router = APIRouter(prefix="/api/duty", tags=["authorisations"])
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _group_public(group: MachineGroup, members: list[int], names: dict[int, str]) -> GroupPublic:
    ids = sorted(members)
    return GroupPublic(
        id=group.id,
        site=group.site,
        name=group.name,
        regulated=group.regulated,
        machine_ids=ids,
        machines=[names[i] for i in ids],
    )


@groups_router.get("")
def list_groups(who: Admin, state: StateDep) -> list[GroupPublic]:
    with state.reading(who) as db:
        members = authorisations_repo.group_members(db=db)
        names = machines_repo.machine_keys(db=db, ids=[m for ms in members.values() for m in ms])
        return [_group_public(g, members.get(g.id, []), names) for g in authorisations_repo.list_groups(db=db)]


@groups_router.post("", status_code=status.HTTP_201_CREATED)
def create_group(body: GroupCreate, who: Admin, state: StateDep) -> GroupPublic:
    with state.transaction(who) as db:
        site = sites_repo.site_for_new(sites=who.sites, asked=body.site)
        g = authorisations_repo.create_group(db=db, who=who.name, now=state.now(), **body.model_dump() | {"site": site})
        names = machines_repo.machine_keys(db=db, ids=body.machine_ids)
        return _group_public(g, body.machine_ids, names)


@groups_router.patch("/{group_id}")
def update_group(group_id: RowId, body: GroupUpdate, who: Admin, state: StateDep) -> GroupPublic:
    with state.transaction(who) as db:
        g = authorisations_repo.update_group(
            db=db, who=who.name, now=state.now(), group_id=group_id, changes=body.changes()
        )
        members = authorisations_repo.group_members(db=db).get(g.id, [])
        return _group_public(g, members, machines_repo.machine_keys(db=db, ids=members))


@router.get("")
def list_authorisations(
    who: Admin, state: StateDep, student_id: FilterId = None, machine_id: FilterId = None
) -> list[AuthorisationPublic]:
    """A student's authorisations, or those covering a machine (directly or by its groups); all when neither."""
    with state.reading(who) as db:
        rows = authorisations_repo.list_authorisations(db=db, student_id=student_id, machine_id=machine_id)
        return [AuthorisationPublic.model_validate(r) for r in rows]


@router.post("", status_code=status.HTTP_201_CREATED)
def grant(body: AuthorisationCreate, who: Admin, state: StateDep) -> AuthorisationPublic:
    fields = body.model_dump(exclude={"machine", "site"})
    with state.transaction(who) as db:
        if body.machine is not None:
            fields["machine_id"] = machines_repo.find_machine(db=db, name=body.machine, site=body.site).id
        row = authorisations_repo.grant(db=db, who=who.name, now=state.now(), fields=fields)
        return AuthorisationPublic.model_validate(row)


@router.post("/{authorisation_id}/revoke")
def revoke(authorisation_id: RowId, who: Admin, state: StateDep) -> AuthorisationPublic:
    with state.transaction(who) as db:
        row = authorisations_repo.revoke(db=db, who=who.name, now=state.now(), authorisation_id=authorisation_id)
        return AuthorisationPublic.model_validate(row)


COLUMNS = (
    Column("id", "N°", "No.", "int", only="raw"),
    Column("student", "Élève", "Student"),
    Column("class", "Classe", "Class"),
    Column("covers", "Machine ou groupe", "Machine or group"),
    Column("granted_on", "Accordée le", "Granted on", "date"),
    Column("granted_by", "Par", "By"),
    Column("valid_until", "Valable jusqu'au", "Valid until", "date"),
    Column("supervised_only", "Sous surveillance directe", "Direct supervision only", "bool"),
    Column("training_on", "Formation sécurité le", "Safety training on", "date"),
    Column("medical_valid_until", "Aptitude médicale jusqu'au", "Medical fitness until", "date"),
    Column("revoked", "Retirée le", "Revoked on", "time"),
    Column("revoked_by", "Retirée par", "Revoked by"),
)


@router.get("/list.csv", response_class=Response)
def authorisations_csv(
    who: Admin,
    state: StateDep,
    request: Request,
    *,
    student_id: FilterId = None,
    machine_id: FilterId = None,
    flavour: FormatQuery = "sheet",
) -> Response:
    """For an inspection: one student's or one machine's authorisations, revoked ones included."""
    rows, name = _inspection_list(state, who, student_id, machine_id)
    return csv_response(COLUMNS, rows, f"{name}.csv", sheet_of(request, state, flavour))


@router.get("/list.pdf", response_class=Response)
def authorisations_pdf(
    who: Admin, state: StateDep, request: Request, *, student_id: FilterId = None, machine_id: FilterId = None
) -> Response:
    """The same list as the CSV, as a PDF with page numbers and the director's and master's signatures."""
    rows, name = _inspection_list(state, who, student_id, machine_id)
    sheet = sheet_of(request, state, "sheet")
    words = page_labels(sheet.lang)
    generated = f"{words['generated']} {state.now().astimezone(sheet.zone):%d/%m/%Y %H:%M}"
    pdf = table_pdf(
        title=words["auth_title"],
        subtitle=generated,
        cells=sheet_cells(COLUMNS, rows, sheet),
        signatures=(words["signature"], words["director_signature"]),
        lang=sheet.lang,
    )
    headers = disposition(f"{name}.pdf")
    return Response(content=pdf, media_type="application/pdf", headers=headers)


def _inspection_list(
    state: RecordsState, who: Principal, student_id: int | None, machine_id: int | None
) -> tuple[list[list[object]], str]:
    if (student_id is None) == (machine_id is None):
        raise InvalidError("authorisation_list_one_filter")
    with state.reading(who) as db:
        # Another site's student or machine is not there: a 404, not an empty list that says it exists.
        if student_id is not None:
            students_repo.get_student(db=db, student_id=student_id)
        if machine_id is not None:
            machines_repo.find_machine_by_id(db=db, machine_id=machine_id)
        found = authorisations_repo.list_authorisations(db=db, student_id=student_id, machine_id=machine_id)
        groups = {g.id: g.name for g in authorisations_repo.list_groups(db=db)}
        rows = [_line(db, a, groups) for a in found]
    return rows, f"habilitations-eleve-{student_id}" if student_id else f"habilitations-machine-{machine_id}"


def _line(db: Db, a: Authorisation, groups: dict[int, str]) -> list[object]:
    student = students_repo.get_student(db=db, student_id=a.student_id)
    if a.machine_id is not None:
        covers = machines_repo.machine_keys(db=db, ids=[a.machine_id])[a.machine_id]
    else:
        covers = groups[a.group_id] if a.group_id is not None else "—"
    return [
        a.id,
        students_repo.display_name(student),
        student.class_name,
        covers,
        a.granted_on,
        a.granted_by,
        a.valid_until,
        a.supervised_only,
        a.training_on,
        a.medical_valid_until,
        a.revoked,
        a.revoked_by,
    ]


@duty_router.get("")
def who_is_on_duty(who: Admin, state: StateDep, site: Annotated[Short, Query()]) -> list[DutyPublic]:
    own_site(who, site)
    with state.reading(who) as db:
        return [DutyPublic.model_validate(d) for d in authorisations_repo.on_duty(db=db, site=site)]


@duty_router.post("", status_code=status.HTTP_201_CREATED)
def take_duty(who: Admin, state: StateDep, site: Annotated[Short, Query()]) -> DutyPublic:
    own_site(who, site)
    """The calling master is on duty in ``site``'s workshop: check-ins record them as supervising."""
    with state.transaction(who) as db:
        return DutyPublic.model_validate(authorisations_repo.take_duty(db=db, who=who.name, site=site, now=state.now()))


@duty_router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def end_duty(who: Admin, state: StateDep, site: Annotated[Short, Query()]) -> Response:
    own_site(who, site)
    with state.transaction(who) as db:
        authorisations_repo.end_duty(db=db, who=who.name, site=site, now=state.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
