"""``/api/competences``: the school's référentiel (import, list, class grid); a student's competences.

Masters import the référentiel and validate; a student reads their own grid.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from gateway.domain.referentiel import parse_referentiel
from gateway.errors import InvalidError
from gateway.store import competences_repo
from gateway.store.students_repo import display_name
from gateway.web.csv_export import Column, FormatQuery, csv_response, sheet_of
from gateway.web.guards import Admin, AdminOrStudent, own_student
from gateway.web.i18n import lang_of
from gateway.web.records_state import StateDep
from gateway.web.schemas import MAX_ID, ClassName, Short
from gateway.web.teaching_schemas import (
    CompetencePublic,
    GridLinePublic,
    ImportDone,
    ValidationCreate,
    ValidationPublic,
)

router = APIRouter(prefix="/api/competences", tags=["competences"])
students_router = APIRouter(prefix="/api/students", tags=["competences"])
StudentId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_FILE = 1024 * 1024


@router.post("/import", responses={422: {"description": "the file's problems, line by line; nothing imported"}})
async def import_referentiel(request: Request, who: Admin, state: StateDep) -> Any:
    """The référentiel as CSV (``diploma;block;code;label``): all lines or none."""
    raw = await request.body()
    if len(raw) > MAX_FILE:
        raise InvalidError("file_too_large", limit_kib=MAX_FILE // 1024)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel's "CSV (séparateur: point-virgule)" on Windows
    competences, problems = parse_referentiel(text)
    if problems:
        refused = InvalidError("referentiel_refused", count=len(problems))
        detail = {
            "code": refused.code,
            "params": refused.public_params(),
            "message": refused.message(lang=lang_of(request), zone=state.settings.zone(), names=False),
            "problems": [{"line": p.line, "column": p.column, "kind": p.kind, "value": p.value} for p in problems],
        }
        return JSONResponse(status_code=422, content={"detail": detail})
    with state.transaction(who) as db:
        created, updated = competences_repo.import_referentiel(
            db=db, who=who.name, now=state.now(), competences=competences
        )
    return ImportDone(created=created, updated=updated)


@router.get("")
def list_competences(
    who: AdminOrStudent, state: StateDep, diploma: Annotated[Short | None, Query()] = None
) -> list[CompetencePublic]:
    with state.reading(who) as db:
        return [CompetencePublic.model_validate(c) for c in competences_repo.list_competences(db=db, diploma=diploma)]


LEVEL_WORDS = {
    "fr": {"non_acquis": "non acquis", "en_cours": "en cours", "acquis": "acquis", "maitrise": "maîtrisé"},
    "en": {"non_acquis": "not acquired", "en_cours": "in progress", "acquis": "acquired", "maitrise": "mastered"},
}


@router.get("/grid.csv", response_class=Response)
def class_grid_csv(
    who: Admin,
    state: StateDep,
    request: Request,
    *,
    class_name: Annotated[ClassName, Query()],
    diploma: Annotated[Short | None, Query()] = None,
    flavour: FormatQuery = "sheet",
) -> Response:
    """One line per student of the class, one column per competence: the latest level validated."""
    with state.reading(who) as db:
        students, competences, latest = competences_repo.class_grid(db=db, class_name=class_name, diploma=diploma)
    columns = [Column("student", "Élève", "Student")]
    columns += [Column(f"{c.diploma}:{c.code}", c.code, c.code, "word") for c in competences]
    rows = [[display_name(s), *(latest.get((s.id, c.id)) for c in competences)] for s in students]
    words = LEVEL_WORDS.get(lang_of(request), LEVEL_WORDS["fr"])
    return csv_response(columns, rows, f"competences-{class_name}.csv", sheet_of(request, state, flavour, words))


@students_router.get("/{student_id}/competences")
def student_competences(
    student_id: StudentId, who: AdminOrStudent, state: StateDep, diploma: Annotated[Short | None, Query()] = None
) -> list[GridLinePublic]:
    """Every competence with the student's validations, newest first: a student reads only their own."""
    own_student(who, student_id)
    with state.reading(who) as db:
        grid = competences_repo.student_grid(db=db, student_id=student_id, diploma=diploma)
        return [
            GridLinePublic(
                competence=CompetencePublic.model_validate(line.competence),
                level=line.level,
                validations=[ValidationPublic.model_validate(v) for v in line.validations],
            )
            for line in grid
        ]


@students_router.post("/{student_id}/competences", status_code=status.HTTP_201_CREATED)
def validate_competence(student_id: StudentId, body: ValidationCreate, who: Admin, state: StateDep) -> ValidationPublic:
    with state.transaction(who) as db:
        row = competences_repo.validate(
            db=db, who=who.name, now=state.now(), student_id=student_id, **body.model_dump()
        )
        return ValidationPublic.model_validate(row)
