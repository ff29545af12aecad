"""The records API inside the gateway's own app, and the guard on machine state (/api/machines, status page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Connection, Engine, event, text

from atelier.broker import free_port
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


async def test_the_gateway_opens_one_engine_for_ingest_health_and_records(
    make_settings: Callable[..., GatewaySettings], gateway_factory: Callable[[GatewaySettings], Any]
) -> None:
    # Every connection any engine of this process opens, by the pool it came from: the running gateway's
    # ingest, start-up, health probe and records API must all draw on the one pool of the one engine.
    pools: set[int] = set()

    def seen(connection: Connection) -> None:
        pools.add(id(connection.engine.pool))

    event.listen(Engine, "engine_connect", seen)
    try:
        running = await gateway_factory(make_settings())
        async with httpx.AsyncClient(base_url=running.base_url) as client:
            login = await client.post("/api/auth/login", json={"username": "nobody", "password": "whatever1"})
            assert login.status_code == 401  # the records API read the users table
            assert (await client.get("/healthz")).json()["checks"]["database"]["ok"]
            assert "atelier_gateway_dead_letters_stored" in (await client.get("/metrics")).text
    finally:
        event.remove(Engine, "engine_connect", seen)
    assert len(pools) == 1, pools


async def test_the_records_work_in_the_database_they_are_given_and_leave_its_engine_open(engine: Engine) -> None:
    database = Database(engine)
    app = create_app(GatewaySettings(gateway=GatewaySection(id="t")), Services(live=LiveView(), database=database))
    assert app.state.records.database is database
    async with client_for(app) as client:
        login = await client.post("/api/auth/login", json={"username": "nobody", "password": "whatever1"})
        assert login.status_code == 401
    app.state.records.close()  # what the app's shutdown does
    with database.reading() as db:  # the gateway's engine is the gateway's to close
        assert db.execute(text("SELECT 1")).scalar() == 1


async def test_a_store_that_does_not_answer_is_a_503_to_retry_with_a_message() -> None:
    # A PostgreSQL URL on a port where nothing listens: a real connection refused.
    database = Database.at(f"postgresql+psycopg://atelier@127.0.0.1:{free_port()}/atelier")
    app = FastAPI()
    include_records(app, database=database, settings=RecordsSection(timezone="UTC"))
    try:
        async with client_for(app) as client:
            pages = {"Authorization": "Bearer ats_a-token-the-guard-must-look-up"}
            answers = [
                await client.get("/api/customers", headers=pages),
                await client.post("/api/auth/login", json={"username": "nobody", "password": "whatever1"}),
            ]
    finally:
        database.close()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["detail"]["code"] == "database_busy"
        assert "Traceback" not in answer.text
