"""Cycles without a student, assigned several at once from the master's desk in Chromium, checked through the API.

A tick that names a cycle of another machine than the session refuses the whole assignment (none is
assigned, the ticks stay); the right ones land on the session and in the student's practice log.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser

from gateway.store import db
from tests.gateway.browser.conftest import Site
from tests.gateway.browser.desk_look import api, look
from tests.gateway.browser.desk_tools import master_page
from tests.gateway.browser.test_desk_orders import submit
from tests.gateway.records.conftest import add_cycle

pytestmark = pytest.mark.browser


async def test_a_master_assigns_several_cycles_to_a_session(browser: Browser, site: Site, tmp_path: Path) -> None:
    ids, tuesday = site.seeded.ids, site.seeded.monday + timedelta(days=1)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")  # the site's own store
    try:
        sessions = db.session_factory(engine)
        at = tuesday + timedelta(hours=2, minutes=40)  # after Tom's session, nobody checked in
        lathe = [
            add_cycle(sessions, ids["lathe"], at + timedelta(minutes=4 * k), at + timedelta(minutes=4 * k, seconds=200))
            for k in range(3)
        ]
        mill = add_cycle(sessions, ids["mill"], at - timedelta(minutes=5), at - timedelta(minutes=1))
    finally:
        engine.dispose()
    async with api(site) as client:
        loose = {c["id"] for c in (await client.get("/api/cycles/unattributed")).json()}
        lea = await client.get(f"/api/students/{ids['lea']}/practice-log")
        (lathe_session,) = [
            s
            for s in (await client.get("/api/sessions", params={"student_id": ids["lea"]})).json()
            if s["machine"] == "lyon/lathe"
        ]
    assert loose == {*lathe, mill}
    cycles_before = lea.json()["cycles"]

    page = await master_page(browser, site)
    await page.goto(site.url("/desk/cycles"))
    await look(page, "cycles")
    for cycle_id in (*lathe, mill):
        await page.check(f"#c-{cycle_id}")
    await page.select_option("#f-session_id", str(lathe_session["id"]))
    assert await submit(page, "#assign-form") == 409
    assert await page.inner_text("#e-session_id") == "Ce cycle a tourné sur une autre machine que cette séance."
    assert await page.get_attribute("#loose-cycles tr.refused", "data-cycle") == str(mill)  # which one
    assert [await page.is_checked(f"#c-{c}") for c in (*lathe, mill)] == [True] * 4  # the ticks stay
    assert await page.input_value("#f-session_id") == str(lathe_session["id"])
    async with api(site) as client:
        assert {c["id"] for c in (await client.get("/api/cycles/unattributed")).json()} == loose  # none assigned
    await look(page, "cycles-refused")
    await page.uncheck(f"#c-{mill}")
    assert await submit(page, "#assign-form") == 200
    assert await page.inner_text(".notice") == "Cycles attribués."
    assert await page.locator("#loose-cycles tbody tr").count() == 1
    async with api(site) as client:
        assert [c["id"] for c in (await client.get("/api/cycles/unattributed")).json()] == [mill]
        after = (await client.get(f"/api/students/{ids['lea']}/practice-log")).json()
    assert after["cycles"] == cycles_before + 3
