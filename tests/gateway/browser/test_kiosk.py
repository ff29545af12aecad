"""The kiosk page in headless Chromium: badge in and out, French messages, one request per click, fresh state."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import Browser, Page, Route

from tests.gateway.browser.conftest import Site, log_in, shot


async def _kiosk(browser: Browser, site: Site) -> tuple[Page, Page]:
    master = await browser.new_page()
    await log_in(master, site.base_url, "master", "master-pass")
    made = await master.request.post(
        site.url("/api/tokens"), data={"role": "kiosk", "label": "lathe kiosk", "machine": "lathe"}
    )
    assert made.status == 201, await made.text()
    kiosk = await browser.new_page(viewport={"width": 1280, "height": 800})
    await kiosk.goto(site.url(f"/api/auth/screen?token={(await made.json())['token']}"))
    await kiosk.goto(site.url("/kiosk/lathe"))
    await kiosk.evaluate("window.notReloaded = true")
    return master, kiosk


async def _badge(kiosk: Page, badge: str) -> str:
    await kiosk.locator("#badge").fill(badge)
    await kiosk.locator("#badge").press("Enter")
    await kiosk.locator("#message.shown").wait_for()
    text = await kiosk.locator("#message").inner_text()
    await kiosk.evaluate("document.getElementById('message').className = 'message'")
    return text


async def test_the_kiosk_speaks_french_names_the_order_and_keeps_its_message(browser: Browser, site: Site) -> None:
    _, kiosk = await _kiosk(browser, site)
    unknown = await _badge(kiosk, "B-NOBODY")
    assert unknown == "Badge B-NOBODY inconnu : demandez à un maître d'atelier de l'enregistrer."
    busy = await _badge(kiosk, "B-INES")  # Inès is at the mill
    assert busy.startswith("Inès B. est déjà en poste sur mill depuis le ")
    assert "session" not in busy
    assert "UTC" not in busy
    await kiosk.select_option("#order", label=await kiosk.locator("#order option", has_text="PO-1").inner_text())
    assert await _badge(kiosk, "B-TOM") == "Séance commencée. Bon travail !"
    assert await kiosk.locator("#present").inner_text() == "Tom R."
    assert await kiosk.locator("#present-order").inner_text() == "PO-1"
    await shot(kiosk, "kiosk-checked-in")
    assert await _badge(kiosk, "B-LEA") == "Ce badge n'est pas celui de l'élève en poste sur lathe."
    assert await _badge(kiosk, "B-TOM") == "Séance terminée. À bientôt !"
    assert await kiosk.locator("#present").inner_text() == "Personne en poste."
    assert await kiosk.evaluate("window.notReloaded") is True  # refreshed from the server, not reloaded


async def test_a_double_click_on_declare_sends_one_request_and_declares_once(browser: Browser, site: Site) -> None:
    master, kiosk = await _kiosk(browser, site)
    sent: list[dict[str, Any]] = []

    async def slow(route: Route) -> None:
        body = route.request.post_data_json
        assert isinstance(body, dict)
        sent.append(body)
        await asyncio.sleep(0.5)  # a slow network: the button must stay disabled meanwhile
        await route.continue_()

    await kiosk.route("**/api/scrap", slow)
    form = kiosk.locator("#scrap")
    await form.locator("select[name=order_id]").select_option(str(site.seeded.ids["po1"]))
    await form.locator("input[name=quantity]").fill("3")
    await form.locator("input[name=reason]").fill("bavure")
    await form.locator("input[name=inspected_by]").fill("M. Roux")
    await form.locator("button").click()
    assert await form.locator("button").is_disabled()
    await form.locator("button").click(force=True)
    await kiosk.locator("#message.shown").wait_for()
    assert await kiosk.locator("#message").inner_text() == "Rebut déclaré."
    assert len(sent) == 1
    assert len(sent[0]["idempotency_key"]) == 32
    # The same request sent again (a retry after a lost answer) declares nothing more.
    again = await kiosk.request.post(site.url("/api/scrap"), data=sent[0])
    assert again.status == 200
    declared = await master.request.get(site.url(f"/api/scrap?order_id={site.seeded.ids['po1']}"))
    assert [s["quantity"] for s in await declared.json()].count(3) == 1
    assert await kiosk.locator("#scrap button").is_enabled()


async def test_a_badge_scanned_while_the_kiosk_reads_its_state_again_is_not_lost(browser: Browser, site: Site) -> None:
    _, kiosk = await _kiosk(browser, site)
    refreshes: list[str] = []

    async def slow_refresh(route: Route) -> None:
        refreshes.append(route.request.url)
        await asyncio.sleep(0.8)  # a slow network: the next student scans before the fresh state is in
        await route.continue_()

    await kiosk.route("**/kiosk/lathe*", slow_refresh)
    await kiosk.locator("#badge").fill("B-TOM")
    await kiosk.locator("#badge").press("Enter")
    await kiosk.wait_for_function("() => document.querySelector('#checkin').dataset.busy === 'yes'")
    await asyncio.sleep(0.3)  # the check-in is answered; the page is reading its state again
    await kiosk.locator("#badge").fill("B-TOM")  # Tom at once badges out again (a scan the old page took)
    await kiosk.locator("#badge").press("Enter")
    await kiosk.locator("#message.shown", has_text="Séance terminée").wait_for(timeout=15_000)
    assert await kiosk.locator("#present").inner_text() == "Personne en poste."
    assert len(refreshes) == 2  # one fresh state after each action, no reload


async def test_a_student_without_an_authorisation_is_refused_and_nothing_is_recorded(
    browser: Browser, site: Site
) -> None:
    master, kiosk = await _kiosk(browser, site)
    noe = {"first_name": "Noé", "last_initial": "P", "class_name": "CAP1", "track": "CAP", "badge": "B-NOE"}
    made = await master.request.post(site.url("/api/students"), data=noe)
    assert made.status == 201, await made.text()
    noe_id = (await made.json())["id"]
    refused = await _badge(kiosk, "B-NOE")
    assert (
        refused
        == "Noé P. ne peut pas utiliser lathe : aucune habilitation sur cette machine. Voyez un maître d'atelier."
    )
    assert await kiosk.locator("#present").inner_text() == "Personne en poste."
    sessions = await (await master.request.get(site.url("/api/sessions"))).json()
    assert [s for s in sessions if s["student_id"] == noe_id] == []
    grant = {"student_id": noe_id, "machine": "lathe", "granted_on": "2026-01-05", "training_on": "2026-01-05"}
    grant["medical_valid_until"] = "2099-12-31"
    assert (await master.request.post(site.url("/api/authorisations"), data=grant)).status == 201
    assert await _badge(kiosk, "B-NOE") == "Séance commencée. Bon travail !"
    assert await _badge(kiosk, "B-NOE") == "Séance terminée. À bientôt !"
