"""The accessibility scan can fail: a page with a nameless button and an image without text is refused, and the
message names each rule with its impact and the elements; a clean page passes."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.gateway.browser.a11y import assert_accessible

pytestmark = pytest.mark.browser
BAD = '<!doctype html><html lang="fr"><title>t</title><main><img src="x.png"><button id="b"></button></main></html>'
GOOD = '<!doctype html><html lang="fr"><title>t</title><main><h1>Bonjour</h1><button>Valider</button></main></html>'


async def test_the_scan_lists_serious_and_critical_violations_and_passes_a_clean_page(browser: Browser) -> None:
    page = await browser.new_page()
    await page.set_content(BAD)
    with pytest.raises(AssertionError) as refused:
        await assert_accessible(page, "bad page")
    text = str(refused.value)
    assert "bad page: 2 accessibility violation(s)" in text
    assert "image-alt (critical)" in text
    assert "button-name (critical)" in text
    assert "#b" in text
    await page.set_content(GOOD)
    await assert_accessible(page, "good page")
