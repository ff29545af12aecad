"""``include_records(app, ...)``: mounts the records API (orders, students, sessions, scrap, reports, logins).

The records side works in the gateway's ``Database`` (the schema is migrated before
the app serves); one the app was given to own (``Database.at(url)``) is closed when
the app shuts down. The gateway's coded errors become one HTTP status each, with
their code, parameters and a message in the caller's language (``error_response``);
a store that does not answer is a 503 (``Database`` raises ``BusyError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.config import RecordsSection
from gateway.errors import BusyError, RecordsError, ThrottledError
from gateway.password_work import Busy
from gateway.store.db import Database
from gateway.web.guards import machine_state_reader
from gateway.web.i18n import lang_of
from gateway.web.login_flow import Throttled
from gateway.web.records_state import RecordsState, utc_now
from gateway.web.routes import (
    auth,
    authorisations,
    calendars,
    competences,
    customers,
    machine_moves,
    operations,
    orders,
    reports,
    scrap,
    sessions,
    stops,
    students,
)

BUSY_RETRY_S = 2
# For the routers of machine state (``/api/machines``, the status page and its WebSocket): admin and viewer,
# or anyone when ``records.open_status_screen`` is set.
MACHINE_STATE_GUARD: list[Any] = [Depends(machine_state_reader)]


def include_records(
    app: FastAPI,
    *,
    database: Database,
    settings: RecordsSection | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Mount the records routers on ``app``, working in ``database`` (the gateway's: ``Database(engine)``;
    for an app of its own, ``Database.at(url)``, opened on first use and closed at shutdown)."""
    state = RecordsState(database=database, settings=settings or RecordsSection(), clock=clock)
    app.state.records = state
    for router in (
        auth.router,
        auth.users_router,
        auth.tokens_router,
        customers.router,
        calendars.router,
        stops.router,
        stops.reasons_router,
        orders.router,
        operations.router,
        operations.approvals_router,
        students.router,
        sessions.router,
        sessions.cycles_router,
        scrap.router,
        reports.router,
        reports.retention_router,
        machine_moves.router,
        authorisations.groups_router,
        authorisations.router,
        authorisations.duty_router,
        competences.router,
        competences.students_router,
    ):
        app.include_router(router)
    app.add_exception_handler(RecordsError, _records_error)
    app.add_exception_handler(Throttled, _throttled)
    app.add_exception_handler(Busy, _busy)
    _close_on_shutdown(app, state)


# Whose requests may read students' names in an error message: a master, and the kiosk where the
# student stands (its page shows who is checked in anyway).
NAME_READERS = ("admin", "kiosk")


async def _records_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RecordsError)
    return error_response(request, exc)


def error_response(request: Request, exc: RecordsError, *, retry_after_s: int = 1) -> JSONResponse:
    """``{"detail": {"code", "params", "message"}}``, the message in the caller's language and time zone."""
    state: RecordsState = request.app.state.records
    who = getattr(request.state, "who", None)
    names = who is not None and who.role in NAME_READERS
    message = exc.message(lang=lang_of(request), zone=state.settings.zone(), names=names)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if isinstance(exc, ThrottledError):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif exc.status == 503:
        headers["Retry-After"] = str(retry_after_s)
    detail = {"code": exc.code, "params": exc.public_params(), "message": message}
    return JSONResponse({"detail": detail}, status_code=exc.status, headers=headers)


async def _throttled(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Throttled)
    return error_response(request, ThrottledError("too_many_logins", retry_after_s=exc.retry_after_s))


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    return error_response(request, BusyError("password_work_busy"), retry_after_s=BUSY_RETRY_S)


def _close_on_shutdown(app: FastAPI, state: RecordsState) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(owner: Any) -> AsyncIterator[Any]:
        try:
            async with inner(owner) as lifespan_state:
                yield lifespan_state
        finally:
            state.close()

    app.router.lifespan_context = lifespan
