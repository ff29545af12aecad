"""The header knows who is looking: each role sees its own links and every one of them opens;
a kiosk token lands on its machine's kiosk; a failed login keeps the user name, never the password."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from tests.gateway.browser.conftest import Site, log_in

pytestmark = pytest.mark.browser
KIOSK = "/kiosk/mill?site=lyon"


async def sign_in(page: Page, site: Site, role: str) -> None:
    """Sign the page in as a master, a student (Léa), the mill's kiosk, the TV (viewer), or nobody."""
    if role == "admin":
        await log_in(page, site.base_url, "master", "master-pass")
    elif role == "student":
        await log_in(page, site.base_url, "lea", "lea-pass-1")
    elif role in ("kiosk", "viewer"):
        await page.goto(site.url(f"/api/auth/screen?token={site.seeded.tokens[role]}"))


def expected_links(site: Site, role: str) -> list[str]:
    return {
        "anonymous": ["/"],
        "admin": ["/", "/orders", "/utilisation", "/network", "/desk"],
        "viewer": ["/", "/orders", "/utilisation"],
        "kiosk": ["/", KIOSK],
        "student": ["/", f"/students/{site.seeded.ids['lea']}/log"],
    }[role]


def own_page(site: Site, role: str) -> str:
    """A page of the office side that the role may open (the wall is checked for every role too)."""
    return {
        "anonymous": "/login",
        "admin": "/orders",
        "viewer": "/utilisation",
        "kiosk": KIOSK,
        "student": f"/students/{site.seeded.ids['lea']}/log",
    }[role]


@pytest.mark.parametrize("role", ["anonymous", "admin", "viewer", "kiosk", "student"])
async def test_each_role_sees_its_own_links_and_every_link_opens(browser: Browser, site: Site, role: str) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    await sign_in(page, site, role)
    for path in ("/", own_page(site, role)):
        response = await page.goto(site.url(path))
        assert response is not None
        assert response.status == 200, path
        header = page.locator("body > header")
        links = await header.locator("nav.main a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        assert links == expected_links(site, role), (path, links)
        brand = await header.locator("a.brand").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        for link in links + brand:  # never a link that answers 403 (or 401) to this caller
            opened = await page.request.get(site.url(link), max_redirects=0)
            assert opened.status == 200, (role, link, opened.status)
        account = await header.locator(".account").inner_text()
        if role in ("admin", "student"):
            assert {"master": "admin", "lea": "student"}.get(account.split()[0]) == role, account
            assert "Déconnexion" in account
        if role != "anonymous":
            assert "Connexion" not in account.replace("Déconnexion", ""), (path, account)
        else:
            assert account.strip() == "Connexion"


async def test_a_master_on_the_wall_sees_their_name_and_the_utilisation(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    await log_in(page, site.base_url, "master", "master-pass")
    await page.goto(site.url("/"))
    header = page.locator("header.topbar")
    assert await header.locator(".who").inner_text() == "master"
    assert await header.locator("a[href='/utilisation']").inner_text() == "Utilisation"
    await header.locator("button:has-text('Déconnexion')").click()
    await page.wait_for_url("**/login")
    await page.goto(site.url("/"))
    assert await page.locator("header.topbar .account").inner_text() == "Connexion"
    assert await page.locator("header.topbar a[href='/orders']").count() == 0


async def test_a_kiosk_token_opens_its_machines_kiosk_and_a_viewer_token_the_wall(browser: Browser, site: Site) -> None:
    kiosk = await browser.new_page()
    await kiosk.goto(site.url(f"/api/auth/screen?token={site.seeded.tokens['kiosk']}"))
    assert kiosk.url == site.url(KIOSK)
    assert "mill" in await kiosk.inner_text("h1")
    tv = await browser.new_page()
    await tv.goto(site.url(f"/api/auth/screen?token={site.seeded.tokens['viewer']}"))
    assert tv.url == site.url("/")


async def test_a_wrong_password_keeps_the_user_name_and_not_the_password(browser: Browser, site: Site) -> None:
    page = await browser.new_page()
    for username in ("master", 'm"><b id=x>'):
        await page.goto(site.url("/login"))
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", "wrong-password")
        async with page.expect_navigation() as navigation:
            await page.click("button[type=submit]")
        response = await navigation.value
        assert response is not None
        assert response.status == 401
        assert await page.locator("[role=alert]").count() == 1
        assert await page.input_value("input[name=username]") == username
        assert await page.input_value("input[name=password]") == ""
        assert await page.locator("#x").count() == 0  # the name is escaped, never markup
        assert await page.evaluate("document.activeElement.name") == "password"
