"""The kiosk in headless Chromium with operations: a student picks operation 20 of an order, the first part waits,
a master approves it with a badge at the kiosk, and the master's badge ends the session."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.gateway.browser.conftest import Site, log_in, shot
from tests.gateway.browser.test_kiosk import _badge, _kiosk


async def test_a_student_checks_in_on_operation_20_and_a_master_approves_the_first_part_by_badge(
    browser: Browser, site: Site
) -> None:
    master, kiosk = await _kiosk(browser, site)
    po1 = site.seeded.ids["po1"]
    made = await master.request.post(
        site.url(f"/api/orders/{po1}/operations"), data={"number": 20, "label": "Reprise", "programs": ["O2000"]}
    )
    assert made.status == 201, await made.text()
    users = await (await master.request.get(site.url("/api/users"))).json()
    me = next(u for u in users if u["username"] == "master")
    given = await master.request.put(site.url(f"/api/users/{me['id']}/badge"), data={"badge": "M-ROUX"})
    assert given.status == 200, await given.text()
    await kiosk.reload()
    option = kiosk.locator("#order option[data-operation='20']", has_text="PO-1")
    await kiosk.select_option("#order", label=await option.inner_text())
    assert await _badge(kiosk, "B-TOM") == "Séance commencée. Bon travail !"
    assert await kiosk.locator("#present-operation").inner_text() == "20"
    assert await kiosk.locator("#first-part-pending").is_visible()
    form = kiosk.locator("#first-part")
    await form.locator("input[name=measured]").fill("Ø20,01")
    await shot(kiosk, "kiosk-first-part-pending")
    await form.locator("input[name=badge]").fill("B-TOM")  # a student's badge does not approve
    await form.locator("input[name=badge]").press("Enter")
    await kiosk.locator("#message.shown").wait_for()
    assert (
        await kiosk.locator("#message").inner_text() == "Seul le badge d'un maître d'atelier valide un premier article."
    )
    await kiosk.evaluate("document.getElementById('message').className = 'message'")
    form = kiosk.locator("#first-part")
    assert await form.locator("input[name=measured]").input_value() == "Ø20,01"  # what was typed stays
    await form.locator("input[name=badge]").fill("M-ROUX")
    await form.locator("input[name=badge]").press("Enter")
    await kiosk.locator("#message.shown").wait_for()
    assert await kiosk.locator("#message").inner_text() == "Verdict du premier article enregistré."
    verdict = await kiosk.locator("#first-part-verdict").inner_text()
    assert verdict.startswith("Premier article validé · master · ")
    assert "Ø20,01" in verdict
    assert await kiosk.locator("#first-part-pending").count() == 0
    await kiosk.evaluate("document.getElementById('message').className = 'message'")
    assert await _badge(kiosk, "M-ROUX") == "Séance terminée. À bientôt !"  # a master's badge ends the session
    order_page = await browser.new_page()
    await log_in(order_page, site.base_url, "master", "master-pass")
    await order_page.goto(site.url(f"/orders/{po1}"))
    approvals = await order_page.locator("#first-parts tbody tr").all_inner_texts()
    assert len(approvals) == 1
    assert "Ø20,01" in approvals[0]
    assert "master" in approvals[0]
