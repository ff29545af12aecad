"""How the desk's work tests look at a page (``desk_tools`` for the rest): the three sizes with their pictures,
the accessibility scan, and nothing refused by the CSP."""

from __future__ import annotations

from playwright.async_api import Page

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.desk_tools import assert_no_csp_refusal, master_api, shots

api = master_api  # the records API as the master, to check what a page did


async def look(page: Page, name: str) -> None:
    """``page`` comes from ``desk_tools.master_page`` (it is watched for CSP refusals)."""
    await shots(page, name)
    await assert_accessible(page, name)
    assert_no_csp_refusal(page)
