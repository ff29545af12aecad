"""The accessibility scan of a page: axe-core run inside headless Chromium, serious and critical findings fail.

axe-core comes bundled in the PyPI package ``axe-playwright-python`` (nothing is downloaded at run
time); it is injected with Playwright's ``evaluate``, which the pages' CSP (``script-src 'self'``)
does not govern, so the scan runs on the page exactly as it is served.
"""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

FAILING = ("serious", "critical")
_axe = Axe()


async def assert_accessible(page: Page, where: str) -> None:
    """Fail listing every serious or critical violation on ``page``: rule id, impact, help, first 3 targets."""
    results = await _axe.run(page)
    found = [v for v in results.response["violations"] if v.get("impact") in FAILING]
    lines = []
    for violation in found:
        targets = [
            ", ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"])
            for node in violation["nodes"][:3]
        ]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    assert not lines, f"{where}: {len(lines)} accessibility violation(s)\n" + "\n".join(lines)
