"""The accessibility scan of a page as Chromium shows it: axe-core, run inside the page.

``axe-playwright-python`` bundles axe.min.js (nothing is downloaded at run time) and injects it
with Playwright's ``evaluate``, which the pages' Content-Security-Policy does not govern (it is
the browser's debugging channel, not a script the page loads). Only "serious" and "critical"
violations fail: the issue's bar; "moderate" and "minor" ones are left to review.
"""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

FAILING = ("serious", "critical")
_axe = Axe()


async def assert_accessible(page: Page, where: str) -> None:
    results = await _axe.run(page)
    found = [v for v in results.response["violations"] if v.get("impact") in FAILING]
    lines = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in found]
    assert not lines, f"{where}: {len(lines)} serious or critical accessibility violation(s):\n" + "\n".join(lines)
