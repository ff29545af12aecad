"""Every page that exists passes axe-core with no serious or critical violation, in French and in English.

Each page is scanned as the one who uses it would see it (a master, the mill's kiosk, nobody for the login
page), with its dynamic parts drawn (the wall's tiles come over the WebSocket); its ``lang`` is the page's
language, and the keyboard's focus shows (a ring of 2 px or more) on each of its first stops.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site
from tests.gateway.browser.test_header import sign_in
from tests.gateway.browser.test_layout import open_page

pytestmark = pytest.mark.browser
PAGES = {
    "wall": ("admin", "/"),
    "orders": ("admin", "/orders"),
    "order": ("admin", "/orders/{po1}"),
    "practice log": ("admin", "/students/{lea}/log"),
    "utilisation": ("admin", "/utilisation?week={week}"),
    "network": ("admin", "/network?week={week}"),
    "desk": ("admin", "/desk"),
    "kiosk": ("kiosk", "/kiosk/mill?site=lyon"),
    "login": ("anonymous", "/login"),
}


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_every_page_has_no_serious_accessibility_violation(browser: Browser, site: Site, lang: str) -> None:
    pages: dict[str, Page] = {}
    found: list[str] = []
    for name, (role, path) in PAGES.items():
        if role not in pages:
            pages[role] = await (await browser.new_context(viewport={"width": 1366, "height": 768})).new_page()
            await sign_in(pages[role], site, role)
        page = pages[role]
        await open_page(page, site, path + ("&" if "?" in path else "?") + f"lang={lang}")
        if name == "wall":
            await page.locator("article.tile").first.wait_for()
        assert await page.evaluate("document.documentElement.lang") == lang, name
        try:
            await assert_accessible(page, f"{name} ({lang})")
        except AssertionError as err:  # every page's violations at once, not the first page's only
            found.append(str(err))
        found += [f"{name} ({lang}): focus not shown on {what}" for what in await unseen_focus(page)]
    assert not found, "\n".join(found)


FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el), box = el.getBoundingClientRect();
  const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const seen = box.width > 0 && box.height > 0;
  return {what: el.tagName.toLowerCase() + " " + (el.textContent || el.name || "").trim().slice(0, 30), ring, seen};
}"""


async def unseen_focus(page: Page, stops: int = 8) -> list[str]:
    """Tab through the page's first ``stops`` stops: each focused element shows a ring of 2 px or more."""
    await page.locator("body").focus()
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    unseen = []
    for _ in range(stops):
        await page.keyboard.press("Tab")
        state = await page.evaluate(FOCUS)
        if state is not None and not (state["ring"] and state["seen"]):
            unseen.append(state["what"])
    return unseen
