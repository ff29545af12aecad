"""A master grants and revokes a machine authorisation on the desk's page, as in a browser, checked through the API."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site, log_in, shot

NOE = {"first_name": "Noé", "last_initial": "P", "class_name": "CAP1", "track": "CAP", "badge": "B-NOE2"}


async def test_a_master_grants_and_revokes_an_authorisation_on_the_page(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in(page, site.base_url, "master", "master-pass")
    noe = await (await page.request.post(site.url("/api/students"), data=NOE)).json()
    await page.goto(site.url("/desk/authorisations"))
    form = page.locator("form[method=post][action='/desk/authorisations']")
    await form.locator("select[name=student_id]").select_option(str(noe["id"]))
    await form.locator("select[name=target]").select_option(label="lyon/lathe")
    await form.locator("input[name=training_on]").fill("2026-09-02")
    await form.locator("button[type=submit]").click()
    # No grant date: refused beside the field, and what was chosen is still chosen.
    assert await form.locator("#err-granted_on").is_visible()
    assert await form.locator("select[name=student_id]").input_value() == str(noe["id"])
    assert await form.locator("input[name=training_on]").input_value() == "2026-09-02"
    listed = await (await page.request.get(site.url(f"/api/authorisations?student_id={noe['id']}"))).json()
    assert listed == []
    await form.locator("input[name=granted_on]").fill("2026-09-01")
    await form.locator("input[name=medical_valid_until]").fill("2027-08-31")
    await form.locator("input[name=supervised_only]").check()
    await form.locator("button[type=submit]").click()
    await page.locator("p.message.ok").wait_for()
    listed = await (await page.request.get(site.url(f"/api/authorisations?student_id={noe['id']}"))).json()
    assert [(a["machine_id"], a["granted_on"], a["supervised_only"], a["granted_by"]) for a in listed] == [
        (site.seeded.ids["lathe"], "2026-09-01", True, "master")
    ]
    row = page.locator(f"tr[data-authorisation='{listed[0]['id']}']")
    assert "Noé P." in await row.inner_text()
    await assert_accessible(page, "desk authorisations")
    await shot(page, "desk-authorisations")
    await row.locator("button").click()
    await page.locator("p.message.ok").wait_for()
    listed = await (await page.request.get(site.url(f"/api/authorisations?student_id={noe['id']}"))).json()
    assert listed[0]["revoked_by"] == "master"


async def test_a_group_is_created_on_the_page(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in(page, site.base_url, "master", "master-pass")
    await page.goto(site.url("/desk/authorisations?lang=en"))
    form = page.locator("form[action='/desk/authorisations/groups']")
    await form.locator("input[name=name]").fill("Atelier")  # taken by the seed
    await form.locator("input[name=machine_ids]").first.check()
    await form.locator("button[type=submit]").click()
    assert "already called Atelier" in await form.locator("#err-group_name").inner_text()
    await assert_accessible(page, "desk authorisations, a refused group (en)")
    await form.locator("input[name=name]").fill("Tournage CN")
    await form.locator("button[type=submit]").click()
    await page.locator("p.message.ok").wait_for()
    groups = await (await page.request.get(site.url("/api/machine-groups"))).json()
    assert [(g["name"], g["regulated"], len(g["machine_ids"])) for g in groups] == [
        ("Atelier", True, 2),
        ("Tournage CN", True, 1),
    ]


async def test_only_masters_open_the_page(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    await log_in(page, site.base_url, "lea", "lea-pass-1")
    response = await page.goto(site.url("/desk/authorisations"))
    assert response is not None
    assert response.status == 403
    refused = await page.request.post(site.url("/desk/authorisations"), form={"student_id": "1"})
    assert refused.status == 403
