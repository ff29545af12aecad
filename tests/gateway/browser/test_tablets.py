"""The kiosk on a 10-inch tablet in both orientations, the wall and the order board on a phone, measured.

The kiosk (1280×800 landscape, 800×1280 portrait, a touch screen), with someone checked in and with nobody:
nothing scrolls sideways, every link, button and field is a touch target of 44×44 px or more, and in
landscape the badge field and every action (check in or out, declare scrap) are in view without scrolling,
a message shown above them. On a 390×844 phone the wall and the order board scroll only downwards and no
text is smaller than 12 px. With ATELIER_SCREENSHOTS set, each is photographed.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from tests.gateway.browser.conftest import Site, shot
from tests.gateway.browser.test_header import sign_in

pytestmark = pytest.mark.browser
TABLET = {"landscape": (1280, 800), "portrait": (800, 1280)}
PHONE = (390, 844)
TOUCH_PX = 44
TEXT_PX = 12

TARGETS = """() => Array.from(document.querySelectorAll("a, button, input, select, textarea"))
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden")
  .map(([el, r]) => ({what: el.tagName.toLowerCase() + " " + (el.id || el.name || el.textContent.trim()).slice(0, 30),
                     width: r.width, height: r.height, top: r.top, bottom: r.bottom}))"""
SMALL_TEXT = """(least) => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement, text = walker.currentNode.textContent.trim();
    if (!text || !el.getClientRects().length || el.closest(".sr-only")) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < least) small.push(el.tagName.toLowerCase() + "." + el.className + " " + size + " " + text.slice(0, 20));
  }
  return small;
}"""
SAY = """(text) => {
  const m = document.getElementById("message");
  m.textContent = text;
  m.className = "message shown ok";
}"""


async def tablet(browser: Browser, site: Site, orientation: str, role: str) -> Page:
    width, height = TABLET[orientation]
    context = await browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    page = await context.new_page()
    await sign_in(page, site, role)
    return page


async def sideways(page: Page) -> bool:
    width, inner = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    return bool(width > inner)


# Someone checked in: the mill's own kiosk (Inès is in); nobody: the lathe, as a master opens it.
KIOSKS = {
    "checked-in": ("kiosk", "/kiosk/mill?site=lyon", "#checkout", "Séance commencée. Bon travail !"),
    "nobody": ("admin", "/kiosk/lathe?site=lyon", "#checkin", "Séance terminée. À bientôt !"),
}


@pytest.mark.parametrize("orientation", TABLET)
@pytest.mark.parametrize("state", KIOSKS)
async def test_the_kiosk_is_comfortable_on_a_10_inch_tablet(
    browser: Browser, site: Site, orientation: str, state: str
) -> None:
    role, path, form, said = KIOSKS[state]
    page = await tablet(browser, site, orientation, role)
    await page.goto(site.url(path))
    await page.evaluate(SAY, said)  # the tallest the top gets after a badge
    await shot(page, f"kiosk-tablet-{orientation}-{state}")
    where = f"kiosk ({state}) at {orientation}"
    assert not await sideways(page), f"{where} scrolls sideways"
    targets = await page.evaluate(TARGETS)
    small = [t["what"] for t in targets if t["width"] < TOUCH_PX - 0.5 or t["height"] < TOUCH_PX - 0.5]
    assert small == [], f"{where}: touch targets under {TOUCH_PX} px: {small}"
    if orientation == "landscape":
        actions = (f"{form} input[name=badge]", f"{form} button[type=submit]", "#scrap button[type=submit]")
        height = await page.evaluate("innerHeight")
        for selector in actions:
            box = await page.locator(selector).bounding_box()
            assert box is not None, (where, selector)
            assert 0 <= box["y"] <= box["y"] + box["height"] <= height, (where, selector, box)


@pytest.mark.parametrize("path", ["/", "/orders"])
async def test_the_wall_and_the_order_board_read_on_a_phone(browser: Browser, site: Site, path: str) -> None:
    width, height = PHONE
    page = await (await browser.new_context(viewport={"width": width, "height": height}, has_touch=True)).new_page()
    await sign_in(page, site, "admin")
    await page.goto(site.url(path))
    if path == "/":
        await page.locator("article.tile").first.wait_for()
    assert not await sideways(page), f"{path} scrolls sideways on a phone"
    assert await page.evaluate(SMALL_TEXT, TEXT_PX) == [], f"{path}: text under {TEXT_PX} px on a phone"
    cut = await page.locator("article.tile .name, table.board td.ref").evaluate_all(
        "(els) => els.filter((e) => e.scrollWidth > e.clientWidth + 0.5).map((e) => e.textContent)"
    )
    assert cut == [], f"{path}: names cut on a phone"
