"""The alarm history per machine and ISO week, in Chromium as a master reads it, against alarms stored by hand.

This week on the mill: 2041 twice (15 and 2 minutes), 3000 once (1 minute); on the lathe 700, still
raised. The week before, on the mill: 9999 for 5 minutes. A week shows its own alarms only, a machine
chosen shows that machine only, and the week links keep the machine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from gateway.store import db
from gateway.store.models import AlarmRecord
from tests.gateway.browser.conftest import Site
from tests.gateway.browser.desk_look import look
from tests.gateway.browser.desk_tools import master_page

pytestmark = pytest.mark.browser
PARIS = ZoneInfo("Europe/Paris")


def store_alarms(tmp_path: Path, site: Site) -> None:
    ids, monday = site.seeded.ids, site.seeded.monday
    raised: list[tuple[str, str, str, datetime, float | None]] = [
        ("mill", "2041", "Lubrification basse", monday + timedelta(minutes=70), 15),
        ("mill", "3000", "Porte ouverte", monday + timedelta(minutes=120), 1),
        ("mill", "2041", "Lubrification basse", monday + timedelta(days=1, minutes=30), 2),
        ("lathe", "700", "Surcharge broche", monday + timedelta(days=1, minutes=60), None),
        ("mill", "9999", "Ancienne alarme", monday - timedelta(days=7, minutes=-60), 5),
    ]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")  # the site's own store
    try:
        with db.session_factory(engine).begin() as s:
            for machine, code, text, ts, minutes in raised:
                cleared = None if minutes is None else ts + timedelta(minutes=minutes)
                s.add(
                    AlarmRecord(
                        machine_id=ids[machine], ts=ts, code=code, message=text, severity="fault", cleared=cleared
                    )
                )
    finally:
        engine.dispose()


async def table(page: Page, machine: str) -> dict[str, tuple[str, str]]:
    """Code → (count, total duration) in the machine's summary."""
    rows = page.locator(f"section[data-machine='{machine}'] table.summary tbody tr")
    found = {}
    for k in range(await rows.count()):
        row = rows.nth(k)
        found[await row.get_attribute("data-code") or ""] = (
            await row.locator(".count").inner_text(),
            await row.locator(".total").inner_text(),
        )
    return found


async def test_a_master_reads_the_alarm_history_per_machine_and_week(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    store_alarms(tmp_path, site)
    page = await master_page(browser, site)
    await page.goto(site.url("/desk"))
    await page.click("a[href='/desk/alarms']")
    await page.fill("#f-week", site.seeded.week)
    async with page.expect_navigation():
        await page.click("#alarm-filter button[type=submit]")
    assert await table(page, "mill") == {"2041": ("2", "17:00"), "3000": ("1", "1:00")}
    lathe = await table(page, "lathe")
    assert list(lathe) == ["700"]
    assert lathe["700"][0] == "1"
    assert "en cours" in lathe["700"][1]
    assert await page.locator("section[data-machine='mill'] table.every tbody tr").count() == 3
    await look(page, "alarms")

    await page.select_option("#f-machine", str(site.seeded.ids["mill"]))
    async with page.expect_navigation():
        await page.click("#alarm-filter button[type=submit]")
    assert await page.locator("section.alarm-machine").count() == 1
    async with page.expect_navigation():
        await page.click("text=Semaine précédente")
    assert await table(page, "mill") == {"9999": ("1", "5:00")}
    assert await page.locator("section.alarm-machine").count() == 1
    # Nonsense in the address: this week, every machine, never an error page.
    response = await page.goto(site.url("/desk/alarms?week=2020-W99&machine=abc&lang=en"))
    assert response is not None
    assert response.status == 200
    iso = datetime.now(PARIS).isocalendar()
    assert await page.input_value("#f-week") == f"{iso.year}-W{iso.week:02d}"
    assert await page.input_value("#f-machine") == ""
