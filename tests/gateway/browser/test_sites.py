"""Two schools on one gateway, in Chromium: a master of paris sees none of lyon's machines, orders or students on
the wall, the order board and the desk, and a master of lyon still sees them (so that the test can fail)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from edge_agent import contract as c
from gateway import auth
from gateway.live import MachineView
from gateway.store import customers_repo, db, orders_repo, students_repo
from tests.gateway.browser.conftest import Site, log_in
from tests.gateway.browser.seed import wall_of_machines
from tests.gateway.records.conftest import add_machine

pytestmark = pytest.mark.browser
LYON = ("mill", "PO-1", "Léa", "Acme")  # a lyon machine, order, student and customer of the seed
PARIS = ("drill", "PA-7", "Zoé", "Rivet")


def _add_paris(site: Site, tmp_path: Path) -> None:
    """Paris: a drill (in the store and live), a customer, an order and a student, and its master."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    now = datetime.now(UTC)
    try:
        sessions = db.session_factory(engine)
        add_machine(sessions, "drill", site="paris")
        with sessions.begin() as s:
            auth.create_user(
                db=s,
                who="t",
                now=now,
                username="paris",
                password="paris-pass",
                role="admin",
                student_id=None,
                sites=["paris"],
            )
            customer = customers_repo.create_customer(db=s, who="t", now=now, name="Rivet", site="paris")
            fields = {"customer_id": customer.id, "reference": "PA-7", "part_number": "AX-1", "quantity": 4}
            orders_repo.create_order(db=s, who="t", now=now, fields=fields)
            pupil = {"first_name": "Zoé", "last_initial": "P", "class_name": "CAP1", "track": "CAP", "site": "paris"}
            students_repo.create_student(db=s, who="t", now=now, fields=pupil)
    finally:
        engine.dispose()
    state = c.MachineState(availability=c.Availability.AVAILABLE, execution=c.Execution.ACTIVE, mode=c.Mode.AUTOMATIC)
    drill = MachineView("paris", "drill", agent="pc-paris", agent_online=True, state=state)
    site.live.load([*wall_of_machines(30), drill])  # the seeded wall of lyon, and paris's drill


async def _text(page: Page, path: str, site: Site) -> str:
    await page.goto(site.url(path))
    return await page.locator("main").inner_text()


async def _wall(page: Page, site: Site, count: int) -> list[str]:
    await page.goto(site.url("/"))
    await page.wait_for_selector(f"article.tile >> nth={count - 1}")
    names: list[str] = await page.locator("article.tile").evaluate_all("tiles => tiles.map(t => t.dataset.machine)")
    return names


