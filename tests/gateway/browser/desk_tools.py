"""What the desk's browser tests share: a master's page, the API as the same master, screenshots at three sizes."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from playwright.async_api import Browser, ConsoleMessage, Page

from tests.gateway.browser.conftest import Site, log_in, shot

SHOT_SIZES = {"1920x1080": (1920, 1080), "1280x800": (1280, 800), "800x1280": (800, 1280)}


_CSP_REFUSALS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


async def master_page(browser: Browser, site: Site) -> Page:
    """A master's page at 1280×800, watched for anything the CSP refuses (``assert_no_csp_refusal``)."""
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    refused = _CSP_REFUSALS.setdefault(page, [])

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", watch)
    await log_in(page, site.base_url, "master", "master-pass")
    return page


def assert_no_csp_refusal(page: Page) -> None:
    """Nothing the page loaded (desk.js, the QR code's data URI, styles) was refused by the CSP."""
    assert _CSP_REFUSALS.get(page) == [], _CSP_REFUSALS.get(page)


@asynccontextmanager
async def master_api(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """The records API with the master's own login, to check what a page did."""
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        login = await client.post("/api/auth/login", json={"username": "master", "password": "master-pass"})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        client.cookies.clear()  # the Bearer token alone: what the API sees is what a script would send
        yield client


async def shots(page: Page, name: str) -> None:
    """At each size the page never scrolls sideways; ``desk-{name}-{size}.png`` is written when ATELIER_SCREENSHOTS
    names a folder. Back to 1280×800 after."""
    for size, (width, height) in SHOT_SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        await shot(page, f"desk-{name}-{size}")  # before the check: a failing layout leaves its picture
        scroll = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert scroll[0] <= scroll[1], f"{name} at {size} scrolls sideways: {scroll}"
    await page.set_viewport_size({"width": 1280, "height": 800})


async def cross_site_post(site: Site, path: str, data: dict[str, str]) -> httpx.Response:
    """A form posted with the master's login cookie from a page of another origin, as a browser would send it."""
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        login = await client.post("/login", data={"username": "master", "password": "master-pass"})
        assert login.status_code == 303, login.text
        return await client.post(path, data=data, headers={"Origin": "http://evil.example:8000"})
