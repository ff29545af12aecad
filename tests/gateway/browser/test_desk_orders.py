"""Customers and orders from the master's desk, in Chromium as a master does it, checked through the API.

Each refusal is said next to its field and keeps what was typed; a save redirects to a page
that says so; close and cancel are buttons on the order's page; another site's POST is refused.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.gateway.browser.conftest import Site
from tests.gateway.browser.desk_look import api, look
from tests.gateway.browser.desk_tools import master_page

pytestmark = pytest.mark.browser
PARIS = ZoneInfo("Europe/Paris")


async def submit(page: Page, form: str) -> int:
    async with page.expect_navigation() as navigation:
        await page.click(f"{form} button[type=submit]")
    response = await navigation.value
    assert response is not None
    return response.status


async def test_a_master_creates_and_edits_a_customer(browser: Browser, site: Site) -> None:
    page = await master_page(browser, site)
    await page.goto(site.url("/desk"))
    await page.click("a[href='/desk/customers']")
    await look(page, "customers")
    await page.click("a[href='/desk/customers/new']")
    await page.fill("#f-name", "Acme")  # the seeded customer's name
    await page.fill("#f-contact", "achats@dupont.example")
    assert await submit(page, "#customer-form") == 422
    assert "existe déjà" in await page.inner_text("#e-name")
    assert await page.input_value("#f-contact") == "achats@dupont.example"  # nothing typed is lost
    assert await page.get_attribute("#f-name", "aria-invalid") == "true"
    await look(page, "customer-form")
    await page.fill("#f-name", "Dupont Mécanique")
    assert await submit(page, "#customer-form") == 200
    assert page.url.endswith("/desk/customers?done=customer_created")
    assert await page.inner_text(".notice") == "Client créé."
    async with api(site) as client:
        found = {c["name"]: c for c in (await client.get("/api/customers")).json()}
        assert found["Dupont Mécanique"]["contact"] == "achats@dupont.example"
        dupont = found["Dupont Mécanique"]["id"]
    await page.click(f"tr[data-customer='{dupont}'] a")
    await page.fill("#f-contact", "M. Dupont, 04 78 00 00 00")
    assert await submit(page, "#customer-form") == 200
    assert await page.inner_text(".notice") == "Client enregistré."
    async with api(site) as client:
        assert (await client.get(f"/api/customers/{dupont}")).json()["contact"] == "M. Dupont, 04 78 00 00 00"


async def test_a_master_creates_edits_closes_and_cancels_orders(browser: Browser, site: Site) -> None:
    ids = site.seeded.ids
    page = await master_page(browser, site)
    await page.goto(site.url("/desk/orders/new?lang=en"))
    await look(page, "order-form-en")
    await page.goto(site.url("/desk/orders/new?lang=fr"))
    await page.select_option("#f-customer_id", str(ids["customer"]))
    await page.fill("#f-reference", "PO-1")  # Acme has a PO-1 already
    await page.fill("#f-part_number", "BRIDE-A12")
    await page.fill("#f-drawing_revision", "C")
    await page.fill("#f-quantity", "0")
    await page.fill("#f-due", "2031-03-14T16:30")
    await page.fill("#f-standard_cycle_s", "4:3x")
    await page.fill("#f-programs", "BRIDE_A12.MPF\nBRIDE_A12_OP2.MPF\n")
    assert await submit(page, "#order-form") == 422
    assert await page.inner_text("#e-quantity") == "Au moins 1."
    assert await page.inner_text("#e-standard_cycle_s") == "Une durée : secondes, ou m:ss."
    assert await page.input_value("#f-reference") == "PO-1"
    assert await page.input_value("#f-due") == "2031-03-14T16:30"
    assert await page.input_value("#f-programs") == "BRIDE_A12.MPF\nBRIDE_A12_OP2.MPF\n"
    await look(page, "order-form-errors")
    await page.fill("#f-quantity", "50")
    await page.fill("#f-standard_cycle_s", "4:30")
    assert await submit(page, "#order-form") == 422  # now the store speaks: the reference is taken
    assert "a déjà une commande PO-1" in await page.inner_text("#e-reference")
    await page.fill("#f-reference", "PO-77")
    assert await submit(page, "#order-form") == 200
    assert "/orders/" in page.url
    assert await page.inner_text(".notice") == "Commande créée."
    order_id = int(page.url.split("/orders/")[1].split("?")[0])
    async with api(site) as client:
        made = (await client.get(f"/api/orders/{order_id}")).json()
    assert (made["reference"], made["part_number"], made["drawing_revision"]) == ("PO-77", "BRIDE-A12", "C")
    assert (made["quantity"], made["standard_cycle_s"], made["status"]) == (50, 270.0, "open")
    assert made["programs"] == ["BRIDE_A12.MPF", "BRIDE_A12_OP2.MPF"]
    assert datetime.fromisoformat(made["due"]) == datetime(2031, 3, 14, 16, 30, tzinfo=PARIS)
    await look(page, "order-actions")

    await page.click(f"a[href='/desk/orders/{order_id}/edit']")
    assert await page.input_value("#f-standard_cycle_s") == "270"
    await page.fill("#f-quantity", "60")
    await page.fill("#f-standard_cycle_s", "")  # no standard any more
    assert await submit(page, "#order-form") == 200
    assert await page.inner_text(".notice") == "Commande enregistrée."
    await page.click("#close-order")
    await page.wait_for_selector(".notice")
    assert await page.inner_text(".notice") == "Commande clôturée."
    await page.goto(site.url(f"/orders/{ids['po2']}"))
    async with page.expect_navigation():
        await page.click("#cancel-order")
    assert await page.inner_text(".notice") == "Commande annulée."
    async with api(site) as client:
        edited = (await client.get(f"/api/orders/{order_id}")).json()
        cancelled = (await client.get(f"/api/orders/{ids['po2']}")).json()
    assert (edited["quantity"], edited["standard_cycle_s"], edited["status"]) == (60, None, "done")
    assert cancelled["status"] == "cancelled"


async def test_another_site_cannot_post_a_desk_form(browser: Browser, site: Site) -> None:
    """A foreign page's form reaches the desk without the login (SameSite=Lax); a request from another
    origin with the login (a sibling host of the same site) is refused by its Origin."""
    page = await master_page(browser, site)
    evil = "http://evil.example/"
    form = (
        f'<form method="post" action="{site.url("/desk/customers/new")}">'
        '<input name="name" value="Pirate"><button type="submit">go</button></form>'
    )
    await page.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body=form))
    await page.goto(evil)
    async with page.expect_navigation():
        await page.click("button")
    assert "/login" in page.url  # the browser did not send the master's login with it
    cookie = {c["name"]: c["value"] for c in await page.context.cookies()}["atelier_session"]
    async with httpx.AsyncClient(base_url=site.base_url, cookies={"atelier_session": cookie}) as client:
        for headers in ({"Origin": "http://other.school.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = await client.post("/desk/customers/new", data={"name": "Pirate"}, headers=headers)
            assert refused.status_code == 403, headers
        same = await client.post("/desk/customers/new", data={"name": "Legit"}, headers={"Origin": site.base_url})
        assert same.status_code == 303
    async with api(site) as client:
        names = {c["name"] for c in (await client.get("/api/customers")).json()}
    assert "Pirate" not in names
    assert "Legit" in names
