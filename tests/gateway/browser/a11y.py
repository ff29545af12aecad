"""axe-core run inside the page: every serious or critical accessibility violation fails the test.

The axe-core script comes with the PyPI package ``axe-playwright-python`` (axe.min.js bundled, nothing
downloaded at run time) and is injected through Playwright's ``evaluate``, which the pages' Content
Security Policy does not block (DevTools evaluates it, not a <script> of the page).
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

SEVERE = ("serious", "critical")
_axe = Axe()


def _described(violation: dict[str, Any]) -> str:
    targets = ", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"][:3])
    return f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}"


async def assert_accessible(page: Page, where: str) -> None:
    """Fail listing each serious or critical violation: id, impact, help and its first three targets."""
    results = await _axe.run(page)
    severe = [v for v in results.response["violations"] if v.get("impact") in SEVERE]
    assert not severe, f"{where}: {len(severe)} serious or critical accessibility violation(s):\n" + "\n".join(
        _described(v) for v in severe
    )
