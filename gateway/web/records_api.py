"""``include_records(app, ...)``: mounts the records API (orders, students, sessions, scrap, reports, logins).

The records side opens its own engine on the gateway's database on first use (the
schema is migrated before the app serves) and disposes of it when the app shuts down.
Errors of the records side become one HTTP status each, with their message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from gateway.records_errors import ConflictError, InvalidError, NotFoundError, RecordsError
from gateway.records_settings import RecordsSection
from gateway.web.guards import machine_state_reader
from gateway.web.records_state import RecordsState, utc_now
from gateway.web.routes import auth, customers, machine_moves, orders, reports, scrap, sessions, students

_STATUS = {NotFoundError: 404, ConflictError: 409, InvalidError: 422}
# For the routers of machine state (``/api/machines``, the status page and its WebSocket): admin and viewer,
# or anyone when ``records.open_status_screen`` is set.
MACHINE_STATE_GUARD: list[Any] = [Depends(machine_state_reader)]


def include_records(
    app: FastAPI,
    *,
    database_url: str | None = None,
    engine: Engine | None = None,
    settings: RecordsSection | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Mount the records routers on ``app``; the database as a URL (opened on first use, closed at shutdown)
    or as an engine the caller owns."""
    state = RecordsState(settings=settings or RecordsSection(), clock=clock, engine=engine, database_url=database_url)
    app.state.records = state
    for router in (
        auth.router,
        auth.users_router,
        auth.tokens_router,
        customers.router,
        orders.router,
        students.router,
        sessions.router,
        sessions.cycles_router,
        scrap.router,
        reports.router,
        reports.retention_router,
        machine_moves.router,
    ):
        app.include_router(router)
    app.add_exception_handler(RecordsError, _records_error)
    _close_on_shutdown(app, state)


async def _records_error(request: Request, exc: Exception) -> JSONResponse:
    code = next((c for kind, c in _STATUS.items() if isinstance(exc, kind)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=code)


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
