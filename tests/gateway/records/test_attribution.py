"""Attribution through the API on rows as ingest writes them: late, out of order, missing sessions, reassignment."""

from __future__ import annotations

from typing import Any

from gateway.store.models import AuditEntry, CycleAssignment, WorkSessionRecord
from tests.gateway.records.conftest import World, add_cycle, at


async def _check_in(w: World, machine: str, student_id: int, order_id: int | None, minute: float) -> Any:
    w.clock.now = at(minute)
    body = {"machine": machine, "student_id": student_id, "order_id": order_id}
    return await w.ok("POST", "/api/sessions/check-in", json=body)


async def _check_out(w: World, machine: str, minute: float) -> Any:
    w.clock.now = at(minute)
    return await w.ok("POST", "/api/sessions/check-out", json={"machine": machine})


async def _progress(w: World) -> Any:
    return await w.ok("GET", f"/api/orders/{w.ids['order']}/progress")


async def test_late_and_out_of_order_cycles_land_on_the_session_open_at_their_source_time(world: World) -> None:
    w = world
    await _check_in(w, "mill", w.ids["student"], w.ids["order"], 0)
    await _check_out(w, "mill", 60)
    other = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    await w.authorise(other["id"])
    await _check_in(w, "mill", other["id"], None, 60)  # Tom practises, no order
    w.clock.now = at(180)
    # Hours later, from an outbox, in reverse order: two cycles of Léa's session and one of Tom's.
    add_cycle(w.sessions, w.machines["mill"], at(70), at(75))
    add_cycle(w.sessions, w.machines["mill"], at(40), at(45))
    add_cycle(w.sessions, w.machines["mill"], at(10), at(15))
    progress = await _progress(w)
    assert progress["made"] == 2
    lea = await w.ok("GET", f"/api/students/{w.ids['student']}/practice-log")
    tom = await w.ok("GET", f"/api/students/{other['id']}/practice-log")
    assert (lea["cycles"], lea["parts_made"], tom["cycles"], tom["parts_made"]) == (2, 2, 1, 1)
    assert lea["sessions"][0]["parts"] == 2


async def test_a_cycle_spanning_a_handover_goes_to_the_session_it_ran_in_longest(world: World) -> None:
    w = world
    await _check_in(w, "mill", w.ids["student"], w.ids["order"], 0)
    await _check_out(w, "mill", 30)
    tom = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    await w.authorise(tom["id"])
    await _check_in(w, "mill", tom["id"], None, 30)
    add_cycle(w.sessions, w.machines["mill"], at(28), at(33))
    assert (await _progress(w))["made"] == 0
    tom_log = await w.ok("GET", f"/api/students/{tom['id']}/practice-log")
    assert tom_log["parts_made"] == 1


async def test_overlapping_sessions_are_refused_and_nothing_is_written(world: World) -> None:
    w = world
    await _check_in(w, "mill", w.ids["student"], w.ids["order"], 0)
    tom = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    await w.authorise(tom["id"])
    before = w.count(WorkSessionRecord), w.count(AuditEntry)
    taken = await w.call("POST", "/api/sessions/check-in", json={"machine": "mill", "student_id": tom["id"]})
    assert taken.status_code == 409
    assert taken.json()["detail"]["code"] == "machine_taken"
    backfill = {"machine": "mill", "student_id": tom["id"], "started": at(-30).isoformat(), "ended": at(5).isoformat()}
    overlap = await w.call("POST", "/api/sessions", json=backfill)
    assert overlap.status_code == 409
    assert (w.count(WorkSessionRecord), w.count(AuditEntry)) == before


async def test_cycles_without_a_session_are_listed_then_a_backfilled_session_claims_them(world: World) -> None:
    w = world
    w.clock.now = at(120)
    add_cycle(w.sessions, w.machines["lathe"], at(10), at(20))
    add_cycle(w.sessions, w.machines["lathe"], at(40), at(50))
    listed = await w.ok("GET", "/api/cycles/unattributed", params={"since": at(-60).isoformat()})
    assert [c["machine"] for c in listed] == ["lyon/lathe", "lyon/lathe"]
    # The student forgot to badge: a master records the session after the fact.
    backfill = {
        "machine": "lathe",
        "student_id": w.ids["student"],
        "order_id": w.ids["order"],
        "started": at(5).isoformat(),
        "ended": at(35).isoformat(),
    }
    await w.ok("POST", "/api/sessions", json=backfill)
    listed = await w.ok("GET", "/api/cycles/unattributed", params={"since": at(-60).isoformat()})
    assert len(listed) == 1  # the second cycle started and ended outside the session
    assert (await _progress(w))["made"] == 1


async def test_a_master_assigns_and_reassigns_a_cycle_with_its_parts_and_it_is_audited(world: World) -> None:
    w = world
    first = await _check_in(w, "mill", w.ids["student"], w.ids["order"], 0)
    await _check_out(w, "mill", 30)
    w.clock.now = at(200)
    orphan = add_cycle(w.sessions, w.machines["mill"], at(100), at(110), parts=2)
    assert (await _progress(w))["made"] == 0
    await w.ok("POST", f"/api/cycles/{orphan}/assignment", json={"session_id": first["id"]})
    assert (await _progress(w))["made"] == 2
    assert await w.ok("GET", "/api/cycles/unattributed", params={"since": at(0).isoformat()}) == []
    # Reassign to a practice session of another student: the order loses the parts again.
    tom = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    await w.authorise(tom["id"])
    practice = await _check_in(w, "mill", tom["id"], None, 300)
    await w.ok("POST", f"/api/cycles/{orphan}/assignment", json={"session_id": practice["id"]})
    assert (await _progress(w))["made"] == 0
    assert (await w.ok("GET", f"/api/students/{tom['id']}/practice-log"))["parts_made"] == 2
    assert w.count(CycleAssignment) == 1
    with w.sessions() as session:
        actions = [
            e.action
            for e in session.query(AuditEntry).filter_by(entity="cycle", entity_id=orphan).order_by(AuditEntry.id)
        ]
    assert actions == ["assign", "reassign"]


async def test_an_assignment_to_a_session_on_another_machine_is_refused(world: World) -> None:
    w = world
    session = await _check_in(w, "lathe", w.ids["student"], None, 0)
    cycle = add_cycle(w.sessions, w.machines["mill"], at(1), at(2))
    refused = await w.call("POST", f"/api/cycles/{cycle}/assignment", json={"session_id": session["id"]})
    assert refused.status_code == 409
    assert w.count(CycleAssignment) == 0


async def test_correcting_a_sessions_order_moves_its_parts(world: World) -> None:
    w = world
    session = await _check_in(w, "mill", w.ids["student"], None, 0)
    add_cycle(w.sessions, w.machines["mill"], at(1), at(2), parts=3)
    assert (await _progress(w))["made"] == 0
    await w.ok("PATCH", f"/api/sessions/{session['id']}", json={"order_id": w.ids["order"]})
    assert (await _progress(w))["made"] == 3
