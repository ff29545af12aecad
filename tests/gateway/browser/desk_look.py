"""How the desk's browser tests look at a page: at the three sizes of the issue, with the accessibility scan.

At each size the page must not scroll sideways; with ATELIER_SCREENSHOTS set, each size is
photographed as ``desk-{name}-{size}.png``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from playwright.async_api import Page

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site, shot

DESK_SIZES = {"1920x1080": (1920, 1080), "1280x800": (1280, 800), "800x1280": (800, 1280)}


async def look(page: Page, name: str) -> None:
    """Every size fits without sideways scrolling, a picture of each, and no serious accessibility violation."""
    before = page.viewport_size
    for size, (width, height) in DESK_SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        scroll = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert scroll[0] <= scroll[1], f"{name} at {size} scrolls sideways: {scroll}"
        await shot(page, f"desk-{name}-{size}")
    if before is not None:
        await page.set_viewport_size(before)
    await assert_accessible(page, name)


@asynccontextmanager
async def api(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the records API signed in as the master, to check what the pages did."""
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        login = await client.post("/api/auth/login", json={"username": "master", "password": "master-pass"})
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        client.cookies.clear()
        yield client
