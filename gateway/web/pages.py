"""What the server-rendered pages share: language, who is looking, the school's time zone, rendering.

A page that needs a login redirects to ``/login``; one the account may not open
renders a 403 page (never a traceback, never JSON).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.auth import Principal
from gateway.web.formats import decimal, hours_minutes
from gateway.web.guards import credentials, current
from gateway.web.header import header
from gateway.web.i18n import LABELS, LANG_COOKIE, labels_for, lang_of
from gateway.web.page_labels import page_labels
from gateway.web.records_state import RecordsState


class LoginNeeded(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, path: str) -> None:
        self.path = path


class Forbidden(Exception):  # noqa: N818
    pass


class PageNotFound(Exception):  # noqa: N818 - a page names a record or a site the reader has not
    pass


def records(request: Request) -> RecordsState:
    state: RecordsState = request.app.state.records
    return state


def who_is(request: Request) -> Principal | None:
    """The signed-in principal, or None; no credentials means no database read."""
    if credentials(request) is None:
        return None
    return current(request, records(request))


def signed_in(request: Request) -> Principal:
    """Whose sites a page's reads are restricted to: the principal ``require`` found (resolved again if need be).

    Only pages behind a login use it; nobody signed in is sent to the login page, never shown every site.
    """
    found: Principal | None = getattr(request.state, "who", None) or who_is(request)
    if found is None:
        raise LoginNeeded(request.url.path)
    return found


def require(request: Request, *roles: str) -> Principal:
    who = who_is(request)
    if who is None:
        raise LoginNeeded(request.url.path)
    if who.role not in roles:
        raise Forbidden
    return who


def zone(request: Request) -> tzinfo:
    return records(request).settings.zone()


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    lang = lang_of(request)
    tz = zone(request)
    who = who_is(request)
    base = {
        "lang": lang,
        "L": page_labels(lang),
        "labels": labels_for(lang),
        "who": who,
        "head": header(request, who, records(request), tuple(LABELS)),
        "local": lambda ts, fmt="%d/%m/%Y %H:%M": _local(ts, tz, fmt),
        "zone": tz,
        "dur": duration,
        "hm": hours,
        "pct": percent,
        "dec": lambda value, digits=2: "—" if value is None else decimal(value, digits, lang),
    }
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
    if request.query_params.get("lang") in LABELS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _local(ts: datetime | None, tz: tzinfo, fmt: str) -> str:
    if ts is None:
        return "—"
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime(fmt)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(max(0.0, seconds))
    h, rest = divmod(s, 3600)
    m, r = divmod(rest, 60)
    return f"{h}:{m:02d}:{r:02d}" if h else f"{m}:{r:02d}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def hours(seconds: float | None) -> str:
    """A duration in hours as h:mm, the workshop's way: 3 minutes is 0:03, 87 h 18 min is 87:18."""
    return "—" if seconds is None else hours_minutes(seconds)


def install(app: FastAPI, routers: Iterable[Any]) -> None:
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(LoginNeeded, _to_login)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(PageNotFound, _not_found)


async def _to_login(request: Request, exc: Exception) -> Response:
    path = exc.path if isinstance(exc, LoginNeeded) else "/"
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", {"kind": "forbidden"}, status_code=403)


async def _not_found(request: Request, exc: Exception) -> Response:
    return not_found(request)


def not_found(request: Request) -> HTMLResponse:
    return render(request, "error.html", {"kind": "not_found"}, status_code=404)