async def test_a_master_of_another_site_sees_none_of_its_machines_orders_or_students(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    _add_paris(site, tmp_path)
    paris = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(paris, site.base_url, "paris", "paris-pass")
    lyon = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(lyon, site.base_url, "master", "master-pass")

    paris_wall = await _wall(paris, site, 1)
    assert [name for name in paris_wall if "drill" not in name] == [], paris_wall
    lyon_wall = await _wall(lyon, site, 30)
    assert len(lyon_wall) == 30
    assert not [name for name in lyon_wall if "drill" in name]

    for path in ("/orders", "/desk/students", "/desk/customers", "/utilisation", "/desk/authorisations"):
        seen_by_paris = await _text(paris, path, site)
        assert not [mark for mark in LYON if mark in seen_by_paris], (path, seen_by_paris)
        seen_by_lyon = await _text(lyon, path, site)
        assert not [mark for mark in PARIS if mark in seen_by_lyon], (path, seen_by_lyon)
    assert "PA-7" in await _text(paris, "/orders", site)
    assert "PO-1" in await _text(lyon, "/orders", site)
    assert "Zoé" in await _text(paris, "/desk/students", site)
    assert "Léa" in await _text(lyon, "/desk/students", site)
    # A lyon record by its address: not found, as a record that does not exist.
    response = await paris.goto(site.url(f"/orders/{site.seeded.ids['po1']}"))
    assert response is not None
    assert response.status == 404


async def test_a_master_of_two_sites_says_at_the_desk_where_a_new_customer_goes(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    from tests.gateway.browser.a11y import assert_accessible
    from tests.gateway.browser.test_desk_orders import submit

    _add_paris(site, tmp_path)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        with db.session_factory(engine).begin() as s:
            auth.create_user(
                db=s,
                who="t",
                now=datetime.now(UTC),
                username="both",
                password="both-pass-1",
                role="admin",
                student_id=None,
                sites=["lyon", "paris"],
            )
    finally:
        engine.dispose()
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, site.base_url, "both", "both-pass-1")
    await page.goto(site.url("/desk/customers/new"))
    await assert_accessible(page, "customer-two-sites")
    await page.fill("#f-name", "Acme")  # lyon has an Acme; paris may have one too
    assert await submit(page, "#customer-form") == 422
    assert "plusieurs sites (lyon, paris)" in await page.locator("#e-site").inner_text()
    await page.select_option("#f-site", "paris")
    assert await submit(page, "#customer-form") == 200  # the list, after the redirect
    rows = await page.locator("main").inner_text()
    assert rows.count("Acme") == 2  # lyon's and the new one of paris, both on the desk of a master of both


def _add_master(tmp_path: Path, username: str, password: str, sites: list[str]) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        with db.session_factory(engine).begin() as s:
            auth.create_user(
                db=s,
                who="t",
                now=datetime.now(UTC),
                username=username,
                password=password,
                role="admin",
                student_id=None,
                sites=sites,
            )
    finally:
        engine.dispose()


async def _me_sites(site: Site, username: str, password: str) -> list[str]:
    import httpx

    async with httpx.AsyncClient(base_url=site.base_url) as client:
        login = await client.post("/api/auth/login", json={"username": username, "password": password})
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
        sites: list[str] = me.json()["sites"]
        return sites


async def test_a_master_of_two_sites_grants_both_then_takes_one_back_and_the_open_browser_loses_it(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    from tests.gateway.browser.a11y import assert_accessible
    from tests.gateway.browser.desk_tools import shots

    _add_paris(site, tmp_path)
    _add_master(tmp_path, "both", "both-pass-1", ["lyon", "paris"])
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(page, site.base_url, "both", "both-pass-1")
    await page.goto(site.url("/desk/users"))
    await assert_accessible(page, "users-two-sites")
    await page.fill("#f-username", "direction")
    await page.fill("#f-password", "direction-pass")
    await page.select_option("#f-role", "viewer")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert "plusieurs sites (lyon, paris)" in await page.locator("#e-site").inner_text()  # none ticked: say which
    await assert_accessible(page, "users-two-sites-error")
    await page.fill("#f-password", "direction-pass")
    await page.check("form.desk-form input[name='site:lyon']")
    await page.check("form.desk-form input[name='site:paris']")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("p.message.ok").inner_text() == "Compte créé."
    assert await _me_sites(site, "direction", "direction-pass") == ["lyon", "paris"]
    # Their own login has no boxes (another master changes it); lyon's and paris's masters' have.
    assert await page.locator("tr[data-user='both'] form.sites-form").count() == 0
    assert await page.locator("tr[data-user='master'] form.sites-form").count() == 1
    await shots(page, "users-two-sites")

    direction = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await log_in(direction, site.base_url, "direction", "direction-pass")
    board = await _text(direction, "/orders", site)
    assert "PO-1" in board
    assert "PA-7" in board

    await page.uncheck("tr[data-user='direction'] input[name='site:lyon']")
    async with page.expect_navigation():
        await page.click("tr[data-user='direction'] form.sites-form button")
    assert "Sites du compte changés" in await page.locator("p.message.ok").inner_text()
    assert await page.locator("tr[data-user='direction'] input[name='site:lyon']").is_checked() is False
    assert await page.locator("tr[data-user='direction'] input[name='site:paris']").is_checked() is True
    # The browser open on lyon loses it at once: its login ended; signed in again, paris alone.
    await direction.goto(site.url("/orders"))
    assert "/login" in direction.url
    await log_in(direction, site.base_url, "direction", "direction-pass")
    board = await _text(direction, "/orders", site)
    assert "PA-7" in board
    assert "PO-1" not in board
    # No box ticked: refused, nothing changed.
    await page.uncheck("tr[data-user='direction'] input[name='site:paris']")
    async with page.expect_navigation() as navigation:
        await page.click("tr[data-user='direction'] form.sites-form button")
    response = await navigation.value
    assert response is not None
    assert response.status == 422
    assert "au moins un site" in await page.locator("main p.error").inner_text()
    assert await _me_sites(site, "direction", "direction-pass") == ["paris"]
