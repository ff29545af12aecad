"""The IT page over the whole gateway and a real mosquitto: the health /healthz reports, the agent that announced
itself with its machine and last contact, and a refused message kept as a dead letter, its bytes shown as text."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import Browser

from gateway import auth
from gateway.store import db
from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import log_in
from tests.gateway.browser.desk_tools import shots
from tests.gateway.conftest import RunningGateway
from tests.gateway.helpers import AGENT, MACHINE, SITE, Publisher, birth, count, state, until

pytestmark = pytest.mark.browser
HOSTILE = b'{"schema": 1, "agent": "<img src=x onerror=alert(1)>"'


def _master(gateway: RunningGateway) -> None:
    engine = db.make_engine(gateway.settings.database.url)
    try:
        with db.session_factory(engine).begin() as s:
            now = datetime.now(UTC)
            auth.create_user(
                db=s,
                who="t",
                now=now,
                username="master",
                password="master-pass",
                role="admin",
                student_id=None,
                sites=[SITE],  # made before any machine reports: the store knows no site yet
            )
    finally:
        engine.dispose()


async def test_the_it_page_shows_health_agents_and_dead_letters(
    gateway: RunningGateway, publisher: Publisher, browser: Browser
) -> None:
    _master(gateway)
    publisher.send(birth(), retain=True)
    publisher.send(state(1), retain=True)
    publisher.raw(f"atelier/v1/{SITE}/{MACHINE}/event", HOSTILE)
    await until(lambda: count(gateway.db_path, "dead_letters") == 1, what="the dead letter")
    await until(lambda: count(gateway.db_path, "machines") == 1, what="the machine")

    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, gateway.base_url, "master", "master-pass")
    await page.goto(gateway.base_url + "/desk")
    async with page.expect_navigation():
        await page.click("a[href='/desk/it']")

    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        healthz = (await client.get("/healthz")).json()
    assert healthz["status"] == "ok"
    assert await page.locator("#health-summary").inner_text() == "Tout fonctionne."
    for name, check in healthz["checks"].items():
        row = page.locator(f"tr[data-check='{name}']")
        assert check["detail"] in await row.inner_text()
        assert await row.locator(".flag").inner_text() == ("OK" if check["ok"] else "EN PANNE")

    agent = page.locator(f"tr[data-agent='{AGENT}']")
    text = await agent.inner_text()
    assert SITE in text
    assert "en ligne" in text
    assert MACHINE in text
    assert "0.1.0" in text

    dead = page.locator("table.dead tbody tr")
    assert await dead.count() == 1
    assert f"atelier/v1/{SITE}/{MACHINE}/event" in await dead.inner_text()
    assert await dead.locator("code.payload").inner_text() == HOSTILE.decode()  # text, never markup
    assert await page.locator("table.dead img").count() == 0
    await assert_accessible(page, "IT page")
    await shots(page, "it")

    # The same page in English.
    await page.goto(gateway.base_url + "/desk/it?lang=en")
    assert await page.locator("#health-summary").inner_text() == "Everything works."
