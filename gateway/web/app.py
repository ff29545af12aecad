"""``create_app(settings, services)``: nothing is built at import time; the lifespan runs ingest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from atelier import __version__
from gateway.config import GatewaySettings
from gateway.web.pages import install
from gateway.web.records_api import MACHINE_STATE_GUARD, include_records
from gateway.web.routes import (
    health,
    kiosk_page,
    login_page,
    machines,
    metrics,
    order_pages,
    status,
    student_pages,
    utilisation_page,
)
from gateway.web.services import Services

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: GatewaySettings, services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sink_stop = asyncio.Event()
        # Started first and stopped last, so that it gets the points of the batches committed on the way out.
        sink_task = None if services.influx is None else asyncio.create_task(_run_sink(services, sink_stop))
        try:
            if services.ingest is not None:
                await services.ingest.start()
            try:
                yield
            finally:
                if services.ingest is not None:
                    await services.ingest.stop()
        finally:
            sink_stop.set()
            if sink_task is not None:
                await sink_task

    app = FastAPI(title="Atelier gateway", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.services = services
    app.state.templates = status.make_templates()
    app.include_router(machines.router, dependencies=MACHINE_STATE_GUARD)
    app.include_router(health.router)
    app.include_router(health.probe_router)
    app.include_router(metrics.router)
    app.include_router(status.router, dependencies=MACHINE_STATE_GUARD)
    include_records(app, database_url=settings.database.url, settings=settings.records)
    pages = (login_page, kiosk_page, order_pages, student_pages, utilisation_page)
    install(app, [page.router for page in pages])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _run_sink(services: Services, stop: asyncio.Event) -> None:
    assert services.influx is not None
    try:
        await services.influx.run(stop)
    except Exception:
        # Telemetry is optional: the gateway goes on recording without it, and /healthz says so.
        logger.exception("the influx sink stopped")
