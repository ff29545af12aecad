"""The practice log's period form in headless Chromium: the dates and the customer checkbox drive the page, its
PDF and CSV links; a period the wrong way round is refused on the page with its reason."""

from __future__ import annotations

import io

import pytest
from playwright.async_api import Browser
from pypdf import PdfReader

from tests.gateway.browser.conftest import Site, log_in

pytestmark = pytest.mark.browser


async def test_a_student_chooses_a_period_and_hides_the_customers(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await log_in(page, site.base_url, "lea", "lea-pass-1")
    assert await page.locator("#sessions tbody tr").count() == 2  # the whole log by default
    assert (await page.locator("#period-text").inner_text()).startswith("Période du ")
    assert await page.locator("a[href$='practice-log.csv']").count() == 1

    # A period with nothing in it yet, customers hidden.
    await page.fill("#p-from", "2099-01-01")
    await page.fill("#p-to", "2099-01-31")
    await page.check("#p-hide")
    async with page.expect_navigation():
        await page.click("#log-period button[type=submit]")
    assert "from=2099-01-01" in page.url
    assert "customer=hide" in page.url
    assert await page.locator("#period-text").inner_text() == "Période du 01/01/2099 au 31/01/2099"
    assert await page.locator("#sessions tbody tr").count() == 0
    assert await page.locator("#p-hide").is_checked()
    pdf_href = str(await page.locator("#pdf-link").get_attribute("href"))
    csv_href = str(await page.locator("#csv-link").get_attribute("href"))
    for href in (pdf_href, csv_href):
        assert "from=2099-01-01" in href
        assert "to=2099-01-31" in href
        assert "customer=hide" in href
    pdf = await page.request.get(site.url(pdf_href))
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.body())).pages)
    assert "Période du 01/01/2099 au 31/01/2099" in " ".join(text.split())
    sheet = await page.request.get(site.url(csv_href))
    assert len((await sheet.text()).strip().splitlines()) == 1  # the header alone

    # The wrong way round: refused on the page, with the form to correct it.
    await page.fill("#p-from", "2099-02-01")
    async with page.expect_navigation() as navigation:
        await page.click("#log-period button[type=submit]")
    response = await navigation.value
    assert response is not None
    assert response.status == 422
    assert "avant de finir" in await page.locator("#period-error").inner_text()
    assert await page.locator("#sessions").count() == 0
    assert await page.locator("#p-from").input_value() == "2099-02-01"

    # Back to the whole log.
    await page.goto(site.url(f"/students/{site.seeded.ids['lea']}/log"))
    assert await page.locator("#sessions tbody tr").count() == 2
