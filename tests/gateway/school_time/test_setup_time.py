"""Setup time on real SQLite and PostgreSQL: setup stops before the order's first good cycle on a machine are
the order's setup and the student's; the practice log shows setup, production and stops by reason."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.gateway.records.conftest import World, add_cycle, add_state, at, site_client


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_setup_stops_before_the_first_good_cycle_are_the_orders_and_the_students_setup(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    mill = w.machines["mill"]
    session = {"machine": "mill", "student_id": w.ids["student"], "order_id": w.ids["order"]}
    await w.ok("POST", "/api/sessions", json=session | {"started": z(at(0)), "ended": z(at(180))})
    # 8:00-8:30 setting up, first good part 8:30-8:35, measuring 8:35-8:50, cutting again, an alarm 9:30-9:45.
    for minute, execution in ((0, "READY"), (30, "ACTIVE"), (35, "READY"), (50, "ACTIVE"), (90, "STOPPED")):
        add_state(w.sessions, mill, at(minute), "AVAILABLE", execution)
    add_state(w.sessions, mill, at(105), "AVAILABLE", "ACTIVE")
    add_cycle(w.sessions, mill, at(30), at(35))
    add_cycle(w.sessions, mill, at(50), at(55))
    w.clock.now = at(180)
    for minute in (0, 35):  # both said to be setup; only the first is before the first good cycle
        body = {"machine": "mill", "started": z(at(minute)), "reason": "reglage"}
        await w.ok("POST", "/api/stops/classify", json=body)
    log = await w.ok("GET", f"/api/students/{w.ids['student']}/practice-log")
    assert log["setup_s"] == 1800
    assert log["stopped_s"] == 1800 + 900 + 900
    async with site_client(databases[backend], w.clock) as client:
        order = await client.get(f"/orders/{w.ids['order']}", headers=w.as_("admin"))
        page = await client.get(f"/students/{w.ids['student']}/log", headers=w.as_("admin"))
    assert '<strong id="setup">0:30</strong>' in order.text
    assert '<strong id="t-setup">0:30</strong>' in page.text
    assert '<tr data-reason="reglage"><td>Réglage</td><td class="num">0:45</td></tr>' in page.text
    assert '<tr data-reason="panne"><td>Panne</td><td class="num">0:15</td></tr>' in page.text  # the alarm
