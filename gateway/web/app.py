"""``create_app(settings, services)``: nothing is built at import time; the lifespan runs ingest."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from gateway.config import GatewaySettings
from gateway.store.db import Database
from gateway.web.body_limit import BodyLimit
from gateway.web.pages import install
from gateway.web.records_api import MACHINE_STATE_GUARD, include_records
from gateway.web.routes import (
    api_docs,
    calendar_page,
    competence_pages,
    desk_alarms,
    desk_authorisations,
    desk_customers,
    desk_cycles,
    desk_it,
    desk_orders,
    desk_page,
    desk_screens,
    desk_sessions,
    desk_student_import,
    desk_students,
    desk_users,
    health,
    kiosk_page,
    login_page,
    machines,
    metrics,
    network_page,
    order_pages,
    status,
    student_pages,
    utilisation_page,
)
from gateway.web.screen_handoff import ScreenHandoff
from gateway.web.security_headers import SecurityHeaders
from gateway.web.services import Services
from plumbing import __version__

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# The desk's people pages; the import before the students, whose /desk/students/{id} would take "import".
DESK_PEOPLE = (desk_student_import, desk_students, desk_screens, desk_users, desk_it)
# The desk's work pages: customers, orders, work sessions, cycles without a student, alarm history.
DESK_WORK = (desk_customers, desk_orders, desk_sessions, desk_cycles, desk_alarms)


def create_app(settings: GatewaySettings, services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sink_stop = asyncio.Event()
        # Started first and stopped last, so that it gets the points of the batches committed on the way out.
        sink_task = None if services.influx is None else asyncio.create_task(_run_sink(services, sink_stop))
        try:
            if services.ingest is not None:
                await services.ingest.start()
            # What a started gateway holds lives as long as it does: frozen, a full collection no longer walks
            # it. Pages leave cyclic garbage that such a collection clears now and then, in the middle of a
            # request (a three-year practice log: p95 227 ms with, 109 ms without the walk). Unfrozen at the
            # stop: an app made and stopped in a process that goes on (tests) leaves nothing frozen behind.
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                if services.ingest is not None:
                    await services.ingest.stop()
        finally:
            sink_stop.set()
            if sink_task is not None:
                await sink_task

    # The API's documentation is served by api_docs, to masters only, with nothing from a CDN.
    app = FastAPI(
        title="Atelier gateway",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.templates = status.make_templates()
    app.state.screen_handoff = ScreenHandoff()  # a just-issued screen link, for its set-up sheet
    app.include_router(machines.router, dependencies=MACHINE_STATE_GUARD)
    app.include_router(health.router)
    app.include_router(health.probe_router)
    app.include_router(metrics.router)
    app.include_router(status.router, dependencies=MACHINE_STATE_GUARD)
    # The gateway's own Database when it runs one; an app serving pages only opens its own on first use.
    database = services.database or Database.at(settings.database.url)
    include_records(app, database=database, settings=settings.records)
    pages = [login_page, kiosk_page, desk_page, *DESK_PEOPLE, *DESK_WORK, order_pages, student_pages, utilisation_page]
    pages += [calendar_page, desk_authorisations, competence_pages, api_docs, network_page]
    install(app, [page.router for page in pages])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _protect(app, settings)
    return app


def _protect(app: FastAPI, settings: GatewaySettings) -> None:
    """The middlewares every request goes through; the last added runs first."""
    http = settings.http
    app.add_middleware(BodyLimit, default=http.max_body_kib * 1024, imports=http.max_import_kib * 1024)
    if http.allowed_hosts is not None:  # against DNS rebinding: a page of another name reaching this gateway
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=http.allowed_hosts)
    app.add_middleware(SecurityHeaders)


async def _run_sink(services: Services, stop: asyncio.Event) -> None:
    assert services.influx is not None
    try:
        await services.influx.run(stop)
    except Exception:
        # Telemetry is optional: the gateway goes on recording without it, and /healthz says so.
        logger.exception("the influx sink stopped")
