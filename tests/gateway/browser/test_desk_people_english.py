"""Every people page of the desk opens in English too (the browser tests work in French), and for a master only."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.browser.conftest import Site

pytestmark = pytest.mark.browser


async def test_every_people_page_opens_in_english_for_a_master_only(site: Site) -> None:
    lea, mill_token = site.seeded.ids["lea"], 1
    pages = {
        "/desk/students": "Students",
        "/desk/students/new": "New student",
        f"/desk/students/{lea}": "Export their data",
        f"/desk/students/{lea}/delete": "Delete student Léa M.?",
        "/desk/students/import": "Import students (CSV)",
        "/desk/users": "New account",
        "/desk/users/1/password": "New password for master",
        "/desk/screens": "Issue a token",
        f"/desk/screens/{mill_token}/sheet": "The link is shown only when the token is issued.",
        "/desk/it": "Workshop agents",
    }
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        for path in pages:
            assert (await client.get(path)).status_code == 303, path  # to the login page
        login = await client.post("/login", data={"username": "lea", "password": "lea-pass-1"})
        assert login.status_code == 303
        for path in pages:
            assert (await client.get(path)).status_code == 403, path
        client.cookies.clear()
        await client.post("/login", data={"username": "master", "password": "master-pass"})
        for path, text in pages.items():
            answer = await client.get(path, params={"lang": "en"})
            assert answer.status_code == 200, (path, answer.text[:500])
            assert text in answer.text, path
