"""Work sessions from the master's desk, in Chromium: end a forgotten session, correct one's times and order.

The refusals are the store's (an end before the start, an overlap on the machine), said next to the
field with what was typed kept; the result is read back through the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser

from tests.gateway.browser.conftest import Site
from tests.gateway.browser.desk_look import api, look
from tests.gateway.browser.desk_tools import master_page
from tests.gateway.browser.test_desk_orders import submit

pytestmark = pytest.mark.browser
PARIS = ZoneInfo("Europe/Paris")


def typed(ts: datetime) -> str:
    return ts.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


async def test_a_master_ends_a_forgotten_session(browser: Browser, site: Site) -> None:
    page = await master_page(browser, site)
    async with api(site) as client:
        (ines,) = (await client.get("/api/sessions", params={"open_only": "true"})).json()
    assert ines["student_id"] == site.seeded.ids["ines"]
    await page.goto(site.url("/desk/sessions"))
    await look(page, "sessions")
    field = f"#end-{ines['id']}"
    default = await page.input_value(field)  # now, to the minute
    await page.fill(field, typed(site.seeded.monday))  # before she checked in
    async with page.expect_navigation() as navigation:
        await page.click(f"tr[data-session='{ines['id']}'] button")
    assert (await navigation.value).status == 422
    assert await page.inner_text("#e-ended") == "Une séance doit finir après son début."
    assert await page.get_attribute(field, "aria-invalid") == "true"
    assert await page.input_value(field) == typed(site.seeded.monday)  # what was typed stays
    await page.fill(field, default)
    async with page.expect_navigation():
        await page.click(f"tr[data-session='{ines['id']}'] button")
    assert await page.inner_text(".notice") == "Séance terminée."
    async with api(site) as client:
        assert (await client.get("/api/sessions", params={"open_only": "true"})).json() == []
        ended = {s["id"]: s for s in (await client.get("/api/sessions")).json()}[ines["id"]]
    assert ended["closed_by"] is None  # a correction, not a check-out: the audit log says who
    assert datetime.fromisoformat(ended["ended"]) >= datetime.fromisoformat(ended["started"])
    assert datetime.fromisoformat(ended["ended"]) - datetime.fromisoformat(ended["started"]) < timedelta(minutes=2)


async def test_a_master_corrects_a_session(browser: Browser, site: Site) -> None:
    ids, monday = site.seeded.ids, site.seeded.monday
    page = await master_page(browser, site)
    async with api(site) as client:
        (tom,) = (await client.get("/api/sessions", params={"student_id": ids["tom"]})).json()
    await page.goto(site.url("/desk/sessions"))
    await page.click(f"#sessions tr[data-session='{tom['id']}'] a")
    assert await page.input_value("#f-started") == typed(monday + timedelta(days=1, hours=2))
    await page.fill("#f-started", typed(monday + timedelta(minutes=30)))  # into Léa's Monday on the mill
    await page.select_option("#f-order_id", "")  # practice
    assert await submit(page, "#session-form") == 409
    assert "chevauche celle de Léa M." in await page.inner_text("#e-started")
    assert await page.input_value("#f-order_id") == ""  # kept as chosen
    await look(page, "session-form")
    await page.fill("#f-started", typed(monday + timedelta(days=1, hours=1, minutes=45)))
    assert await submit(page, "#session-form") == 200
    assert await page.inner_text(".notice") == "Séance corrigée."
    async with api(site) as client:
        (fixed,) = (await client.get("/api/sessions", params={"student_id": ids["tom"]})).json()
    assert datetime.fromisoformat(fixed["started"]) == monday + timedelta(days=1, hours=1, minutes=45)
    assert fixed["ended"] == tom["ended"]  # left as shown: unchanged, to the second
    assert fixed["order_id"] is None
    assert fixed["student_id"] == ids["tom"]
