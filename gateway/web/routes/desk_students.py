"""``/desk/students``: a master lists students by class, creates, edits, badges, disables and deletes them.

Every rule is the API's (``StudentCreate``/``StudentUpdate``, ``students_repo``, ``privacy``),
so a page and ``/api/students`` refuse the same things; the refusal is shown next to its
field and what was typed is kept. A success redirects (POST-redirect-GET) with ``?done=``.
The CSV import is in ``desk_student_import``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway.errors import NotFoundError, RecordsError
from gateway.store import privacy, students_repo
from gateway.store.models import Student
from gateway.web.desk_forms import blank_to_none, kept, read_form, records_error, validation_errors
from gateway.web.pages import not_found, records, render, require, signed_in
from gateway.web.schemas import MAX_ID, StudentCreate, StudentUpdate

router = APIRouter(include_in_schema=False)
StudentId = Annotated[int, Path(ge=1, le=MAX_ID)]
FIELDS = ("first_name", "last_initial", "class_name", "track", "badge")
# Which field a store's refusal is about.
ERROR_FIELDS = {"badge_taken": "badge", "site_required": "site", "site_not_yours": "site"}
DONE = ("created", "saved", "disabled", "enabled", "deleted", "imported")


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


@router.get("/desk/students")
def student_list(request: Request) -> Response:
    require(request, "admin")
    class_name = request.query_params.get("class", "")[:32]
    text = request.query_params.get("q", "")[:64].strip()
    with records(request).reading(signed_in(request)) as db:
        found = students_repo.search_students(db=db, class_name=class_name or None, text=text or None)
        classes = students_repo.class_names(db=db)
    context = {"students": found, "classes": classes, "class_name": class_name, "q": text, "done": _done(request)}
    context["count"] = request.query_params.get("n", "")[:6]
    return render(request, "desk_students.html", context)


def _form_data(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in FIELDS}
    data["badge"] = blank_to_none(data["badge"])
    return data


def _form_page(request: Request, values: dict[str, Any], errors: dict[str, str], student: Student | None) -> Response:
    status = 422 if errors else 200
    context = {"values": values, "errors": errors, "student": student, "done": _done(request)}
    return render(request, "desk_student_form.html", context, status_code=status)


@router.get("/desk/students/new")
def new_student(request: Request) -> Response:
    require(request, "admin")
    return _form_page(request, {"track": "CAP"}, {}, None)


@router.post("/desk/students/new")
async def create_student(request: Request) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    try:
        site = {"site": form["site"].strip()} if form.get("site", "").strip() else {}  # a master of several sites
        body = StudentCreate.model_validate(_form_data(form) | site)
    except ValidationError as err:
        return _form_page(request, kept(form, FIELDS), validation_errors(request, err), None)
    state = records(request)
    try:
        with state.transaction(who) as db:
            row = students_repo.create_student(db=db, who=who.name, now=state.now(), fields=body.model_dump())
            student_id = row.id
    except RecordsError as err:
        return _form_page(request, kept(form, FIELDS), records_error(request, err, ERROR_FIELDS), None)
    return RedirectResponse(f"/desk/students/{student_id}?done=created", status_code=303)


def _student(request: Request, student_id: int) -> Student | None:
    with records(request).reading(signed_in(request)) as db:
        try:
            return students_repo.get_student(db=db, student_id=student_id)
        except NotFoundError:
            return None


@router.get("/desk/students/{student_id}")
def edit_student(request: Request, student_id: StudentId) -> Response:
    require(request, "admin")
    student = _student(request, student_id)
    if student is None:
        return not_found(request)
    values = {k: getattr(student, k) or "" for k in FIELDS}
    return _form_page(request, values, {}, student)


@router.post("/desk/students/{student_id}")
async def save_student(request: Request, student_id: StudentId) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    student = _student(request, student_id)
    if student is None:
        return not_found(request)
    try:
        body = StudentUpdate.model_validate(_form_data(form))
    except ValidationError as err:
        return _form_page(request, kept(form, FIELDS), validation_errors(request, err), student)
    return _update(request, who.name, student=student, changes=body.changes(), done="saved", form=form)


@router.post("/desk/students/{student_id}/active")
async def set_active(request: Request, student_id: StudentId) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    student = _student(request, student_id)
    if student is None:
        return not_found(request)
    active = form.get("active") == "1"
    done = "enabled" if active else "disabled"
    return _update(request, who.name, student=student, changes={"active": active}, done=done, form=form)


def _update(
    request: Request, who: str, *, student: Student, changes: dict[str, Any], done: str, form: dict[str, str]
) -> Response:
    state = records(request)
    try:
        with state.transaction(signed_in(request)) as db:
            students_repo.update_student(db=db, who=who, now=state.now(), student_id=student.id, changes=changes)
    except RecordsError as err:
        values = kept(form, FIELDS) if "first_name" in form else {k: getattr(student, k) or "" for k in FIELDS}
        return _form_page(request, values, records_error(request, err, ERROR_FIELDS), student)
    return RedirectResponse(f"/desk/students/{student.id}?done={done}", status_code=303)


@router.get("/desk/students/{student_id}/delete")
def confirm_delete(request: Request, student_id: StudentId) -> Response:
    require(request, "admin")
    student = _student(request, student_id)
    if student is None:
        return not_found(request)
    return render(request, "desk_student_delete.html", {"student": student})


@router.post("/desk/students/{student_id}/delete")
async def delete_student(request: Request, student_id: StudentId) -> Response:
    who = require(request, "admin")
    await read_form(request)
    state = records(request)
    try:
        with state.transaction(who) as db:
            privacy.delete_student(db=db, who=who.name, student_id=student_id, now=state.now())
    except NotFoundError:
        return not_found(request)
    return RedirectResponse("/desk/students?done=deleted", status_code=303)
