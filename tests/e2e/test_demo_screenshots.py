"""The README's first pictures: the demo's school at work, photographed in Chromium as its master sees it.

``atelier demo``'s system with its school (``demo_system(school=True)``), five times faster than the demo so
that a morning's worth of work shows in a minute: once orders have good parts and several students have
cycles in their logs, the master logs in with the password only the seeding knows and opens the wall, the
order board, the busiest student's practice log and the utilisation report. Each page is checked to show
that work (so a picture of an empty school fails the test) and, with ATELIER_SCREENSHOTS=docs/screenshots,
saved as ``demo-{page}.png`` at 1366×768, the size of the workshop's wall.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize

from atelier.broker import free_port
from atelier.demo import DemoSystem, demo_system
from tests.gateway.browser import conftest as pages
from tests.gateway.browser.conftest import log_in, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = pages.browser  # headless Debian Chromium, as the page tests launch it
PACE = 0.2
WALL = ViewportSize(width=1366, height=768)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoSystem]:
    with demo_system(port=free_port(), data_dir=tmp_path / "demo", pace=PACE, school=True) as system:
        yield system


async def get(page: Page, base: str, path: str) -> Any:
    response = await page.request.get(base + path)
    assert response.ok, f"{path}: {response.status}"
    return await response.json()


async def at_work(page: Page, base: str, within_s: float = 150) -> dict[int, int]:
    """Wait for orders with good parts and half the students with cycles; each student's cycles, by id."""
    deadline = time.monotonic() + within_s
    while True:
        orders = await get(page, base, "/api/orders")
        good = [(await get(page, base, f"/api/orders/{o['id']}/progress"))["good"] for o in orders]
        logs = {
            s["id"]: (await get(page, base, f"/api/students/{s['id']}/practice-log"))["cycles"]
            for s in await get(page, base, "/api/students")
        }
        if max(good) > 0 and sum(c > 0 for c in logs.values()) >= len(logs) / 2:
            return logs
        assert time.monotonic() < deadline, f"no school at work after {within_s} s: {good}, {logs}"
        await asyncio.sleep(2)


async def test_the_readme_pictures_show_the_demo_school_at_work(demo: DemoSystem, browser: Browser) -> None:
    assert demo.school is not None
    assert demo.school.password is not None  # a fresh data folder: the login was created, its password known once
    page = await (await browser.new_context(viewport=WALL)).new_page()
    await log_in(page, demo.url, demo.school.master, demo.school.password)
    logs = await at_work(page, demo.url)

    await page.goto(demo.url + "/")
    await page.locator("article.tile .work a.student-link").first.wait_for()  # a student at a machine, by name
    assert await page.locator("article.tile").count() == 5
    await shot(page, "demo-wall")

    await page.goto(demo.url + "/orders")
    good = [int(t) for t in await page.locator("tbody td.good").all_inner_texts()]
    assert len(good) == 5
    assert max(good) > 0
    await shot(page, "demo-orders")

    busiest = max(logs, key=lambda sid: logs[sid])
    await page.goto(f"{demo.url}/students/{busiest}/log")
    assert int(await page.locator("#t-cycles").inner_text()) > 0
    await shot(page, "demo-practice-log")

    await page.goto(demo.url + "/utilisation")
    running = await page.locator("td.running").all_inner_texts()
    assert len(running) == 5
    await shot(page, "demo-utilisation")
