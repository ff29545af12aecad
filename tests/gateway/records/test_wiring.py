"""The records API inside the gateway's own app, and the guard on machine state (/api/machines, status page)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from gateway.config import DatabaseSection, GatewaySection, GatewaySettings, RecordsSection
from gateway.live import LiveView
from gateway.store.db import Database
from gateway.web.app import STATIC, create_app
from gateway.web.records_api import MACHINE_STATE_GUARD, include_records
from gateway.web.routes import machines, status
from gateway.web.services import Services
from tests.gateway.records.conftest import Clock, World, at, client_for


async def test_create_app_serves_the_records(engine: Engine, databases: dict[str, str], backend: str) -> None:
    settings = GatewaySettings(gateway=GatewaySection(id="t"), database=DatabaseSection(url=databases[backend]))
    app = create_app(settings, Services(live=LiveView()))
    async with client_for(app) as client:
        assert (await client.get("/api/customers")).status_code == 401
        assert (await client.get("/api/machines")).status_code == 200  # open status screen by default
        login = await client.post("/api/auth/login", json={"username": "nobody", "password": "whatever1"})
        assert login.status_code == 401  # reached the database: the records tables are there
    assert "/api/orders/{order_id}/progress" in app.openapi()["paths"]
    app.state.records.close()


def _closed_screen_app(engine: Engine) -> FastAPI:
    app = FastAPI()
    app.state.services = Services(live=LiveView())
    app.state.templates = status.make_templates()
    app.include_router(machines.router, dependencies=MACHINE_STATE_GUARD)
    app.include_router(status.router, dependencies=MACHINE_STATE_GUARD)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    include_records(
        app,
        database=Database(engine),
        settings=RecordsSection(timezone="UTC", open_status_screen=False),
        clock=Clock(at(0)),
    )
    return app


async def test_a_closed_status_screen_is_for_admin_and_viewer_only(world: World, engine: Engine) -> None:
    async with client_for(_closed_screen_app(engine)) as client:
        for path in ("/api/machines", "/"):
            assert (await client.get(path)).status_code == 401
            for role, expected in (("admin", 200), ("viewer", 200), ("kiosk", 403), ("student", 403)):
                response = await client.get(path, headers=world.as_(role))
                assert response.status_code == expected, (path, role, response.text)
