"""Operations on the pages: the order page's operations, pending parts, a program that is not the operation's and
a master's verdict by form; the kiosk's choice of operation and its first-part card; the wall tile's flag."""

from __future__ import annotations

import re

from gateway.domain.operations import Step
from gateway.store.models import FirstPartApproval
from gateway.store.pages_repo import Occupant
from gateway.web.occupancy import enrich
from tests.gateway.records.conftest import World, add_cycle, at, site_client


async def _op20(w: World) -> int:
    op = await w.ok("POST", f"/api/orders/{w.ids['order']}/operations", json={"number": 20, "programs": ["O2000"]})
    return int(op["id"])


async def test_the_order_page_shows_pending_parts_a_mismatch_and_takes_a_masters_verdict(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    op20 = await _op20(w)
    await w.ok(
        "POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20}
    )
    add_cycle(w.sessions, w.machines["mill"], at(1), at(4))  # runs O1000: operation 10's program, not 20's
    w.clock.now = at(5)
    order = w.ids["order"]
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get(f"/orders/{order}", headers=w.as_("admin"))
        assert page.status_code == 200, page.text
        row = re.search(r'<tr id="operation-20">(.*?)</tr>', page.text, re.S)
        assert row is not None
        assert re.search(r'class="num pending">1<', row.group(1))
        assert "En attente du premier article sur mill" in row.group(1)
        assert "Programme O1000 ≠ opération 20 (O2000)" in page.text
        assert 'id="approve-form"' in page.text
        viewer = await client.get(f"/orders/{order}", headers=w.as_("viewer"))
        assert viewer.status_code == 200
        assert 'id="approve-form"' not in viewer.text
        form = {"operation_id": str(op20), "machine_id": str(w.machines["mill"]), "verdict": "OK", "measured": "Ø20,01"}
        refused = await client.post(f"/orders/{order}/first-part", data=form, headers=w.as_("viewer"))
        assert refused.status_code == 403
        foreign = await client.post(
            f"/orders/{order}/first-part", data=form, headers={**w.as_("admin"), "Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
        nok = await client.post(f"/orders/{order}/first-part", data={**form, "verdict": "NOK"}, headers=w.as_("admin"))
        assert nok.status_code == 422
        assert "demande une note" in nok.text
        garbled = await client.post(
            f"/orders/{order}/first-part", data={**form, "operation_id": "x" * 5000}, headers=w.as_("admin")
        )
        assert garbled.status_code == 422
        wrong = await client.post(
            f"/orders/{order}/first-part", data={**form, "verdict": "maybe"}, headers=w.as_("admin")
        )
        assert wrong.status_code == 422
        assert w.count(FirstPartApproval) == 0
        done = await client.post(f"/orders/{order}/first-part", data=form, headers=w.as_("admin"))
        assert done.status_code == 303, done.text
        after = await client.get(done.headers["location"], headers=w.as_("admin"))
        assert "Verdict du premier article enregistré." in after.text
        assert re.search(r'<tr class="verdict-ok">.*?Ø20,01.*?master', after.text, re.S)
        assert re.search(r'<strong id="good">1</strong>', after.text)


async def test_the_kiosk_offers_each_operation_of_its_machine_and_the_first_part_card(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    lathes = await w.ok("POST", "/api/machine-groups", json={"name": "Tournage", "machine_ids": [w.machines["lathe"]]})
    await _op20(w)
    await w.ok("POST", f"/api/orders/{w.ids['order']}/operations", json={"number": 30, "group_id": lathes["id"]})
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get("/kiosk/mill", headers=w.as_("kiosk"))
        assert page.status_code == 200
        offered = re.findall(r'data-operation="(\d+)"', page.text)
        assert offered == ["10", "20"]  # operation 30 is done on the lathe
        await w.ok(
            "POST",
            "/api/sessions/check-in",
            "kiosk",
            json={"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20},
        )
        page = await client.get("/kiosk/mill", headers=w.as_("kiosk"))
        assert re.search(r'id="present-operation">20<', page.text)
        assert 'id="first-part-pending"' in page.text
        assert 'id="first-part"' in page.text


def test_the_wall_tile_flags_a_program_that_is_not_the_operations() -> None:
    occupant = Occupant(
        student="Léa M.",
        student_id=1,
        order_id=1,
        order="PO-1 · BRK-01",
        ordered=10,
        good=0,
        standard_s=60.0,
        operation=Step(id=2, number=20, programs=("O2000",)),
    )
    message = {"type": "machine", "machine": {"site": "lyon", "id": "mill", "program": "O1234"}}
    work = enrich(message, {("lyon", "mill"): occupant}, role=None)["machine"]["work"]
    assert work["mismatch"] == {"program": "O1234", "operation": 20, "expected": ["O2000"]}
    assert work["operation"] == 20
    assert work["student"] is None  # an anonymous screen still never reads the minor's name
    right = {"type": "machine", "machine": {"site": "lyon", "id": "mill", "program": "O2000"}}
    assert enrich(right, {("lyon", "mill"): occupant}, role=None)["machine"]["work"]["mismatch"] is None


async def test_the_desk_edits_an_orders_operations_and_refuses_beside_them(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    order = w.ids["order"]
    admin = w.as_("admin")
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get(f"/desk/orders/{order}/edit", headers=admin)
        assert page.status_code == 200
        assert 'id="op-10"' in page.text
        new = {
            "number": "20",
            "label": "Fraisage",
            "group_id": str(w.ids["workshop"]),
            "programs": "O2000  O2001",
            "standard_cycle_s": "1:30",
            "standard_setup_s": "20:00",
            "first_part": "1",
        }
        added = await client.post(f"/desk/orders/{order}/operations/new", data=new, headers=admin)
        assert added.status_code == 303, added.text
        again = await client.post(f"/desk/orders/{order}/operations/new", data=new, headers=admin)
        assert again.status_code == 422
        assert "a déjà une opération 20" in again.text
        bad = await client.post(
            f"/desk/orders/{order}/operations/new",
            data={**new, "number": "vingt", "standard_cycle_s": "x"},
            headers=admin,
        )
        assert bad.status_code == 422
        assert 'id="operation-error"' in bad.text
        ops = {o["number"]: o for o in await w.ok("GET", f"/api/orders/{order}/operations")}
        assert (ops[20]["programs"], ops[20]["standard_cycle_s"], ops[20]["standard_setup_s"]) == (
            ["O2000", "O2001"],
            90.0,
            1200.0,
        )
        assert (ops[20]["group_id"], ops[20]["first_part"]) == (w.ids["workshop"], True)
        saved = await client.post(
            f"/desk/orders/{order}/operations/{ops[20]['id']}/save", data={**new, "label": "Reprise"}, headers=admin
        )
        assert saved.status_code == 303
        await w.ok(
            "POST",
            "/api/sessions/check-in",
            json={"machine": "mill", "student_id": w.ids["student"], "order_id": order, "operation": 10},
        )
        used = await client.post(f"/desk/orders/{order}/operations/{ops[10]['id']}/remove", headers=admin)
        assert used.status_code == 422
        assert "ne peut plus être supprimée" in used.text
        removed = await client.post(f"/desk/orders/{order}/operations/{ops[20]['id']}/remove", headers=admin)
        assert removed.status_code == 303
        viewer = await client.post(f"/desk/orders/{order}/operations/new", data=new, headers=w.as_("viewer"))
        assert viewer.status_code == 403
        foreign = await client.post(
            f"/desk/orders/{order}/operations/new", data=new, headers={**admin, "Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
    assert [o["number"] for o in await w.ok("GET", f"/api/orders/{order}/operations")] == [10]


async def test_the_desk_gives_a_master_a_badge_never_a_students(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    master = next(u for u in await w.ok("GET", "/api/users") if u["username"] == "master")
    admin = w.as_("admin")
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get("/desk/users", headers=admin)
        assert f'action="/desk/users/{master["id"]}/badge"' in page.text
        taken = await client.post(f"/desk/users/{master['id']}/badge", data={"badge": "B-LEA"}, headers=admin)
        assert taken.status_code == 422
        assert "déjà attribué" in taken.text
        given = await client.post(f"/desk/users/{master['id']}/badge", data={"badge": " M-ROUX "}, headers=admin)
        assert given.status_code == 303
        shown = await client.get(given.headers["location"], headers=admin)
        assert 'value="M-ROUX"' in shown.text
    assert next(u for u in await w.ok("GET", "/api/users") if u["username"] == "master")["badge"] == "M-ROUX"


async def test_the_desk_corrects_a_sessions_operation(world: World, databases: dict[str, str], backend: str) -> None:
    w = world
    op20 = await _op20(w)
    order = w.ids["order"]
    session = await w.ok(
        "POST",
        "/api/sessions/check-in",
        json={"machine": "mill", "student_id": w.ids["student"], "order_id": order, "operation": 10},
    )
    admin = w.as_("admin")
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get(f"/desk/sessions/{session['id']}", headers=admin)
        assert page.status_code == 200, page.text
        assert f'<option value="{op20}"' in page.text
        form = {"student_id": str(w.ids["student"]), "order_id": str(order), "operation_id": str(op20)}
        form["started"] = re.search(r'name="started"[^>]*value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        saved = await client.post(f"/desk/sessions/{session['id']}", data={**form, "ended": ""}, headers=admin)
        assert saved.status_code == 303, saved.text
    [row] = await w.ok("GET", "/api/sessions")
    assert row["operation_id"] == op20
