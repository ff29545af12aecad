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
        ("POST", "/api/customers", {"name": "Acme"}, 409, "customer_name_taken"),
        ("POST", "/api/customers", {"name": "New", "vat": "x"}, 422, "Extra inputs"),
        ("PATCH", "/api/customers/999999", {"contact": "x"}, 404, "customer_not_found"),
        ("PATCH", "/api/customers/{customer}", {"name": None}, 422, "cannot be null"),
        ("PATCH", "/api/customers/0", {"contact": "x"}, 422, "greater than or equal"),
        ("DELETE", "/api/customers/{customer}", None, 409, "customer_has_orders"),
        ("DELETE", "/api/customers/999999", None, 404, "customer_not_found"),
        ("POST", "/api/orders", {**order, "quantity": -5}, 422, "greater than or equal to 1"),
        ("POST", "/api/orders", {**order, "quantity": "ten"}, 422, "integer"),
        ("POST", "/api/orders", {**order, "customer_id": 999999}, 404, "customer_not_found"),
        ("POST", "/api/orders", {**order, "customer_id": BIG}, 422, "less than or equal"),
        ("POST", "/api/orders", {**order, "reference": "PO-1"}, 409, "order_reference_taken"),
        ("POST", "/api/orders", {**order, "due": "2026-12-01T00:00:00"}, 422, "timezone"),
        ("POST", "/api/orders", {**order, "standard_cycle_s": -1}, 422, "greater than 0"),
        ("POST", "/api/orders", {**order, "reference": "a\x00b"}, 422, "NUL"),
        ("PATCH", "/api/orders/{order}", {"quantity": 0}, 422, "greater than or equal to 1"),
        ("PATCH", "/api/orders/{order}", {"status": "lost"}, 422, "open"),
        ("PATCH", "/api/orders/999999", {"quantity": 3}, 404, "order_not_found"),
        ("DELETE", "/api/orders/999999", None, 404, "order_not_found"),
        ("POST", "/api/students", {**student, "badge": "B-LEA"}, 409, "badge_taken"),
        ("POST", "/api/students", {**student, "track": "MASTER"}, 422, "CAP"),
        ("POST", "/api/students", {**student, "last_initial": "Martin"}, 422, "at most 2"),
        ("POST", "/api/students", [student], 422, "object"),
        ("PATCH", "/api/students/{student}", {"badge": "B-TOM"}, 409, "badge_taken"),
        ("PATCH", "/api/students/{student}", {"active": "maybe"}, 422, "boolean"),
        ("DELETE", "/api/students/999999", None, 404, "student_not_found"),
        (
            "POST",
            "/api/sessions/check-in",
            {"machine": "mill", "badge": "B-LEA", "student_id": ids["student"]},
            422,
            "either",
        ),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "badge": "NOPE"}, 404, "badge_unknown"),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "student_id": 999999}, 404, "student_not_found"),
        ("POST", "/api/sessions/check-in", {"machine": "router", "badge": "B-LEA"}, 404, "machine_unknown"),
        (
            "POST",
            "/api/sessions/check-in",
            {"machine": "lathe", "badge": "B-LEA", "order_id": 999999},
            404,
            "order_not_found",
        ),
        ("POST", "/api/sessions/check-in", {"machine": "mill", "badge": "B-LEA"}, 409, "machine_taken"),
        ("POST", "/api/sessions/check-in", {"machine": "lathe", "badge": "B-TOM"}, 409, "student_busy"),
        ("POST", "/api/sessions/check-in", {"badge": "B-LEA"}, 422, "machine_required"),
        ("POST", "/api/sessions/check-out", {"machine": "lathe"}, 409, "nobody_checked_in"),
        ("POST", "/api/sessions/check-out", {"machine": 7}, 422, "string"),
        ("POST", "/api/sessions", past, 422, "session_ends_before_start"),
        (
            "POST",
            "/api/sessions",
            {**past, "ended": at(20).isoformat(), "student_id": 999999},
            404,
            "student_not_found",
        ),
        ("PATCH", "/api/sessions/999999", {"order_id": ids["order"]}, 404, "work_session_not_found"),
        ("PATCH", "/api/sessions/{open_session}", {"started": None}, 422, "cannot be null"),
        ("POST", "/api/cycles/999999/assignment", {"session_id": ids["open_session"]}, 404, "cycle_not_found"),
        ("POST", "/api/cycles/{cycle}/assignment", {"session_id": 999999}, 404, "work_session_not_found"),
        ("POST", "/api/scrap", {**scrap, "quantity": -1}, 422, "greater than or equal to 1"),
        ("POST", "/api/scrap", {**scrap, "quantity": 0}, 422, "greater than or equal to 1"),
        ("POST", "/api/scrap", {**scrap, "order_id": 999999}, 404, "order_not_found"),
        ("POST", "/api/scrap", {**scrap, "ts": "yesterday"}, 422, "datetime"),
        ("POST", "/api/users", {"username": "x1", "password": "short", "role": "admin"}, 422, "password_too_short"),
        ("POST", "/api/users", {"username": "master", "password": "long-enough", "role": "admin"}, 409, "taken"),
        (
            "POST",
            "/api/users",
            {"username": "x2", "password": "long-enough", "role": "student"},
            422,
            "student_login_needs_student",
        ),
        ("POST", "/api/users", {"username": "a b", "password": "long-enough", "role": "admin"}, 422, "pattern"),
        ("POST", "/api/tokens", {"role": "kiosk", "label": "k"}, 422, "kiosk_token_needs_machine"),
        ("POST", "/api/tokens", {"role": "kiosk", "label": "k", "machine": "router"}, 404, "machine_unknown"),
        ("POST", "/api/tokens", {"role": "viewer", "label": "v", "machine": "mill"}, 422, "token_machine_only_kiosk"),
        ("POST", "/api/tokens", {"role": "admin", "label": "v"}, 422, "kiosk"),
        ("DELETE", "/api/tokens/999999", None, 404, "api_token_not_found"),
        (
            "POST",
            "/api/auth/login",
            {"username": "master", "password": "wrong-pass"},
            401,
            "login_failed",
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
    await w.authorise(tom["id"])
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
