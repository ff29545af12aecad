"""The network page in headless Chromium: three schools' figures, the local school against the median, the CSV
link, both languages, and a layout that fits the wall, a tablet and a phone with no sideways scroll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser

from edge_agent import contract
from gateway.store import db
from gateway.store.network_repo import keep
from tests.gateway.browser.conftest import Site, log_in, shot

pytestmark = pytest.mark.browser
SIZES = {"wall": (1366, 768), "tablet": (1280, 800), "phone": (390, 844)}


def _day(site: str, day: datetime, running: float, *, hours: float = 8.0) -> contract.NetworkAggregate:
    machines = tuple(
        contract.MachineAggregate(
            machine=f"machine-{i:02d}",
            online=i % 3 != 0,
            planned_h=hours,
            running_h=running,
            free_h=hours - running,
            good=int(running * 10),
            scrap=1,
            oee=running / 10,
        )
        for i in range(12)
    )
    return contract.NetworkAggregate(
        site=site,
        ts=day + timedelta(days=1),
        period="day",
        day=day.date(),
        start=day,
        end=day + timedelta(days=1),
        final=True,
        machines=machines,
        practice=(contract.PracticeHours(class_label="CAP1", track="CAP", hours=30.0),),
    )


def _publish_three_schools(tmp_path: Path) -> None:
    """lyon (the site's own machines) at 25 %, grenoble at 50 %, saint-etienne at 75 %, this Monday."""
    today = datetime.now(UTC)
    monday = datetime.combine(today.date() - timedelta(days=today.weekday()), datetime.min.time(), UTC)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    with db.session_factory(engine).begin() as session:
        for site, running in (("lyon", 2.0), ("grenoble", 4.0), ("saint-etienne", 6.0)):
            keep(db=session, message=_day(site, monday, running), received=today)
        # lyon's hour under way: what says which machines are online now (25 % too, so the week stays at 25 %).
        hour = today.replace(minute=0, second=0, microsecond=0)
        live = _day("lyon", hour, 0.25, hours=1.0).model_copy(
            update={"period": "hour", "day": hour.date(), "end": hour + timedelta(hours=1), "final": False}
        )
        keep(db=session, message=live, received=today)
    engine.dispose()


async def test_the_network_page_in_a_browser(browser: Browser, site: Site, tmp_path: Path) -> None:
    _publish_three_schools(tmp_path)
    errors: list[str] = []
    for size, (width, height) in SIZES.items():
        page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
        page.on("response", lambda r: errors.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)
        await log_in(page, site.base_url, "master", "master-pass")
        await page.goto(site.url("/network?lang=fr"))
        await shot(page, f"network-{size}")
        assert "Le réseau des écoles" in await page.inner_text("h1")
        assert await page.locator("#network tbody tr[data-site]").count() == 3
        lyon = page.locator("#network tr[data-site='lyon']")
        assert "25 %" in await lyon.locator("td.utilisation").inner_text()
        against = await page.locator("[data-against]").inner_text()
        assert "lyon : utilisation 25 %" in against
        assert "médiane du réseau : utilisation 50 %" in against
        scroll = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        wide = await page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"
        )
        assert scroll[0] <= scroll[1], f"{size} scrolls sideways: {scroll} {wide}"
        if size == "wall":
            assert "8 / 12" in await lyon.locator("td.online").inner_text()
            assert await page.locator("#network-trends thead th").count() == 1 + 8
            week = (await page.inner_text("h1 small")).split()[-1]
            assert await page.get_attribute("#network-csv", "href") == f"/network.csv?week={week}"
            await page.click("a[href*='lang=en']")
            await page.wait_for_load_state()
            assert "The network of schools" in await page.inner_text("h1")
            assert "network median: utilisation 50 %" in await page.locator("[data-against]").inner_text()
        await page.context.close()
    assert not errors, errors  # the CSP lets the page do all it does
