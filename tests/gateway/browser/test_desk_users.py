"""A master manages logins in Chromium: creates a master and a viewer, is told what is wrong without losing what
was typed (never the password), disables a login, resets a password; each result checked through the API and by
logging in with it. Every page passes the accessibility scan."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site
from tests.gateway.browser.desk_tools import assert_no_csp_refusal, cross_site_post, master_api, master_page, shots

pytestmark = pytest.mark.browser


async def _users(site: Site) -> dict[str, dict[str, object]]:
    async with master_api(site) as api:
        answer = await api.get("/api/users")
        assert answer.status_code == 200, answer.text
        return {u["username"]: u for u in answer.json()}


async def _can_log_in(site: Site, username: str, password: str) -> str | None:
    """The role a login with these credentials gets, or None when refused."""
    async with httpx.AsyncClient(base_url=site.base_url) as client:
        answer = await client.post("/api/auth/login", json={"username": username, "password": password})
        return str(answer.json()["role"]) if answer.status_code == 200 else None


async def test_a_master_creates_disables_and_resets_logins(browser: Browser, site: Site) -> None:
    page = await master_page(browser, site)
    await page.goto(site.url("/desk"))
    async with page.expect_navigation():
        await page.click("a[href='/desk/users']")
    await assert_accessible(page, "users")

    # A taken name: said next to it, the name and role kept, the password never sent back.
    await page.fill("#f-username", "lea")
    await page.fill("#f-password", "long-enough-1")
    await page.select_option("#f-role", "viewer")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("#e-username").inner_text() == "L'identifiant « lea » est déjà pris."
    assert await page.input_value("#f-username") == "lea"
    assert await page.input_value("#f-password") == ""
    assert await page.locator("#f-role").input_value() == "viewer"
    await assert_accessible(page, "users with an error")
    await shots(page, "users")
    await page.fill("#f-username", "direction")
    await page.fill("#f-password", "short")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("#e-password").inner_text() == "Un mot de passe doit avoir au moins 8 caractères."
    assert "direction" not in await _users(site)

    await page.fill("#f-username", "direction")
    await page.fill("#f-password", "direction-pass")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("p.message.ok").inner_text() == "Compte créé."
    assert (await _users(site))["direction"]["role"] == "viewer"
    assert await _can_log_in(site, "direction", "direction-pass") == "viewer"

    await page.fill("#f-username", "maitre2")
    await page.fill("#f-password", "maitre2-pass")
    await page.select_option("#f-role", "admin")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert (await _users(site))["maitre2"]["role"] == "admin"

    async with page.expect_navigation():
        await page.click("tr[data-user='direction'] form button")
    assert await page.locator("p.message.ok").inner_text() == "Compte désactivé : ses connexions sont fermées."
    assert (await _users(site))["direction"]["active"] is False
    assert await _can_log_in(site, "direction", "direction-pass") is None

    async with page.expect_navigation():
        await page.click("tr[data-user='tom'] a")
    await assert_accessible(page, "reset password")
    await shots(page, "user-password")
    await page.fill("#f-password", "1234")
    async with page.expect_navigation():
        await page.click("form button[type=submit]")
    assert await page.locator("#e-password").inner_text() == "Un mot de passe doit avoir au moins 8 caractères."
    assert await _can_log_in(site, "tom", "tom-pass-1") == "student"
    await page.fill("#f-password", "tom-new-pass")
    async with page.expect_navigation():
        await page.click("form button[type=submit]")
    assert await page.locator("p.message.ok").inner_text() == "Mot de passe changé : ses connexions sont fermées."
    assert await _can_log_in(site, "tom", "tom-pass-1") is None
    assert await _can_log_in(site, "tom", "tom-new-pass") == "student"

    # A master cannot lock themself out from the page either.
    async with page.expect_navigation():
        await page.click("tr[data-user='master'] form button")
    assert "propre compte" in await page.locator("p.error").first.inner_text()
    assert (await _users(site))["master"]["active"] is True
    assert_no_csp_refusal(page)


async def test_a_login_form_posted_from_another_origin_is_refused(site: Site) -> None:
    form = {"username": "evil", "password": "evil-password", "role": "admin"}
    assert (await cross_site_post(site, "/desk/users", form)).status_code == 403
    assert "evil" not in await _users(site)
    tom = (await _users(site))["tom"]["id"]
    assert (await cross_site_post(site, f"/desk/users/{tom}/password", {"password": "taken-over"})).status_code == 403
    assert await _can_log_in(site, "tom", "tom-pass-1") == "student"
