"""First-part sign-off: pending parts are not good, an OK unlocks the series, a NOK is scrap and keeps it pending;
masters approve by badge at the kiosk (a student's badge is refused) or logged in; a master's badge ends a session."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.store.models import FirstPartApproval, ScrapRecord, WorkSessionRecord
from tests.gateway.records.conftest import World, add_cycle, at

CHECK_IN = "/api/sessions/check-in"
MASTER_BADGE = "M-ROUX"


async def _setup(w: World) -> dict[int, int]:
    """Operation 20 (milling, first part required) after the order's operation 10; the master has a badge."""
    order = w.ids["order"]
    await w.ok("POST", f"/api/orders/{order}/operations", json={"number": 20, "programs": ["O2000"]})
    masters = [u for u in await w.ok("GET", "/api/users") if u["username"] == "master"]
    await w.ok("PUT", f"/api/users/{masters[0]['id']}/badge", json={"badge": MASTER_BADGE})
    return {o["number"]: o["id"] for o in await w.ok("GET", f"/api/orders/{order}/operations")}


async def _progress(w: World) -> tuple[int, int, int, int]:
    found = await w.ok("GET", f"/api/orders/{w.ids['order']}/progress")
    last = found["operations"][-1]
    assert (found["good"], found["pending"]) == (last["good"], last["pending"])
    return last["made"], last["good"], last["scrap"], last["pending"]


async def _approve(w: World, op: int, role: str | None = "kiosk", **body: Any) -> Any:
    return await w.call("POST", f"/api/operations/{op}/first-part", role, json=body)


async def test_pending_parts_are_not_good_until_a_master_badge_says_ok(world: World) -> None:
    w = world
    ops = await _setup(w)
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20})
    add_cycle(w.sessions, w.machines["mill"], at(1), at(4))
    add_cycle(w.sessions, w.machines["mill"], at(5), at(8))
    w.clock.now = at(10)
    assert await _progress(w) == (2, 0, 0, 2)
    student = await _approve(w, ops[20], verdict="OK", badge="B-LEA")
    assert (student.status_code, student.json()["detail"]["code"]) == (403, "master_badge_required")
    unknown = await _approve(w, ops[20], verdict="OK", badge="B-NOBODY")
    assert (unknown.status_code, unknown.json()["detail"]["code"]) == (404, "badge_unknown")
    bare = await _approve(w, ops[20], verdict="OK")
    assert (bare.status_code, bare.json()["detail"]["code"]) == (422, "badge_required")
    assert w.count(FirstPartApproval) == 0
    ok = await _approve(w, ops[20], verdict="OK", badge=MASTER_BADGE, measured="Ø12,02")
    assert ok.status_code == 201, ok.text
    assert (ok.json()["by"], ok.json()["measured"], ok.json()["verdict"]) == ("master", "Ø12,02", "OK")
    assert await _progress(w) == (2, 2, 0, 0)


async def test_nok_is_scrap_with_its_reason_and_the_series_stays_pending(world: World) -> None:
    w = world
    ops = await _setup(w)
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20})
    add_cycle(w.sessions, w.machines["mill"], at(1), at(4))
    w.clock.now = at(5)
    no_note = await _approve(w, ops[20], "admin", machine="mill", verdict="NOK")
    assert (no_note.status_code, no_note.json()["detail"]["code"]) == (422, "nok_needs_note")
    nok = await _approve(w, ops[20], "admin", machine="mill", verdict="NOK", measured="12,3", note="alésage hors cote")
    assert nok.status_code == 201, nok.text
    with w.sessions() as db:
        scrap = db.get_one(ScrapRecord, nok.json()["scrap_id"])
        assert (scrap.reason, scrap.quantity, scrap.operation_id) == (
            "Premier article non conforme: alésage hors cote",
            1,
            ops[20],
        )
    assert await _progress(w) == (1, 0, 1, 1)
    add_cycle(w.sessions, w.machines["mill"], at(6), at(9))
    add_cycle(w.sessions, w.machines["mill"], at(10), at(13))
    w.clock.now = at(14)
    assert await _progress(w) == (3, 0, 1, 3)
    await _approve(w, ops[20], verdict="OK", badge=MASTER_BADGE, measured="12,01")
    assert await _progress(w) == (3, 2, 1, 0)  # the NOK part is scrap, the other two are good
    listed = await w.ok("GET", f"/api/orders/{w.ids['order']}/first-parts")
    assert [a["verdict"] for a in listed] == ["NOK", "OK"]


