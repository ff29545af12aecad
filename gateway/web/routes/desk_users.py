"""``/desk/users``: a master creates logins (masters, viewers, students), disables them, resets a password,
and, as a master of several sites, grants a new login several and changes a login's sites.

The API's rules and audit (``UserCreate``, ``PasswordReset``, ``UserSitesSet``, ``auth.create_user``,
``auth.set_active``, ``auth.reset_password``, ``auth.set_user_sites``); hashing runs in the gateway's password
pool as ``/api/users`` does. A password typed is never sent back in a page. Sites are checkboxes named
``site:{site}`` (``read_form`` keeps one value per name).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway import auth
from gateway.errors import InvalidError, NotFoundError, RecordsError
from gateway.store import badges_repo, sites_repo, students_repo
from gateway.store.models import User
from gateway.web.auth_schemas import BadgeSet, PasswordReset, UserCreate, UserSitesSet
from gateway.web.desk_forms import kept, read_form, records_error, validation_errors
from gateway.web.pages import not_found, records, render, require, signed_in
from gateway.web.schemas import MAX_ID

router = APIRouter(include_in_schema=False)
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
FIELDS = ("username", "role", "student_id", "site")  # never the password
ERROR_FIELDS = {
    "username_taken": "username",
    "password_too_short": "password",
    "student_login_needs_student": "student_id",
    "admin_login_not_student": "student_id",
    "viewer_login_not_student": "student_id",
    "student_not_found": "student_id",
    "site_required": "site",
    "site_not_yours": "site",
    "user_sites_only_masters_viewers": "site",
}
DONE = ("created", "disabled", "enabled", "password", "badge", "sites")
SITE_BOX = "site:"  # a checkbox per site: ``site:lyon=1``


def _checked_sites(form: dict[str, str]) -> list[str]:
    return sorted(name.removeprefix(SITE_BOX) for name in form if name.startswith(SITE_BOX))


def _list_page(request: Request, values: dict[str, Any], errors: dict[str, str]) -> Response:
    with records(request).reading(signed_in(request)) as db:
        users = auth.users(db=db)
        sites = sites_repo.sites_of_users(db, users)
        students = students_repo.list_students(db=db)
    names = {s.id: students_repo.display_name(s) for s in students}
    done = request.query_params.get("done")
    context = {
        "users": [(u, names.get(u.student_id or 0, ""), sorted(sites[u.id])) for u in users],
        "students": [(s.id, f"{names[s.id]} ({s.class_name})") for s in students if s.active],
        "values": values,
        "errors": errors,
        "done": done if done in DONE else None,
    }
    return render(request, "desk_users.html", context, status_code=422 if errors else 200)


@router.get("/desk/users")
def users(request: Request) -> Response:
    require(request, "admin")
    return _list_page(request, {"role": "admin"}, {})


@router.post("/desk/users")
async def create_user(request: Request) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in ("username", "role")}
    data["password"] = form.get("password", "")
    data["student_id"] = form.get("student_id") or None
    data["sites"] = _checked_sites(form) or None  # a master of several says which
    try:
        body = UserCreate.model_validate(data)
    except ValidationError as err:
        return _list_page(request, _kept(form), validation_errors(request, err))
    state = records(request)

    def create() -> None:
        with state.transaction(who) as db:
            sites = auth.sites_to_grant(who, body.role, body.sites)
            auth.create_user(db=db, who=who.name, now=state.now(), **body.model_dump() | {"sites": sites})

    try:
        await state.passwords.run(create)
    except RecordsError as err:
        return _list_page(request, _kept(form), records_error(request, err, ERROR_FIELDS))
    return RedirectResponse("/desk/users?done=created", status_code=303)


def _kept(form: dict[str, str]) -> dict[str, Any]:
    return kept(form, FIELDS) | {"sites": _checked_sites(form)}


@router.post("/desk/users/{user_id}/sites")
async def set_sites(request: Request, user_id: UserId) -> Response:
    """Every site the login acts on from now on, as ``PUT /api/users/{id}/sites``: a site removed ends its logins."""
    who = require(request, "admin")
    form = await read_form(request)
    try:
        body = UserSitesSet.model_validate({"sites": _checked_sites(form)})
    except ValidationError:  # no box ticked (a hand-made form could send a bad name: the same answer)
        err = InvalidError("user_sites_empty")
        return _list_page(request, {"role": "admin"}, records_error(request, err, {}))
    state = records(request)
    try:
        with state.transaction(who) as db:
            auth.set_user_sites(db=db, who=who, now=state.now(), user_id=user_id, sites=body.sites)
    except NotFoundError:
        return not_found(request)
    except RecordsError as err:  # another's site, one's own login, a student's login
        return _list_page(request, {"role": "admin"}, records_error(request, err, {}))
    return RedirectResponse("/desk/users?done=sites", status_code=303)


@router.post("/desk/users/{user_id}/active")
async def set_active(request: Request, user_id: UserId) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    active = form.get("active") == "1"
    state = records(request)
    try:
        with state.transaction(who) as db:
            auth.set_active(db=db, who=who, now=state.now(), user_id=user_id, active=active)
    except NotFoundError:
        return not_found(request)
    except RecordsError as err:  # one's own login
        return _list_page(request, {"role": "admin"}, records_error(request, err, {}))
    return RedirectResponse(f"/desk/users?done={'enabled' if active else 'disabled'}", status_code=303)


@router.post("/desk/users/{user_id}/badge")
async def set_badge(request: Request, user_id: UserId) -> Response:
    """A master's badge, scanned into the field; empty takes it back. Never a student's or another master's."""
    who = require(request, "admin")
    form = await read_form(request)
    try:
        body = BadgeSet.model_validate({"badge": form.get("badge", "").strip() or None})
    except ValidationError as err:
        return _list_page(request, {"role": "admin"}, {"_form": next(iter(validation_errors(request, err).values()))})
    state = records(request)
    try:
        with state.transaction(who) as db:
            badges_repo.set_master_badge(db=db, who=who.name, now=state.now(), user_id=user_id, badge=body.badge)
    except NotFoundError:
        return not_found(request)
    except RecordsError as err:  # a badge taken, a login that is not a master's
        return _list_page(request, {"role": "admin"}, records_error(request, err, {}))
    return RedirectResponse("/desk/users?done=badge", status_code=303)


def _user(request: Request, user_id: int) -> User | None:
    with records(request).reading(signed_in(request)) as db:
        return next((u for u in auth.users(db=db) if u.id == user_id), None)


def _password_page(request: Request, user: User, errors: dict[str, str]) -> Response:
    status = 422 if errors else 200
    return render(request, "desk_user_password.html", {"user": user, "errors": errors}, status_code=status)


@router.get("/desk/users/{user_id}/password")
def password_form(request: Request, user_id: UserId) -> Response:
    require(request, "admin")
    user = _user(request, user_id)
    return not_found(request) if user is None else _password_page(request, user, {})


@router.post("/desk/users/{user_id}/password")
async def reset_password(request: Request, user_id: UserId) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    user = _user(request, user_id)
    if user is None:
        return not_found(request)
    try:
        body = PasswordReset.model_validate({"password": form.get("password", "")})
    except ValidationError as err:
        return _password_page(request, user, validation_errors(request, err))
    state = records(request)

    def reset() -> None:
        with state.transaction(who) as db:
            auth.reset_password(db=db, who=who.name, now=state.now(), user_id=user_id, password=body.password)

    try:
        await state.passwords.run(reset)
    except RecordsError as err:
        return _password_page(request, user, records_error(request, err, ERROR_FIELDS))
    return RedirectResponse("/desk/users?done=password", status_code=303)
