"""Gateway fixtures: an in-process gateway (``serve``) against the real broker and a SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atelier.broker import Broker, free_port
from gateway.app import serve
from gateway.config import GatewaySettings
from plumbing import tomlconfig
from tests.gateway.helpers import Publisher, gateway_toml
from tests.gateway.victoria import VictoriaMetrics


class RunningGateway:
    def __init__(self, settings: GatewaySettings, db_path: Path, task: asyncio.Task[None], stop: asyncio.Event) -> None:
        self.settings = settings
        self.db_path = db_path
        self.task = task
        self.stop = stop

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http.port}"


@pytest.fixture
def make_settings(broker: Broker, tmp_path: Path) -> Callable[..., GatewaySettings]:
    def build(**ingest: Any) -> GatewaySettings:
        text = gateway_toml(broker, tmp_path / "gateway.db", http_port=free_port(), **ingest)
        path = tmp_path / "gateway.toml"
        path.write_text(text)
        return tomlconfig.load(path, GatewaySettings)

    return build


async def _start(settings: GatewaySettings, db_path: Path) -> RunningGateway:
    import httpx

    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if task.done():
                task.result()
            try:
                health = await client.get(f"http://127.0.0.1:{settings.http.port}/api/health")
                if health.json()["subscribed"]:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.025)
        else:
            raise AssertionError("the gateway did not subscribe within 15 s")
    return RunningGateway(settings, db_path, task, stop)


@pytest.fixture
async def gateway(make_settings: Callable[..., GatewaySettings], tmp_path: Path) -> AsyncIterator[RunningGateway]:
    running = await _start(make_settings(), tmp_path / "gateway.db")
    try:
        yield running
    finally:
        running.stop.set()
        await asyncio.wait_for(running.task, 20)


@pytest.fixture
async def gateway_factory(tmp_path: Path) -> AsyncIterator[Callable[[GatewaySettings], Any]]:
    started: list[RunningGateway] = []

    async def start(settings: GatewaySettings) -> RunningGateway:
        running = await _start(settings, tmp_path / "gateway.db")
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop.set()
        await asyncio.wait_for(running.task, 20)


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    pub = Publisher(broker)
    try:
        yield pub
    finally:
        pub.close()


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "vm")
    server.start()
    try:
        yield server
    finally:
        server.stop()
