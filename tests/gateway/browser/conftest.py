"""Browser fixtures: Debian's Chromium driven by Playwright (never downloaded), and a gateway over a seeded store.

``site`` serves the real app with uvicorn on a loopback port over a migrated SQLite
file seeded with users, students, orders, sessions and cycles (``seed.py``); the live
tests use the ``gateway`` fixture (the whole gateway over a real mosquitto).
Screenshots are written only when ``ATELIER_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, async_playwright

from atelier.broker import free_port
from gateway import auth
from gateway.config import DatabaseSection, GatewaySection, GatewaySettings, RecordsSection
from gateway.live import LiveView
from gateway.store import db
from gateway.store.db import Database
from gateway.web.app import create_app
from gateway.web.services import Services
from tests.gateway.browser.seed import Seeded, seed, wall_of_machines

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True, scope="session")
def _fast_hashing() -> Iterator[None]:
    # The same argon2id, at a cost sized for a test run instead of for an attacker.
    saved = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = saved


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - one stat before starting a browser
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test-deps installs it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("ATELIER_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


@dataclass
class Site:
    base_url: str
    seeded: Seeded
    live: LiveView

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    seeded = seed(sessions)
    live = LiveView()
    live.load(wall_of_machines(30))
    settings = GatewaySettings(
        gateway=GatewaySection(id="pages"),
        database=DatabaseSection(url=url),
        records=RecordsSection(timezone="Europe/Paris"),
    )
    app = create_app(settings, Services(live=live, database=Database(engine)))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started, "uvicorn did not start"
    try:
        yield Site(f"http://127.0.0.1:{port}", seeded, live)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        engine.dispose()


async def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    await page.goto(base_url + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
