"""The desk's work forms on SQLite and PostgreSQL: the store's refusals come back beside their field with what
was typed, a save is audited like the API's, and the alarm history reads the week's alarms on both."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.store.alarms_repo import alarm_lines
from gateway.store.models import AlarmRecord, AuditEntry
from tests.gateway.records.conftest import World, add_machine, at, site_client


async def test_desk_forms_refuse_beside_the_field_and_audit_what_they_save(
    world: World, databases: dict[str, str], backend: str
) -> None:
    admin = world.as_("admin")
    async with site_client(databases[backend], world.clock) as client:
        taken = await client.post("/desk/customers/new", data={"name": "Acme", "contact": "kept"}, headers=admin)
        assert taken.status_code == 422
        assert re.search(r'id="e-name">Un client nommé « Acme » existe déjà', taken.text)
        assert 'value="kept"' in taken.text
        made = await client.post("/desk/customers/new", data={"name": "Dupont", "contact": ""}, headers=admin)
        assert made.status_code == 303
        order = {
            "customer_id": str(world.ids["customer"]),
            "reference": "PO-9",
            "part_number": "P",
            "quantity": "3",
            "due": "2026-12-01T17:00",
            "standard_cycle_s": "1:30",
            "programs": "O1\r\nO2",
        }
        created = await client.post("/desk/orders/new", data=order, headers=admin)
        assert created.status_code == 303, created.text
        order_id = int(created.headers["location"].split("/")[2].split("?")[0])
        closed = await client.post(f"/desk/orders/{order_id}/cancel", headers=admin)
        assert closed.status_code == 303
    stored = await world.ok("GET", f"/api/orders/{order_id}")
    assert (stored["standard_cycle_s"], stored["programs"], stored["status"]) == (90.0, ["O1", "O2"], "cancelled")
    assert stored["due"] == "2026-12-01T16:00:00Z"  # 17:00 in the school's zone (Europe/Paris by default)
    with world.sessions() as s:
        audited = s.execute(select(AuditEntry.action, AuditEntry.entity).where(AuditEntry.who == "master")).all()
    assert ("create", "customer") in audited
    assert ("create", "order") in audited
    assert ("update", "order") in audited


def test_alarm_lines_keep_the_week_on_both_backends(world: World) -> None:
    mill = world.machines["mill"]
    with world.sessions.begin() as s:
        for code, start, end in (("1", -60, -30), ("2", -10, 5), ("3", 10, None), ("4", 7 * 24 * 60 + 1, None)):
            cleared = None if end is None else at(end)
            s.add(AlarmRecord(machine_id=mill, ts=at(start), code=code, message="m", severity="fault", cleared=cleared))
    with world.sessions() as s:
        lines = alarm_lines(db=s, start=at(0), end=at(7 * 24 * 60), machine_id=mill)
        others = alarm_lines(db=s, start=at(0), end=at(7 * 24 * 60), machine_id=world.machines["lathe"])
    assert [line.code for line in lines] == ["2", "3"]  # cleared before the week: out; raised after: out
    assert [line.machine for line in lines] == ["mill", "mill"]
    assert others == []
    with world.sessions.begin() as s:  # a second school on the same gateway: machines named with their site
        s.add(
            AlarmRecord(
                machine_id=add_machine(world.sessions, "mill", site="annecy"),
                ts=at(1),
                code="9",
                message="m",
                severity="fault",
                cleared=None,
            )
        )
    with world.sessions() as s:
        both = alarm_lines(db=s, start=at(0), end=at(7 * 24 * 60))
    assert [line.machine for line in both] == ["annecy/mill", "lyon/mill", "lyon/mill"]
