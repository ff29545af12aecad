"""``records.open_status_screen`` on a gateway holding machines of several sites: ``true`` opens the one school's
screen (unchanged for a school) and none on a pool of schools; a list opens those sites'; a signed-in reader
sees their own sites whatever the setting. The same rule on /api/machines and the wall's WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import Engine
from websockets.asyncio.client import connect

from atelier.broker import free_port
from gateway.config import GatewaySection, GatewaySettings, HttpSection, RecordsSection
from gateway.live import LiveView, MachineView
from gateway.store.db import Database
from gateway.web.app import STATIC
from gateway.web.records_api import MACHINE_STATE_GUARD, include_records
from gateway.web.routes import machines, status
from gateway.web.services import Services
from tests.gateway.records.conftest import Clock, World, at, client_for
from tests.gateway.test_web_security import served

LYON = [MachineView("lyon", "mill", agent="pc-mill"), MachineView("lyon", "lathe", agent="pc-lathe")]
PARIS = [MachineView("paris", "drill", agent="pc-drill")]


def _app(engine: Engine, setting: bool | list[str], views: list[MachineView]) -> FastAPI:
    app = FastAPI()
    app.state.settings = GatewaySettings(gateway=GatewaySection(id="t"))
    live = LiveView()
    live.load(views)
    app.state.services = Services(live=live, database=Database(engine))
    app.state.templates = status.make_templates()
    app.include_router(machines.router, dependencies=MACHINE_STATE_GUARD)
    app.include_router(status.router, dependencies=MACHINE_STATE_GUARD)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    settings = RecordsSection.model_validate({"timezone": "UTC", "open_status_screen": setting})
    include_records(app, database=Database(engine), settings=settings, clock=Clock(at(0)))
    return app


async def _seen(app: FastAPI, headers: dict[str, str] | None = None) -> list[str] | int:
    async with client_for(app) as client:
        response = await client.get("/api/machines", headers=headers or {})
    if response.status_code != 200:
        return response.status_code
    return sorted(f"{m['site']}/{m['id']}" for m in response.json())


@pytest.mark.parametrize(
    ("setting", "views", "anonymous"),
    [
        (True, LYON, ["lyon/lathe", "lyon/mill"]),  # one school: as it always was
        (True, LYON + PARIS, []),  # a pool of schools: no one school to open
        (["paris"], LYON + PARIS, ["paris/drill"]),
        (["paris", "lyon"], LYON + PARIS, ["lyon/lathe", "lyon/mill", "paris/drill"]),
        (False, LYON, 401),
    ],
)
async def test_anyone_reads_the_opened_sites_machines_only(
    world: World, engine: Engine, setting: Any, views: list[MachineView], anonymous: Any
) -> None:
    app = _app(engine, setting, views)
    assert await _seen(app) == anonymous
    # A master of lyon sees lyon's, whatever is open to anyone.
    assert await _seen(app, world.as_("admin")) == sorted(f"lyon/{v.machine}" for v in views if v.site == "lyon")
    async with client_for(app) as client:
        drill = await client.get("/api/machines/paris/drill")
    expected = 200 if isinstance(anonymous, list) and "paris/drill" in anonymous else (401 if anonymous == 401 else 404)
    assert drill.status_code == expected, drill.text


async def test_the_wall_s_socket_sends_anyone_the_opened_sites_only(world: World, engine: Engine) -> None:
    async def first(setting: Any, headers: dict[str, str] | None = None) -> list[str]:
        http = HttpSection(port=free_port())
        async with served(_app(engine, setting, LYON + PARIS), http):
            url = f"ws://127.0.0.1:{http.port}/ws/status"
            async with connect(url, additional_headers=headers or {}) as socket:
                message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
        return sorted(f"{m['site']}/{m['id']}" for m in message["machines"])

    assert await first(["paris"]) == ["paris/drill"]
    assert await first(True) == []
    assert await first(True, world.as_("admin")) == ["lyon/lathe", "lyon/mill"]


@pytest.mark.parametrize("bad", [[], ["+"], ["Lyon"], "lyon", 1, [1]])
def test_open_status_screen_takes_true_false_or_site_ids(bad: Any) -> None:
    with pytest.raises(ValidationError, match="open_status_screen"):
        RecordsSection.model_validate({"open_status_screen": bad})
