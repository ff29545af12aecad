"""The pages over the whole gateway and a real mosquitto: live tiles, the Last Will, a kiosk check-in."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser
from sqlalchemy import select

from atelier.broker import Broker
from edge_agent import contract as c
from gateway import auth
from gateway.store import authorisations_repo, customers_repo, db, orders_repo, students_repo
from gateway.store.models import Machine
from tests.gateway.browser.conftest import log_in
from tests.gateway.conftest import RunningGateway
from tests.gateway.helpers import AGENT, MACHINE, SITE, AgentProcess, Publisher, birth, changed, count, state, until

pytestmark = pytest.mark.browser


async def test_a_tile_follows_the_broker_within_a_second_and_goes_offline_on_the_last_will(
    gateway: RunningGateway, broker: Broker, browser: Browser
) -> None:
    will = c.AgentStatus(agent=AGENT, ts=datetime.now(UTC), status="offline", machines=(MACHINE,))
    agent = AgentProcess(broker, will)
    try:
        agent.send(c.agent_topic(SITE, AGENT, "status"), birth(), retain=True)
        agent.send(c.machine_topic(SITE, MACHINE, "state"), state(1), retain=True)
        page = await browser.new_page()
        await page.goto(gateway.base_url + "/")
        tile = page.locator(f"article[data-machine='{MACHINE}']")
        await page.wait_for_selector(f"article[data-machine='{MACHINE}'][data-status='running']", timeout=10_000)
        await page.evaluate("window.notReloaded = true")
        sent = time.monotonic()
        agent.send(c.machine_topic(SITE, MACHINE, "event"), changed(2, c.Execution.FEED_HOLD), retain=False)
        await page.wait_for_selector(f"article[data-machine='{MACHINE}'][data-status='hold']", timeout=1000)
        assert time.monotonic() - sent < 1.0
        assert await tile.locator(".badge").inner_text() == "EN PAUSE"
    finally:
        agent.kill()  # no DISCONNECT: the broker publishes the agent's Last Will
    await page.wait_for_selector(f"article[data-machine='{MACHINE}'][data-status='offline']", timeout=5000)
    assert await page.evaluate("window.notReloaded") is True


def _seed(gateway: RunningGateway) -> dict[str, str | int]:
    engine = db.make_engine(gateway.settings.database.url)
    now = datetime.now(UTC)
    try:
        with db.session_factory(engine).begin() as s:
            auth.create_user(
                db=s, who="t", now=now, username="master", password="master-pass", role="admin", student_id=None
            )
            student = {"first_name": "Léa", "last_initial": "M", "class_name": "CAP1", "track": "CAP", "badge": "B-LEA"}
            lea = students_repo.create_student(db=s, who="t", now=now, fields=student)
            customer = customers_repo.create_customer(db=s, who="t", now=now, name="Acme")
            order = {
                "customer_id": customer.id,
                "reference": "PO-7",
                "part_number": "AXE-7",
                "quantity": 4,
                "due": now + timedelta(days=2),
                "standard_cycle_s": 60.0,
            }
            order_id = orders_repo.create_order(db=s, who="t", now=now, fields=order).id
            machine = s.scalars(select(Machine).where(Machine.name == MACHINE)).one()
            today = now.date()
            grant = {"student_id": lea.id, "machine_id": machine.id, "granted_on": today, "training_on": today}
            grant["medical_valid_until"] = today + timedelta(days=365)
            authorisations_repo.grant(db=s, who="t", now=now, fields=grant)
            kiosk, _ = auth.create_api_token(db=s, who="t", now=now, role="kiosk", label="k", machine=machine)
            viewer, _ = auth.create_api_token(db=s, who="t", now=now, role="viewer", label="tv", machine=None)
    finally:
        engine.dispose()
    return {"order": order_id, "kiosk": kiosk, "viewer": viewer}


async def test_a_kiosk_check_in_attributes_the_next_cycle_to_the_student(
    gateway: RunningGateway, publisher: Publisher, browser: Browser
) -> None:
    publisher.send(birth())
    publisher.send(state(1))
    await until(lambda: count(gateway.db_path, "machines") == 1, what="the machine in the store")
    seeded = await asyncio.to_thread(_seed, gateway)
    kiosk = await browser.new_page(viewport={"width": 1024, "height": 768})
    await kiosk.goto(f"{gateway.base_url}/api/auth/screen?token={seeded['kiosk']}")
    await kiosk.goto(f"{gateway.base_url}/kiosk/{MACHINE}")
    assert await kiosk.evaluate("document.activeElement.id") == "badge"  # a USB badge reader types here
    await kiosk.keyboard.type("B-LEA")
    await kiosk.keyboard.press("Enter")
    await kiosk.locator("#present:has-text('Léa M.')").wait_for(timeout=10_000)
    await asyncio.sleep(0.05)
    started = datetime.now(UTC)
    ended = started + timedelta(milliseconds=5)
    publisher.send(
        c.CycleEnded(
            agent=AGENT,
            machine=MACHINE,
            seq=2,
            ts=ended,
            program="O7",
            started=started,
            duration_s=58.0,
            held_s=0.0,
            parts=1,
            outcome=c.CycleOutcome.COMPLETED,
        )
    )
    publisher.send(c.PartCounted(agent=AGENT, machine=MACHINE, seq=3, ts=ended, count=1, counter=None, program="O7"))
    await until(lambda: count(gateway.db_path, "part_counts") == 1, what="the part in the store")
    master = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(master, gateway.base_url, "master", "master-pass")
    await master.goto(f"{gateway.base_url}/orders/{seeded['order']}")
    assert await master.locator("#made").inner_text() == "1"
    assert await master.locator("#cycles tbody tr").count() == 1
    assert "Léa M." in await master.locator("#cycles tbody tr").inner_text()
    assert "Léa M." in await master.locator("#students").inner_text()
    # The wall: a viewer screen names the student, an anonymous one shows only the order.
    anonymous = await browser.new_page()
    await anonymous.goto(gateway.base_url + "/")
    await anonymous.locator(".work:has-text('PO-7')").wait_for(timeout=10_000)
    assert "Léa" not in await anonymous.locator(".work").inner_text()
    screen = await browser.new_page()
    await screen.goto(f"{gateway.base_url}/api/auth/screen?token={seeded['viewer']}")
    await screen.locator(".work:has-text('Léa M.')").wait_for(timeout=10_000)