async def test_a_second_student_continues_the_series_a_new_setup_needs_a_new_approval(world: World) -> None:
    w = world
    ops = await _setup(w)
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    tom_id = (await w.ok("POST", "/api/students", json=tom))["id"]
    await w.authorise(tom_id)
    on_20 = {"order_id": w.ids["order"], "operation": 20}
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", **on_20})
    add_cycle(w.sessions, w.machines["mill"], at(1), at(4))
    w.clock.now = at(5)
    await _approve(w, ops[20], verdict="OK", badge=MASTER_BADGE)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(6)
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-TOM", **on_20})  # the same series goes on
    add_cycle(w.sessions, w.machines["mill"], at(7), at(10))
    w.clock.now = at(11)
    assert await _progress(w) == (2, 2, 0, 0)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-TOM"})
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-TOM", "order_id": w.ids["order"], "operation": 10})
    w.clock.now = at(20)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-TOM"})
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", **on_20})  # set up again after op 10
    add_cycle(w.sessions, w.machines["mill"], at(21), at(24))
    w.clock.now = at(25)
    assert await _progress(w) == (3, 2, 0, 1)


async def test_no_series_no_approval_and_a_master_badge_ends_any_session(world: World) -> None:
    w = world
    ops = await _setup(w)
    early = await _approve(w, ops[20], verdict="OK", badge=MASTER_BADGE)
    assert (early.status_code, early.json()["detail"]["code"]) == (409, "no_series")
    session = await w.ok(
        "POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20}
    )
    w.clock.now = at(30)
    ended = await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": MASTER_BADGE})
    assert (ended["id"], ended["closed_by"]) == (session["id"], "master")
    with w.sessions() as db:
        assert db.get_one(WorkSessionRecord, session["id"]).ended is not None


async def test_a_master_badge_never_collides_with_a_student_badge(world: World) -> None:
    w = world
    master = next(u for u in await w.ok("GET", "/api/users") if u["username"] == "master")
    taken = await w.call("PUT", f"/api/users/{master['id']}/badge", json={"badge": "B-LEA"})
    assert (taken.status_code, taken.json()["detail"]["code"]) == (409, "badge_taken")
    await w.ok("PUT", f"/api/users/{master['id']}/badge", json={"badge": MASTER_BADGE})
    student = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": MASTER_BADGE}
    clash = await w.call("POST", "/api/students", json=student)
    assert (clash.status_code, clash.json()["detail"]["code"]) == (409, "badge_taken")
    moved = await w.call("PATCH", f"/api/students/{w.ids['student']}", json={"badge": MASTER_BADGE})
    assert moved.status_code == 409
    lea = next(u for u in await w.ok("GET", "/api/users") if u["username"] == "lea")
    not_master = await w.call("PUT", f"/api/users/{lea['id']}/badge", json={"badge": "X-1"})
    assert (not_master.status_code, not_master.json()["detail"]["code"]) == (422, "badge_master_only")
    huge = await w.call("PUT", f"/api/users/{master['id']}/badge", json={"badge": "x" * 100})
    assert huge.status_code == 422
    cleared = await w.ok("PUT", f"/api/users/{master['id']}/badge", json={"badge": None})
    assert cleared["badge"] is None


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 201), ("kiosk", 201), ("viewer", 403), ("student", 403), (None, 401)]
)
async def test_every_role_on_the_first_part_routes(world: World, role: str | None, expected: int) -> None:
    w = world
    ops = await _setup(w)
    await w.ok(
        "POST",
        CHECK_IN,
        json={"machine": "mill", "student_id": w.ids["student"], "order_id": w.ids["order"], "operation": 20},
    )
    body = {"verdict": "OK", "machine": "mill", "badge": MASTER_BADGE}
    response = await _approve(w, ops[20], role, **body)
    assert response.status_code == expected, response.text
    assert w.count(FirstPartApproval) == (1 if expected == 201 else 0)
    listed = await w.call("GET", f"/api/orders/{w.ids['order']}/first-parts", role)
    assert listed.status_code == (200 if role == "admin" else 401 if role is None else 403)
    badge = await w.call("PUT", "/api/users/1/badge", role, json={"badge": "Z-9"})
    assert badge.status_code in ((200, 404) if role == "admin" else (401,) if role is None else (403,))


async def test_the_students_log_and_export_carry_the_approval(world: World) -> None:
    from gateway.store.reports_repo import student_log

    w = world
    ops = await _setup(w)
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"], "operation": 20})
    add_cycle(w.sessions, w.machines["mill"], at(1), at(4))
    w.clock.now = at(5)
    await _approve(w, ops[20], verdict="OK", badge=MASTER_BADGE, measured="Ø12,02", note="bon")
    with w.sessions() as db:
        log = student_log(db=db, student_id=w.ids["student"], now=w.clock.now)
    [approval] = log.approvals
    assert (approval.by, approval.verdict, approval.measured, approval.at) == ("master", "OK", "Ø12,02", at(5))
    assert log.operation_number(log.sessions[0]) == 20
    exported = await w.ok("GET", f"/api/students/{w.ids['student']}/export", "student")
    assert [a["measured"] for a in exported["first_part_approvals_on_their_sessions"]] == ["Ø12,02"]
    other = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    tom = (await w.ok("POST", "/api/students", json=other))["id"]
    with w.sessions() as db:
        assert student_log(db=db, student_id=tom, now=w.clock.now).approvals == []  # only one's own
