"""A stop classified with one tap at the kiosk, in headless Chromium, appears on the utilisation report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser

from gateway.store import db
from tests.gateway.browser.conftest import Site, log_in, shot
from tests.gateway.records.conftest import add_state

pytestmark = pytest.mark.browser


async def test_a_stop_classified_at_the_kiosk_appears_on_the_report(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    master = await browser.new_page(viewport={"width": 1366, "height": 900})
    await log_in(master, site.base_url, "master", "master-pass")
    # Open round the clock, whatever the hour this test runs at: the stop must be in planned time.
    always = {"week": ["00:00-24:00"] * 7, "public_holidays": "none"}
    assert (await master.request.patch(site.url("/api/calendars/lyon"), data=always)).ok
    # The mill (Inès is checked in there) cut for ten minutes, then has stood idle for half an hour.
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    now = datetime.now(UTC)
    add_state(db.session_factory(engine), site.seeded.ids["mill"], now - timedelta(minutes=40), "AVAILABLE", "ACTIVE")
    add_state(db.session_factory(engine), site.seeded.ids["mill"], now - timedelta(minutes=30), "AVAILABLE", "READY")
    engine.dispose()
    made = await master.request.post(
        site.url("/api/tokens"), data={"role": "kiosk", "label": "mill kiosk 2", "machine": "mill"}
    )
    kiosk = await browser.new_page(viewport={"width": 1280, "height": 800})
    await kiosk.goto(site.url(f"/api/auth/screen?token={(await made.json())['token']}"))
    await kiosk.goto(site.url("/kiosk/mill"))
    card = kiosk.locator("#stop-card")
    assert "en cours" in await card.inner_text()
    assert await kiosk.locator("#stop-reason").inner_text() == "non renseigné"
    await card.locator("button[value=reglage]").click()  # one tap
    await kiosk.locator("#message.shown").wait_for()
    assert await kiosk.locator("#message").inner_text() == "Cause de l'arrêt enregistrée."
    assert await kiosk.locator("#stop-reason").inner_text() == "Réglage"
    await shot(kiosk, "kiosk-stop-reason")

    await master.goto(site.url("/utilisation"))
    line = master.locator("#pareto tr[data-reason=reglage] td.num")
    assert await line.count() == 1
    hours, minutes = (await line.inner_text()).split(":")
    assert 30 <= int(hours) * 60 + int(minutes) <= 32  # the stop under way since half an hour ago
    assert await master.locator("#stops svg.pareto").count() == 1
    await shot(master, "utilisation-planned-time")
