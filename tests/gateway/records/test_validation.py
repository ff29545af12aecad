"""Invalid input on every write route: 422 malformed, 404 unknown id, 409 clash, with a message; nothing written."""

from __future__ import annotations

from typing import Any

from gateway.store.models import Base
from tests.gateway.records.conftest import World, add_cycle, at

BIG = 2**40
Case = tuple[str, str, Any, int, str]  # method, path (formatted with ids), body, status, fragment of the message


def cases(ids: dict[str, int]) -> list[Case]:
    order = {"customer_id": ids["customer"], "reference": "PO-2", "part_number": "P", "quantity": 5}
    student = {"first_name": "Ana", "last_initial": "K", "class_name": "BP1", "track": "BAC_PRO"}
    scrap = {"order_id": ids["order"], "quantity": 1, "reason": "burr", "inspected_by": "M. Roux", "machine": "mill"}
    past = {"machine": "lathe", "student_id": ids["student"], "started": at(10).isoformat(), "ended": at(5).isoformat()}
    return [
        ("POST", "/api/customers", {"name": 5}, 422, "string"),
        ("POST", "/api/customers", {"name": ""}, 422, "at least 1"),
        ("POST", "/api/customers", {"name": "Acme"}, 409, "already exists"),
        ("POST", "/api/customers", {"name": "New", "vat": "x"}, 422, "Extra inputs"),
        ("PATCH", "/api/customers/999999", {"contact": "x"}, 404, "no customer with id 999999"),
        ("PATCH", "/api/customers/{customer}", {"name": None}, 422, "cannot be null"),
        ("PATCH", "/api/customers/0", {"contact": "x"}, 422, "greater than or equal"),
        ("DELETE", "/api/customers/{customer}", None, 409, "still has 1 order"),
        ("DELETE", "/api/customers/999999", None, 404, "no customer"),
        ("POST", "/api/orders", {**order, "quantity": -5}, 422, "greater than or equal to 1"),
        ("POST", "/api/orders", {**order, "quantity": "ten"}, 422, "integer"),
        ("POST", "/api/orders", {**order, "customer_id": 999999}, 404, "no customer"),
        ("POST", "/api/orders", {**order, "customer_id": BIG}, 422, "less than or equal"),
        ("POST", "/api/orders", {**order, "reference": "PO-1"}, 409, "already has an order"),
        ("POST", "/api/orders", {**order, "due": "2026-12-01T00:00:00"}, 422, "timezone"),
        ("POST", "/api/orders", {**order, "standard_cycle_s": -1}, 422, "greater than 0"),
        ("POST", "/api/orders", {**order, "reference": "a\x00b"}, 422, "NUL"),
        ("PATCH", "/api/orders/{order}", {"quantity": 0}, 422, "greater than or equal to 1"),
        ("PATCH", "/api/orders/{order}", {"status": "lost"}, 422, "open"),
        ("PATCH", "/api/orders/999999", {"quantity": 3}, 404, "no order"),
        ("DELETE", "/api/orders/999999", None, 404, "no order"),
        ("POST", "/api/students", {**student, "badge": "B-LEA"}, 409, "badge 'B-LEA' is already given"),
        ("POST", "/api/students", {**student, "track": "MASTER"}, 422, "CAP"),
        ("POST", "/api/students", {**student, "last_initial": "Martin"}, 422, "at most 2"),
        ("POST", "/api/students", [student], 422, "object"),
        ("PATCH", "/api/students/{student}", {"badge": "B-TOM"}, 409, "already given"),
        ("PATCH", "/api/students/{student}", {"active": "maybe"}, 422, "boolean"),
        ("DELETE", "/api/students/999999", None, 404, "no student"),
        (
            "POST",
            "/api/sessions/check-in",
            {"machine": "mill", "badge": "B-LEA", "student_id": ids["student"]},
            422,
            "either",
        ),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "badge": "NOPE"}, 404, "no student with badge"),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "student_id": 999999}, 404, "no student"),
        ("POST", "/api/sessions/check-in", {"machine": "router", "badge": "B-LEA"}, 404, "no machine 'router'"),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "badge": "B-LEA", "order_id": 999999}, 404, "no order"),
        ("POST", "/api/sessions/check-in", {"machine": "mill", "badge": "B-LEA"}, 409, "already taken"),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "badge": "B-TOM"}, 409, "already checked in"),
        ("POST", "/api/sessions/check-in", {"badge": "B-LEA"}, 422, "give the machine"),
        ("POST", "/api/sessions/check-out", {"machine": "lathe"}, 409, "nobody is checked in"),
        ("POST", "/api/sessions/check-out", {"machine": 7}, 422, "string"),
        ("POST", "/api/sessions", past, 422, "must end after it starts"),
        ("POST", "/api/sessions", {**past, "ended": at(20).isoformat(), "student_id": 999999}, 404, "no student"),
        ("PATCH", "/api/sessions/999999", {"order_id": ids["order"]}, 404, "no work session"),
        ("PATCH", "/api/sessions/{open_session}", {"started": None}, 422, "cannot be null"),
        ("POST", "/api/cycles/999999/assignment", {"session_id": ids["open_session"]}, 404, "no cycle"),
        ("POST", "/api/cycles/{cycle}/assignment", {"session_id": 999999}, 404, "no work session"),
        ("POST", "/api/scrap", {**scrap, "quantity": -1}, 422, "greater than or equal to 1"),
        ("POST", "/api/scrap", {**scrap, "quantity": 0}, 422, "greater than or equal to 1"),
        ("POST", "/api/scrap", {**scrap, "order_id": 999999}, 404, "no order"),
        ("POST", "/api/scrap", {**scrap, "ts": "yesterday"}, 422, "datetime"),
        ("POST", "/api/users", {"username": "x1", "password": "short", "role": "admin"}, 422, "at least 8"),
        ("POST", "/api/users", {"username": "master", "password": "long-enough", "role": "admin"}, 409, "taken"),
        ("POST", "/api/users", {"username": "x2", "password": "long-enough", "role": "student"}, 422, "student_id"),
        ("POST", "/api/users", {"username": "a b", "password": "long-enough", "role": "admin"}, 422, "pattern"),
        ("POST", "/api/tokens", {"role": "kiosk", "label": "k"}, 422, "needs the machine"),
        ("POST", "/api/tokens", {"role": "kiosk", "label": "k", "machine": "router"}, 404, "no machine"),
        ("POST", "/api/tokens", {"role": "viewer", "label": "v", "machine": "mill"}, 422, "only a kiosk"),
        ("POST", "/api/tokens", {"role": "admin", "label": "v"}, 422, "kiosk"),
        ("DELETE", "/api/tokens/999999", None, 404, "no API token"),
        (
            "POST",
            "/api/auth/login",
            {"username": "master", "password": "wrong-pass"},
            401,
            "wrong username or password",
        ),
    ]


def _counts(w: World) -> dict[str, int]:
    with w.sessions() as session:
        return {t.name: len(session.execute(t.select()).all()) for t in Base.metadata.sorted_tables}


async def test_invalid_input_is_refused_with_a_message_and_nothing_is_written(world: World) -> None:
    w = world
    tom = await w.ok(
        "POST",
        "/api/students",
        json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"},
    )
    w.ids["open_session"] = (
        await w.ok("POST", "/api/sessions/check-in", json={"machine": "mill", "student_id": tom["id"]})
    )["id"]
    w.ids["cycle"] = add_cycle(w.sessions, w.machines["lathe"], at(1), at(2))
    for method, path, body, status, fragment in cases(w.ids):
        before = _counts(w)
        role = None if path == "/api/auth/login" else "admin"
        response = await w.call(method, path.format(**w.ids), role, json=body)
        where = f"{method} {path} {body!r}"
        assert response.status_code == status, (where, response.status_code, response.text)
        assert fragment in response.text, (where, response.text)
        assert _counts(w) == before, where
