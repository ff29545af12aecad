"""``/students/{id}/competences``: a student's competence grid (their own, or any for a master, who validates
there); ``/desk/competences``: the référentiel's import and a class's grid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway.domain.referentiel import LEVELS, parse_referentiel
from gateway.errors import NotFoundError, RecordsError
from gateway.store import competences_repo, students_repo
from gateway.store.machines_repo import machine_labels
from gateway.web.desk_forms import records_error, validation_errors
from gateway.web.pages import Forbidden, not_found, records, render, require, signed_in
from gateway.web.teaching_schemas import ValidationCreate
from gateway.web.work_forms import read_fields

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1
MAX_REFERENTIEL = 1024 * 1024  # a pasted référentiel, under the body limit for imports


def _grid_page(request: Request, student_id: int, *, typed: dict[str, str] | None = None, error: str = "") -> Response:
    who = require(request, "admin", "student")
    if who.role == "student" and who.student_id != student_id:
        raise Forbidden
    if not 1 <= student_id <= MAX_ID:
        return not_found(request)
    state = records(request)
    try:
        with state.reading(who) as db:
            student = students_repo.get_student(db=db, student_id=student_id)
            grid = competences_repo.student_grid(db=db, student_id=student_id)
            choices = competences_repo.evidence_choices(db=db, student_id=student_id) if who.role == "admin" else None
            sessions = [] if choices is None else choices.sessions
            approvals = [] if choices is None else choices.approvals
            machine_ids = {s.machine_id for s, _ in sessions} | {a.machine_id for a, _ in approvals}
            machines = machine_labels(db=db, ids=machine_ids)
            evidence = competences_repo.evidence_of(db=db, validations=[v for line in grid for v in line.validations])
    except NotFoundError:
        return not_found(request)
    blocks: dict[tuple[str, str], list[competences_repo.GridLine]] = {}
    for line in grid:
        blocks.setdefault((line.competence.diploma, line.competence.block), []).append(line)
    context: dict[str, Any] = {
        "s": student,
        "name": students_repo.display_name(student),
        "blocks": blocks,
        "levels": LEVELS,
        "sessions": [(s, e, machines.get(s.machine_id, "?")) for s, e in sessions],
        "approvals": [(a, e, machines.get(a.machine_id, "?")) for a, e in approvals],
        "evidence": evidence,
        "master": who.role == "admin",
        "typed": typed or {},
        "error": error,
        "done": request.query_params.get("done") == "1",
    }
    return render(request, "student_competences.html", context, status_code=422 if error else 200)


@router.get("/students/{student_id}/competences")
def competences_page(request: Request, student_id: int) -> Response:
    return _grid_page(request, student_id)


@router.post("/students/{student_id}/competences")
async def validate(request: Request, student_id: int) -> Response:
    who = require(request, "admin")
    form = await read_fields(request)
    names = ("competence_id", "level", "comment", "session_id", "approval_id")
    typed = {k: (form.get(k) or [""])[0][:1000] for k in names}
    body = {k: v or None for k, v in typed.items()} | {"comment": typed["comment"]}
    state = records(request)
    try:
        fields = ValidationCreate.model_validate(body).model_dump()
        with state.transaction(who) as db:
            competences_repo.validate(db=db, who=who.name, now=state.now(), student_id=student_id, **fields)
    except ValidationError as err:
        said = "; ".join(f"{field} : {text}" for field, text in validation_errors(request, err).items())
        return _grid_page(request, student_id, typed=typed, error=said)
    except RecordsError as err:
        return _grid_page(request, student_id, typed=typed, error=records_error(request, err, {}, "_")["_"])
    return RedirectResponse(f"/students/{student_id}/competences?done=1", status_code=303)


def _desk(request: Request, *, pasted: str = "", problems: list[Any] | None = None, status: int = 200) -> Response:
    state = records(request)
    class_name = request.query_params.get("class", "")[:32]
    diploma = request.query_params.get("diploma", "")[:32] or None
    with state.reading(signed_in(request)) as db:
        classes = sorted({s.class_name for s in students_repo.list_students(db=db, active=True)})
        diplomas = sorted({c.diploma for c in competences_repo.list_competences(db=db)})
        students, competences, latest = (
            competences_repo.class_grid(db=db, class_name=class_name, diploma=diploma) if class_name else ([], [], {})
        )
    context = {
        "classes": classes,
        "diplomas": diplomas,
        "class_name": class_name,
        "diploma": diploma or "",
        "students": [(s, students_repo.display_name(s)) for s in students],
        "competences": competences,
        "latest": latest,
        "pasted": pasted,
        "problems": problems or [],
        "imported": request.query_params.get("imported", ""),
    }
    return render(request, "desk_competences.html", context, status_code=status)


@router.get("/desk/competences")
def desk_competences(request: Request) -> Response:
    require(request, "admin")
    return _desk(request)


@router.post("/desk/competences/import")  # an import path: the body limit for imports, not for forms
async def import_referentiel(request: Request) -> Response:
    who = require(request, "admin")
    pasted = ((await read_fields(request, limit=MAX_REFERENTIEL)).get("referentiel") or [""])[0]
    competences, problems = parse_referentiel(pasted)
    if problems:
        return _desk(request, pasted=pasted, problems=problems, status=422)
    state = records(request)
    with state.transaction(who) as db:
        created, updated = competences_repo.import_referentiel(
            db=db, who=who.name, now=state.now(), competences=competences
        )
    return RedirectResponse(f"/desk/competences?{urlencode({'imported': f'{created}/{updated}'})}", status_code=303)
