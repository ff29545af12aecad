"""A master issues a kiosk token in Chromium, prints its set-up sheet, a tablet opens the sheet's link and lands on
its machine's kiosk; revoked, the same tablet is signed out. Results read back through the API; pages scanned by axe."""

from __future__ import annotations

import pytest
import segno
from playwright.async_api import Browser

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site, log_in
from tests.gateway.browser.desk_tools import assert_no_csp_refusal, cross_site_post, master_api, master_page, shots

pytestmark = pytest.mark.browser


async def _tokens(site: Site) -> dict[str, dict[str, object]]:
    async with master_api(site) as api:
        answer = await api.get("/api/tokens")
        assert answer.status_code == 200, answer.text
        return {t["label"]: t for t in answer.json()}


async def test_a_master_issues_a_kiosk_token_whose_sheet_sets_up_the_tablet_then_revokes_it(
    browser: Browser, site: Site
) -> None:
    page = await master_page(browser, site)
    await page.goto(site.url("/desk"))
    async with page.expect_navigation():
        await page.click("a[href='/desk/screens']")
    assert await page.locator("table.tokens tbody tr").count() == 2  # the seeded mill tablet and TV
    await assert_accessible(page, "screens")

    # A kiosk needs its machine: said next to the machine, the name kept.
    await page.select_option("#f-role", "kiosk")
    await page.fill("#f-label", "Tablette tour")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("#e-machine").inner_text() == "Un jeton de poste doit indiquer sa machine."
    assert await page.input_value("#f-label") == "Tablette tour"
    assert "Tablette tour" not in await _tokens(site)
    await assert_accessible(page, "screens with an error")
    await shots(page, "screens")

    await page.select_option("#f-machine", label="lathe")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    issued = (await _tokens(site))["Tablette tour"]
    assert (issued["role"], issued["machine_id"], issued["revoked"]) == ("kiosk", site.seeded.ids["lathe"], None)
    assert page.url.endswith(f"/desk/screens/{issued['id']}/sheet")
    link = (await page.locator("code.link").inner_text()).strip()
    assert link.startswith(site.url("/api/auth/screen?token=atk_"))
    # The QR code carries exactly that link (segno draws the same symbol for the same text).
    expected = segno.make(link, error="m").svg_data_uri(scale=6, border=4, dark="#000", light="#fff")
    assert await page.get_attribute("img.qr", "src") == expected
    await assert_accessible(page, "set-up sheet")
    await shots(page, "screen-sheet")
    await page.reload()
    assert (await page.locator("code.link").inner_text()).strip() == link  # a reload prints it again

    # The tablet scans the link: it lands on its machine's kiosk, signed in.
    tablet = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await tablet.goto(link)
    assert "/kiosk/lathe" in tablet.url

    await page.goto(site.url("/desk/screens"))
    async with page.expect_navigation():
        await page.click(f"tr[data-token='{issued['id']}'] form button")
    assert await page.locator("p.message.ok").inner_text() == "Jeton révoqué : l'écran est déconnecté."
    assert (await _tokens(site))["Tablette tour"]["revoked"] is not None
    await tablet.reload()
    assert "/login" in tablet.url
    await page.goto(site.url(f"/desk/screens/{issued['id']}/sheet"))
    assert await page.locator("code.link").count() == 0  # a revoked token's link is not shown again
    assert_no_csp_refusal(page)


async def test_a_sheet_shows_the_link_only_to_the_master_who_issued_it(browser: Browser, site: Site) -> None:
    async with master_api(site) as api:
        created = await api.post("/api/users", json={"username": "other", "password": "other-pass", "role": "admin"})
        assert created.status_code == 201, created.text
    page = await master_page(browser, site)
    await page.goto(site.url("/desk/screens"))
    await page.select_option("#f-role", "viewer")
    await page.fill("#f-label", "Mur atelier")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    sheet = page.url
    assert await page.locator("code.link").count() == 1
    other = await (await browser.new_context()).new_page()
    await log_in(other, site.base_url, "other", "other-pass")
    await other.goto(sheet)
    assert await other.locator("code.link").count() == 0
    assert "émission" in await other.locator("p.error").inner_text()


async def test_a_token_form_posted_from_another_origin_is_refused(site: Site) -> None:
    answer = await cross_site_post(site, "/desk/screens", {"role": "viewer", "label": "Evil", "valid_days": "3"})
    assert answer.status_code == 403
    assert "Evil" not in await _tokens(site)
    refused = await cross_site_post(site, f"/desk/screens/{(await _tokens(site))['TV']['id']}/revoke", {})
    assert refused.status_code == 403
    assert (await _tokens(site))["TV"]["revoked"] is None
