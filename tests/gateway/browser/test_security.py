"""The real pages in headless Chromium under their security headers: no CSP violation, hostile names stay text,
and the status WebSocket refuses a foreign page."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from playwright.async_api import Browser, ConsoleMessage
from pypdf import PdfReader

from tests.gateway.browser.conftest import Site, log_in


def _png(path: Path) -> None:
    """A 1x1 image reportlab would happily embed if a name were read as markup."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def server_image() -> Iterator[Path]:
    # A short path: a first name holds 64 characters at most.
    handle, name = tempfile.mkstemp(prefix="atl", suffix=".png", dir="/tmp")
    os.close(handle)
    path = Path(name)
    _png(path)
    yield path
    path.unlink(missing_ok=True)


async def _admin(site: Site) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        login = await client.post("/api/auth/login", json={"username": "master", "password": "master-pass"})
        return {"Authorization": f"Bearer {login.json()['token']}"}


async def test_every_page_runs_under_the_csp_without_a_violation(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    await log_in(page, site.base_url, "master", "master-pass")
    ids = site.seeded.ids
    for path in ("/", "/orders", f"/orders/{ids['po1']}", f"/students/{ids['lea']}/log", "/utilisation", "/docs"):
        response = await page.goto(site.url(path))
        assert response is not None
        assert response.status == 200, path
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"].replace("style-src-attr 'unsafe-inline'", "")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store", path
        await page.wait_for_load_state("networkidle")
    # The status page's script ran (its WebSocket filled the wall) under script-src 'self'.
    await page.goto(site.url("/"))
    await page.wait_for_selector(".tile", timeout=10_000)
    assert violations == []


async def test_hostile_names_are_text_in_the_page_and_the_pdf(browser: Browser, site: Site, server_image: Path) -> None:
    admin = await _admin(site)
    ids = site.seeded.ids
    hostile = {"lea": "<b>x", "tom": f'<img src="{server_image}"/>'}
    async with httpx.AsyncClient(base_url=site.base_url, headers=admin) as client:
        for key, name in hostile.items():
            changed = await client.patch(f"/api/students/{ids[key]}", json={"first_name": name})
            assert changed.status_code == 200, changed.text
        for key, name in hostile.items():
            pdf = await client.get(f"/students/{ids[key]}/log.pdf")
            assert pdf.status_code == 200, pdf.text
            reader = PdfReader(io.BytesIO(pdf.content))
            text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
            assert name in text
            for number, pdf_page in enumerate(reader.pages):
                resources = pdf_page.get("/Resources") or {}
                assert "/XObject" not in resources, f"page {number + 1} embeds an image"
    page = await browser.new_page()
    await log_in(page, site.base_url, "master", "master-pass")
    await page.goto(site.url(f"/students/{ids['lea']}/log"))
    assert await page.locator("main b").count() == 0
    assert "<b>x" in await page.locator("main").inner_text()
    await page.goto(site.url(f"/students/{ids['tom']}/log"))
    assert await page.locator("main img").count() == 0
    assert hostile["tom"] in await page.locator("main").inner_text()


async def test_the_status_websocket_refuses_a_foreign_origin(site: Site) -> None:
    url = site.base_url.replace("http://", "ws://") + "/ws/status"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(url, origin=websockets.Origin("http://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(url, origin=websockets.Origin(site.base_url)) as own:
        assert "machines" in await own.recv()
    async with websockets.connect(url) as no_origin:  # not a browser: nothing of anyone's to ride on
        assert "machines" in await no_origin.recv()
