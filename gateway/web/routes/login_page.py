"""``/login`` and ``/logout`` for masters and students: a plain form, the session in an HttpOnly cookie."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway import auth
from gateway.web.guards import COOKIE, credentials
from gateway.web.pages import records, render

router = APIRouter(include_in_schema=False)
MAX_FORM = 4096


def _safe_next(target: str | None, role: str | None = None, student_id: int | None = None) -> str:
    # Only a path on this gateway: "//evil.example" or a full URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    if role == "student" and student_id is not None:
        return f"/students/{student_id}/log"
    return "/orders" if role == "admin" else "/"


@router.get("/login")
def login_form(request: Request) -> Response:
    return render(
        request, "login.html", {"next": request.query_params.get("next", ""), "failed": False, "username": ""}
    )


@router.post("/login")
async def login_submit(request: Request) -> Response:
    body = (await request.body())[:MAX_FORM].decode("utf-8", errors="replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    username, password = form.get("username", "")[:200], form.get("password", "")[:200]
    state = records(request)
    with state.transaction() as session:
        found = auth.login(
            session=session, username=username, password=password, now=state.now(), hours=state.settings.login_hours
        )
        if found is not None:
            role, student_id = found[1].role, found[1].student_id
    if found is None:
        # The user name stays in the field for a second try; the password never comes back.
        context = {"next": form.get("next", ""), "failed": True, "username": username}
        return render(request, "login.html", context, status_code=401)
    response = RedirectResponse(_safe_next(form.get("next"), role, student_id), status_code=303)
    response.set_cookie(
        COOKIE,
        found[0],
        max_age=int(state.settings.login_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
    )
    return response


@router.get("/logout")
@router.post("/logout")
def logout(request: Request) -> Response:
    token = credentials(request)
    if token is not None and token.startswith(auth.SESSION_PREFIX):
        with records(request).transaction() as session:
            auth.logout(session=session, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
