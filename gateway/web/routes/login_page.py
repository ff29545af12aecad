"""``/login`` and ``/logout`` for masters and students: a plain form, the login in an HttpOnly cookie."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway import auth
from gateway.password_work import Busy
from gateway.web.guards import COOKIE, credentials
from gateway.web.login_flow import Throttled, log_in, set_login_cookies
from gateway.web.pages import records, render
from gateway.web.records_api import BUSY_RETRY_S

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
    # The body limit (gateway.web.body_limit) has already refused anything much larger than a form.
    body = (await request.body())[:MAX_FORM].decode("utf-8", errors="replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    username, password = form.get("username", "")[:200], form.get("password", "")[:200]
    state = records(request)
    # The user name stays in the field for a second try; the password never comes back.
    again = {"next": form.get("next", ""), "username": username}
    try:
        done = await log_in(request, state, username, password)
    except Throttled as refused:
        headers = {"Retry-After": str(refused.retry_after_s)}
        page = render(request, "login.html", {**again, "retry_after": refused.retry_after_s}, status_code=429)
        page.headers.update(headers)
        return page
    except Busy:
        page = render(request, "login.html", {**again, "busy": True}, status_code=503)
        page.headers["Retry-After"] = str(BUSY_RETRY_S)
        return page
    if done is None:
        return render(request, "login.html", {**again, "failed": True}, status_code=401)
    response = RedirectResponse(_safe_next(form.get("next"), done.user.role, done.user.student_id), status_code=303)
    set_login_cookies(response, request, state, done)
    return response


@router.get("/logout")
@router.post("/logout")
def logout(request: Request) -> Response:
    token = credentials(request)
    if token is not None and token.startswith(auth.LOGIN_PREFIX):
        with records(request).transaction(None) as db:  # ending a login: no records
            auth.logout(db=db, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
