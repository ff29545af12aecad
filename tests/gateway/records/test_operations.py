"""Orders with operations: check-in per operation, its refusals, and progress counting the last operation only."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.store.models import AuditEntry, OperationRecord, WorkSessionRecord
from tests.gateway.records.conftest import World, add_cycle, at

CHECK_IN = "/api/sessions/check-in"


async def _two_operations(w: World, *, first_part: bool = False) -> dict[int, int]:
    """Operation 10 (the order's own) on any machine, operation 20 on the mill only (its own group)."""
    order = w.ids["order"]
    mills = await w.ok("POST", "/api/machine-groups", json={"name": "Fraisage", "machine_ids": [w.machines["mill"]]})
    op20 = {"number": 20, "label": "Fraisage", "group_id": mills["id"], "programs": ["O2000"], "first_part": first_part}
    await w.ok("POST", f"/api/orders/{order}/operations", json=op20)
    listed = await w.ok("GET", f"/api/orders/{order}/operations")
    return {o["number"]: o["id"] for o in listed}


async def _check_in(w: World, **body: Any) -> Any:
    return await w.call("POST", CHECK_IN, "admin", json={"machine": "mill", "student_id": w.ids["student"], **body})


async def test_an_order_gets_operation_10_from_its_programs_and_standard(world: World) -> None:
    w = world
    order = await w.ok("GET", f"/api/orders/{w.ids['order']}")
    [op10] = order["operations"]
    assert (op10["number"], op10["programs"], op10["standard_cycle_s"], op10["first_part"]) == (
        10,
        ["O1000"],
        300,
        False,
    )
    routed = {
        "customer_id": w.ids["customer"],
        "reference": "PO-2",
        "part_number": "AXE-2",
        "quantity": 5,
        "operations": [
            {"number": 10, "programs": ["O10"]},
            {"number": 20, "label": "Reprise", "standard_setup_s": 600},
        ],
    }
    made = await w.ok("POST", "/api/orders", json=routed)
    assert [(o["number"], o["label"], o["first_part"]) for o in made["operations"]] == [
        (10, "", True),
        (20, "Reprise", True),
    ]
    twice = {**routed, "reference": "PO-3", "operations": [{"number": 10}, {"number": 10}]}
    refused = await w.call("POST", "/api/orders", json=twice)
    assert (refused.status_code, refused.json()["detail"]["code"]) == (409, "operation_number_taken")
    with w.sessions() as db:
        assert db.query(OperationRecord).filter_by(number=10).count() == 2  # nothing of PO-3 was written


async def test_one_operation_needs_no_choice_several_need_one(world: World) -> None:
    w = world
    session = await _check_in(w, order_id=w.ids["order"])
    ops = {o["number"]: o["id"] for o in await w.ok("GET", f"/api/orders/{w.ids['order']}/operations")}
    assert session.json()["operation_id"] == ops[10]
    w.clock.now = at(10)
    await w.ok("POST", "/api/sessions/check-out", json={"machine": "mill"})
    ops = await _two_operations(w)
    before = w.count(WorkSessionRecord)
    missing = await _check_in(w, order_id=w.ids["order"])
    assert missing.status_code == 422, missing.text
    detail = missing.json()["detail"]
    assert detail["code"] == "operation_required"
    assert "PO-1" in detail["message"]
    assert "10, 20" in detail["message"]
    by_number = await _check_in(w, order_id=w.ids["order"], operation=20)
    assert by_number.status_code == 201, by_number.text
    assert by_number.json()["operation_id"] == ops[20]
    assert w.count(WorkSessionRecord) == before + 1


async def test_an_operation_of_another_order_or_another_machine_is_refused(world: World) -> None:
    w = world
    ops = await _two_operations(w)
    other = {"customer_id": w.ids["customer"], "reference": "PO-9", "part_number": "X", "quantity": 1}
    foreign = (await w.ok("POST", "/api/orders", json=other))["operations"][0]["id"]
    before = (w.count(WorkSessionRecord), w.count(AuditEntry))
    cases = [
        ({"operation_id": foreign}, 422, "operation_not_of_order"),
        ({"operation": 30}, 422, "operation_not_of_order"),
        ({"operation_id": ops[10], "operation": 20}, 422, "operation_not_of_order"),
    ]
    for body, code, name in cases:
        response = await _check_in(w, order_id=w.ids["order"], **body)
        assert (response.status_code, response.json()["detail"]["code"]) == (code, name), body
    lathe = await w.call(
        "POST",
        CHECK_IN,
        json={"machine": "lathe", "student_id": w.ids["student"], "order_id": w.ids["order"], "operation": 20},
    )
    assert (lathe.status_code, lathe.json()["detail"]["code"]) == (409, "operation_other_machine")
    assert "lathe" in lathe.json()["detail"]["message"]
    practice = await _check_in(w, operation=10)
    assert (practice.status_code, practice.json()["detail"]["code"]) == (422, "operation_no_order")
    assert (w.count(WorkSessionRecord), w.count(AuditEntry)) == before
    garbled = await _check_in(w, order_id=w.ids["order"], operation="vingt")
    assert garbled.status_code == 422
    huge = await _check_in(w, order_id=w.ids["order"], operation_id=2**40)
    assert huge.status_code == 422


async def test_the_kiosk_checks_in_on_an_operation_by_number(world: World) -> None:
    w = world
    ops = await _two_operations(w)
    body = {"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20}
    session = await w.ok("POST", CHECK_IN, "kiosk", json=body)
    assert session["operation_id"] == ops[20]
    again = await w.call("POST", CHECK_IN, "kiosk", json=body)
    assert (again.status_code, again.json()["id"]) == (200, session["id"])  # the same check-in again


async def test_a_part_made_at_op_10_then_op_20_counts_once(world: World) -> None:
    w = world
    await _two_operations(w)
    order = w.ids["order"]
    await w.ok(
        "POST", CHECK_IN, json={"machine": "lathe", "student_id": w.ids["student"], "order_id": order, "operation": 10}
    )
    for k in range(3):
        add_cycle(w.sessions, w.machines["lathe"], at(1 + 5 * k), at(4 + 5 * k))
    w.clock.now = at(20)
    await w.ok("POST", "/api/sessions/check-out", json={"machine": "lathe"})
    await _check_in(w, order_id=order, operation=20)
    for k in range(2):
        add_cycle(w.sessions, w.machines["mill"], at(21 + 5 * k), at(24 + 5 * k))
    w.clock.now = at(40)
    scrap = {"machine": "mill", "order_id": order, "quantity": 1, "reason": "burr", "inspected_by": "master"}
    declared = await w.ok("POST", "/api/scrap", json=scrap)
    ops = await w.ok("GET", f"/api/orders/{order}/operations")
    assert declared["operation_id"] == ops[1]["id"]
    found = await w.ok("GET", f"/api/orders/{order}/progress")
    assert (found["made"], found["scrap"], found["good"], found["remaining"]) == (2, 1, 1, 9)
    per = {o["number"]: (o["made"], o["good"], o["scrap"], o["pending"]) for o in found["operations"]}
    assert per == {10: (3, 3, 0, 0), 20: (2, 1, 1, 0)}


async def test_operations_are_edited_and_deleted_only_while_unused(world: World) -> None:
    w = world
    order = w.ids["order"]
    ops = await _two_operations(w)
    path = f"/api/orders/{order}/operations/{ops[20]}"
    changed = await w.ok("PATCH", path, json={"programs": ["O2001"], "standard_cycle_s": 90, "group_id": None})
    assert (changed["programs"], changed["standard_cycle_s"], changed["group_id"]) == (["O2001"], 90, None)
    taken = await w.call("PATCH", path, json={"number": 10})
    assert (taken.status_code, taken.json()["detail"]["code"]) == (409, "operation_number_taken")
    null = await w.call("PATCH", path, json={"number": None})
    assert null.status_code == 422
    other = {"customer_id": w.ids["customer"], "reference": "PO-9", "part_number": "X", "quantity": 1}
    elsewhere = (await w.ok("POST", "/api/orders", json=other))["id"]
    wrong_order = await w.call("DELETE", f"/api/orders/{elsewhere}/operations/{ops[20]}")
    assert wrong_order.status_code == 404
    await _check_in(w, order_id=order, operation=10)
    used = await w.call("DELETE", f"/api/orders/{order}/operations/{ops[10]}")
    assert (used.status_code, used.json()["detail"]["code"]) == (409, "operation_in_use")
    assert (await w.call("DELETE", path)).status_code == 204
    assert [o["number"] for o in await w.ok("GET", f"/api/orders/{order}/operations")] == [10]
    unknown_group = await w.call("POST", f"/api/orders/{order}/operations", json={"number": 30, "group_id": 999})
    assert unknown_group.status_code == 404


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 200), ("kiosk", 403), ("viewer", 403), ("student", 403), (None, 401)]
)
async def test_every_role_on_the_operation_routes(world: World, role: str | None, expected: int) -> None:
    w = world
    order = w.ids["order"]
    op10 = (await w.ok("GET", f"/api/orders/{order}/operations"))[0]["id"]
    calls = [
        ("GET", f"/api/orders/{order}/operations", None, 200),
        ("POST", f"/api/orders/{order}/operations", {"number": 40}, 201),
        ("PATCH", f"/api/orders/{order}/operations/{op10}", {"label": "Tournage"}, 200),
        ("GET", f"/api/orders/{order}/first-parts", None, 200),
    ]
    for method, path, body, ok in calls:
        response = await w.call(method, path, role, json=body)
        assert response.status_code == (ok if expected == 200 else expected), (method, path, response.text)
    removed = await w.call("DELETE", f"/api/orders/{order}/operations/{op10}", role)
    assert removed.status_code == (204 if role == "admin" else expected)
    with w.sessions() as db:
        left = [o.number for o in db.query(OperationRecord).filter_by(order_id=order)]
    assert left == ([40] if role == "admin" else [10])  # nothing written by any other role


async def test_the_pace_and_projection_are_the_last_operations(world: World) -> None:
    """Op 10 turns a part a minute, op 20 mills one every five: the order finishes at op 20's pace."""
    w = world
    await _two_operations(w)
    order = w.ids["order"]
    await w.ok(
        "POST", CHECK_IN, json={"machine": "lathe", "student_id": w.ids["student"], "order_id": order, "operation": 10}
    )
    for k in range(10):
        add_cycle(w.sessions, w.machines["lathe"], at(1 + k), at(1.5 + k))
    w.clock.now = at(12)
    await w.ok("POST", "/api/sessions/check-out", json={"machine": "lathe"})
    await _check_in(w, order_id=order, operation=20)
    for k in range(3):
        add_cycle(w.sessions, w.machines["mill"], at(31 + 5 * k), at(34 + 5 * k))
    w.clock.now = at(45)
    found = await w.ok("GET", f"/api/orders/{order}/progress")
    # Op 20's three cycles: from 31 to 44 minutes is 780 s for 3 parts.
    assert found["seconds_per_part"] == 260.0
    assert (found["made"], found["remaining"]) == (3, 7)
