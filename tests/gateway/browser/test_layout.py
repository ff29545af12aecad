"""Every page fits the three screens it meets: the 1366×768 wall, a 1280×800 tablet and a 390×844 phone.

No page scrolls sideways (a wide table scrolls inside its own card), the header's links, language
switch, user and "Déconnexion" stay inside the bar, the figures that matter stay in view, and a
machine's name is never cut on the wall. With ATELIER_SCREENSHOTS=docs/screenshots every page is
photographed at every size (``{page}-{size}.png``).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from edge_agent import contract as c
from gateway.live import MachineView
from gateway.web.i18n import labels_for
from tests.gateway.browser.conftest import Site, shot
from tests.gateway.browser.seed import wall_of_machines
from tests.gateway.browser.test_header import sign_in

pytestmark = pytest.mark.browser
SIZES = {"wall": (1366, 768), "tablet": (1280, 800), "phone": (390, 844)}
# page name → who looks, where, and what must stay in view (not pushed off the right edge)
PAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "status": ("admin", "/", ("article.tile .name",)),
    "orders": ("admin", "/orders", ("tbody .bar-track", "tbody .flag", "tbody td.good")),
    "order": ("admin", "/orders/{po1}", ("#good", "#made", "#scrap", "#cycles td.student", "#cycles td.num")),
    "student-log": ("admin", "/students/{lea}/log", ("#t-hours", "#t-trend", "#machines td.num")),
    "utilisation": ("admin", "/utilisation?week={week}", ("td.running", "td.oee", "#stops .kpi")),
    "calendar": ("admin", "/calendar?site=lyon", ("#settings input[name=day0]", "#closure button")),
    "kiosk": ("kiosk", "/kiosk/mill?site=lyon", ("#present", "#checkout")),
    "login": ("anonymous", "/login", ("input[name=password]",)),
}
OUTSIDE = """(header) => {
  const bar = header.getBoundingClientRect();
  const items = Array.from(header.querySelectorAll("a, button, .who, time, .summary"));
  return items.filter((el) => el.offsetParent !== null).map((el) => [el.textContent.trim(), el.getBoundingClientRect()])
    .filter(([, r]) => r.left < bar.left - 0.5 || r.right > Math.min(bar.right, innerWidth) + 0.5
      || r.top < bar.top - 0.5 || r.bottom > bar.bottom + 0.5)
    .map(([text]) => text);
}"""


async def open_page(page: Page, site: Site, path: str) -> None:
    ids = site.seeded.ids
    await page.goto(site.url(path.format(po1=ids["po1"], lea=ids["lea"], week=site.seeded.week)))
    if path.startswith("/?"):  # the tiles come over the WebSocket; the mill shows Inès and PO-1
        await page.locator("article[data-machine='mill'] .progress:not([hidden])").wait_for(timeout=10_000)


async def off_screen(page: Page, selectors: tuple[str, ...]) -> list[str]:
    width = await page.evaluate("innerWidth")
    found = []
    for selector in selectors:
        boxes = [await el.bounding_box() for el in await page.locator(selector).all()]
        assert boxes, f"nothing matches {selector}"
        found += [selector for box in boxes if box is None or box["x"] < 0 or box["x"] + box["width"] > width + 0.5]
    return found


@pytest.mark.parametrize("size", SIZES)
async def test_every_page_fits_the_screen_and_its_header_fits_the_bar(browser: Browser, site: Site, size: str) -> None:
    width, height = SIZES[size]
    pages: dict[str, Page] = {}
    for name, (role, path, keys) in PAGES.items():
        if role not in pages:
            pages[role] = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
            await sign_in(pages[role], site, role)
        page = pages[role]
        for lang in ("en", "fr"):  # French last: the language sticks, and the pictures are French
            await open_page(page, site, path + ("&" if "?" in path else "?") + f"lang={lang}")
            if lang == "fr":
                await shot(page, f"{name}-{size}")  # before the checks: a failing layout leaves its picture
            where = f"{name} ({lang}) at {size}"
            scroll = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            assert scroll[0] <= scroll[1], f"{where} scrolls sideways: {scroll}"
            outside = await page.locator("body > header").evaluate(OUTSIDE)
            assert not outside, f"{where}: {outside} spill out of the header"
            assert not await off_screen(page, keys), where


def in_state(view: MachineView, status: str) -> MachineView:
    e = c.Execution
    executions = {"running": e.ACTIVE, "hold": e.FEED_HOLD, "ready": e.READY, "idle": None}
    alarms = (c.Alarm(code="2041", message="Lubrification basse", severity=c.Severity.FAULT),)
    view.agent_online = status != "offline"
    view.state = view.state.model_copy(
        update={"execution": executions.get(status, c.Execution.STOPPED), "alarms": alarms if status == "alarm" else ()}
    )
    assert view.status == status
    return view


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_machine_names_are_never_cut_on_a_1366_wall(browser: Browser, site: Site, lang: str) -> None:
    statuses: dict[str, Any] = labels_for(lang)["status"]
    longest = sorted(statuses, key=lambda s: len(statuses[s]), reverse=True)[:2]  # en production, en attente…
    site.live.load([in_state(v, longest[k % 2]) for k, v in enumerate(wall_of_machines(24))])
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    await page.goto(site.url(f"/?lang={lang}"))
    await page.locator("article.tile >> nth=23").wait_for()
    tiles = await page.locator("article.tile").evaluate_all(
        """(tiles) => tiles.map((t) => {
          const name = t.querySelector(".name"), badge = t.querySelector(".badge");
          const box = t.getBoundingClientRect(), label = badge.getBoundingClientRect();
          const inside = label.left >= box.left && label.right <= box.right && badge.scrollWidth <= badge.clientWidth;
          return {name: name.textContent, cut: name.scrollWidth > name.clientWidth, label: badge.textContent,
                  labelInside: inside};
        })"""
    )
    assert len(tiles) == 24
    assert {t["label"] for t in tiles} == {statuses[s] for s in longest}
    assert [t["name"] for t in tiles if t["cut"]] == []
    assert [t["name"] for t in tiles if not t["labelInside"]] == []
    assert max(len(t["name"]) for t in tiles) >= 20  # "tour-conventionnel-5", as long as the workshop names them
