"""``/desk/authorisations``: a master grants and revokes machine authorisations and keeps the machine groups.

Forms post here and come back here (POST-redirect-GET); a refused form is shown
again with what was typed and the reason beside the field. The rules are the
API's: the same schemas and the same repository functions.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway.errors import RecordsError
from gateway.store import authorisations_repo, machines_repo, students_repo
from gateway.web.desk_forms import records_error, validation_errors
from gateway.web.pages import records, render, require, signed_in
from gateway.web.teaching_schemas import AuthorisationCreate, GroupCreate
from gateway.web.work_forms import read_fields

router = APIRouter(include_in_schema=False)
PATH = "/desk/authorisations"
GRANT_FIELDS = ("student_id", "target", "granted_on", "valid_until", "training_on", "medical_valid_until")


def _page(request: Request, *, typed: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> Response:
    state = records(request)
    student_filter = request.query_params.get("student", "")
    with state.reading(signed_in(request)) as db:
        machines = machines_repo.all_machines(db=db)
        groups = authorisations_repo.list_groups(db=db)
        members = authorisations_repo.group_members(db=db)
        chosen = int(student_filter) if student_filter.isdigit() else None
        grants = authorisations_repo.list_authorisations(db=db, student_id=chosen)
        everyone = {s.id: s for s in students_repo.list_students(db=db)}  # by class, then name
    students = [s for s in everyone.values() if s.active]  # those a master may authorise now
    names = {m.id: machines_repo.machine_key(m) for m in machines}
    group_names = {g.id: g.name for g in groups}
    lines = [
        {
            "row": a,
            "student": students_repo.display_name(everyone.get(a.student_id)),
            "covers": names.get(a.machine_id, "—")
            if a.machine_id is not None
            else group_names.get(a.group_id or 0, "—"),
        }
        for a in grants
    ]
    context = {
        "students": students,
        "machines": machines,
        "groups": [(g, [names[m] for m in sorted(members.get(g.id, [])) if m in names]) for g in groups],
        "lines": lines,
        "typed": typed or {},
        "errors": errors or {},
        "done": request.query_params.get("done", ""),
        "student_filter": student_filter,
    }
    status = 422 if errors else 200
    return render(request, "desk_authorisations.html", context, status_code=status)


@router.get(PATH)
def authorisations_page(request: Request) -> Response:
    require(request, "admin")
    return _page(request)


def _field_errors(request: Request, err: ValidationError) -> dict[str, str]:
    """The schema's complaints beside their fields; what the machine or group lacks goes beside the one choice."""
    found: dict[str, str] = {}
    for field, text in validation_errors(request, err).items():
        found.setdefault("target" if field in ("machine_id", "group_id", "_form") else field, text)
    return found


@router.post(PATH)
async def grant(request: Request) -> Response:
    who = require(request, "admin")
    form = await read_fields(request)
    typed: dict[str, Any] = {k: (form.get(k) or [""])[0][:64] for k in GRANT_FIELDS}
    typed["supervised_only"] = "supervised_only" in form
    kind, _, target = typed["target"].partition(":")
    body: dict[str, Any] = {k: typed[k] or None for k in ("student_id", "granted_on", "valid_until")}
    body |= {k: typed[k] or None for k in ("training_on", "medical_valid_until")}
    body["supervised_only"] = typed["supervised_only"]
    body["machine_id" if kind == "machine" else "group_id"] = target or None
    try:
        fields = AuthorisationCreate.model_validate(body).model_dump(exclude={"machine", "site"})
    except ValidationError as err:
        return _page(request, typed=typed, errors=_field_errors(request, err))
    state = records(request)
    try:
        with state.transaction(who) as db:
            authorisations_repo.grant(db=db, who=who.name, now=state.now(), fields=fields)
    except RecordsError as err:
        return _page(request, typed=typed, errors=records_error(request, err, {}, "target"))
    return RedirectResponse(f"{PATH}?{urlencode({'done': 'granted', 'student': typed['student_id']})}", status_code=303)


@router.post(PATH + "/{authorisation_id}/revoke")
def revoke(request: Request, authorisation_id: int) -> Response:
    who = require(request, "admin")
    state = records(request)
    try:
        with state.transaction(who) as db:
            row = authorisations_repo.revoke(db=db, who=who.name, now=state.now(), authorisation_id=authorisation_id)
    except RecordsError as err:
        return _page(request, errors=records_error(request, err, {}, "revoke"))
    return RedirectResponse(f"{PATH}?{urlencode({'done': 'revoked', 'student': row.student_id})}", status_code=303)


@router.post(PATH + "/groups")
async def create_group(request: Request) -> Response:
    who = require(request, "admin")
    form = await read_fields(request)
    typed = {"group_name": (form.get("name") or [""])[0][:64], "machine_ids": form.get("machine_ids", [])[:500]}
    body = {"name": typed["group_name"], "regulated": "regulated" in form, "machine_ids": typed["machine_ids"]}
    body["site"] = (form.get("site") or [""])[0][:63] or None  # a master of several sites says which
    try:
        group = GroupCreate.model_validate(body)
    except ValidationError as err:
        return _page(request, typed=typed, errors={"group_name": err.errors()[0]["msg"]})
    state = records(request)
    try:
        with state.transaction(who) as db:
            authorisations_repo.create_group(db=db, who=who.name, now=state.now(), **group.model_dump())
    except RecordsError as err:
        return _page(request, typed=typed, errors=records_error(request, err, {}, "group_name"))
    return RedirectResponse(f"{PATH}?done=group", status_code=303)
