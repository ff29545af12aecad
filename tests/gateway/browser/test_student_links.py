"""Where a student appears, a master follows a link to their practice log; screens that may not open it get none."""

from __future__ import annotations

import io

import pytest
from playwright.async_api import Browser
from pypdf import PdfReader

from tests.gateway.browser.conftest import Site, log_in

pytestmark = pytest.mark.browser


def log_of(site: Site, key: str) -> str:
    return f"/students/{site.seeded.ids[key]}/log"


async def test_a_master_follows_a_student_from_the_order_the_kiosk_and_the_wall(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    await log_in(page, site.base_url, "master", "master-pass")
    await page.goto(site.url(f"/orders/{site.seeded.ids['po1']}"))
    links = await page.locator("#students a.student-link").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert links == [log_of(site, k) for k in ("ines", "lea", "tom")]  # by name: Inès B., Léa M., Tom R.
    assert await page.locator("#cycles a.student-link").count() == 12
    await page.locator("#students a:has-text('Tom R.')").click()
    await page.wait_for_url(site.url(log_of(site, "tom")))
    # Two cycles make no trend; the page says how many more it waits for.
    assert await page.locator("#t-trend").inner_text() == "pas assez de cycles pour une tendance (2/10)"
    assert await page.locator("#t-hours").inner_text() == "0:30"
    pdf = await page.request.get(site.url(log_of(site, "tom") + ".pdf"))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.body())).pages).split())
    for expected in ("Heures 0:30", "Heures de coupe 0:10", "pas assez de cycles pour une tendance (2/10)"):
        assert expected in text, (expected, text)
    assert "0:30 2 2" in text  # the session's length as h:mm, then its cycles and parts
    await page.goto(site.url("/kiosk/mill?site=lyon"))
    assert await page.locator("#present a").get_attribute("href") == log_of(site, "ines")
    await page.goto(site.url("/"))
    tile_link = page.locator("article[data-machine='mill'] .work a")
    await tile_link.wait_for(timeout=10_000)
    assert (await tile_link.get_attribute("href"), await tile_link.inner_text()) == (log_of(site, "ines"), "Inès B.")


async def test_screens_that_may_not_open_a_log_show_no_link(browser: Browser, site: Site) -> None:
    tv = await browser.new_page(viewport={"width": 1366, "height": 768})
    await tv.goto(site.url(f"/api/auth/screen?token={site.seeded.tokens['viewer']}"))
    await tv.locator("article[data-machine='mill'] .work:has-text('Inès B.')").wait_for(timeout=10_000)
    assert await tv.locator("article .work a").count() == 0  # a viewer screen names, never links
    await tv.goto(site.url(f"/orders/{site.seeded.ids['po1']}"))
    assert "Léa M." in await tv.locator("#students").inner_text()
    assert await tv.locator("a.student-link").count() == 0
    assert (await tv.request.get(site.url(log_of(site, "lea")), max_redirects=0)).status == 403
    kiosk = await browser.new_page()
    await kiosk.goto(site.url(f"/api/auth/screen?token={site.seeded.tokens['kiosk']}"))
    assert await kiosk.locator("#present").inner_text() == "Inès B."
    assert await kiosk.locator("#present a").count() == 0
