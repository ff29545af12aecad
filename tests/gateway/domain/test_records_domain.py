"""Domain pieces the records side added: parts following their cycle, state points with alarms, counted parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.domain.attribution import attribute_part
from gateway.domain.model import CycleFact, WorkSession
from gateway.domain.oee import StatePoint, state_points
from gateway.domain.practice import practice_log

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


LEA = WorkSession(1, "mill", student_id=10, order_id=100, start=at(0), end=at(60))
TOM = WorkSession(2, "mill", student_id=11, order_id=101, start=at(60), end=at(120))


def test_a_part_follows_its_cycle_even_when_the_cycle_was_reassigned() -> None:
    cycles = [(at(55), at(65), LEA)]  # a master gave this cycle to Léa
    assert attribute_part([LEA, TOM], "mill", at(65), cycles=cycles) == LEA


def test_a_part_outside_any_cycle_goes_to_the_session_open_then() -> None:
    assert attribute_part([LEA, TOM], "mill", at(70), cycles=[(at(10), at(20), LEA)]) == TOM
    assert attribute_part([LEA, TOM], "mill", at(130)) is None


def test_a_part_stays_with_its_cycle_even_when_nobody_owns_the_cycle() -> None:
    # Tom badged in at the very instant the cycle ended: the cycle is nobody's, and so is its part,
    # although Tom's session covers the instant it was counted.
    assert attribute_part([TOM], "mill", at(60), cycles=[(at(50), at(60), None)]) is None


def test_a_part_counted_as_one_cycle_ends_and_the_next_starts_is_the_finished_cycles() -> None:
    cycles = [(at(50), at(58), LEA), (at(58), at(66), TOM)]
    assert attribute_part([LEA, TOM], "mill", at(58), cycles=cycles) == LEA


def test_state_points_mark_fault_alarms_at_their_edges() -> None:
    changes = [(at(0), "AVAILABLE", "ACTIVE"), (at(30), "AVAILABLE", "READY")]
    points = state_points(changes, [(at(10), at(20))])
    assert points == [
        StatePoint(at(0), "AVAILABLE", "ACTIVE", alarm=False),
        StatePoint(at(10), "AVAILABLE", "ACTIVE", alarm=True),
        StatePoint(at(20), "AVAILABLE", "ACTIVE", alarm=False),
        StatePoint(at(30), "AVAILABLE", "READY", alarm=False),
    ]


def test_state_points_with_an_alarm_never_cleared() -> None:
    points = state_points([(at(0), "AVAILABLE", "READY")], [(at(5), None)])
    assert [p.alarm for p in points] == [False, True]


def test_practice_log_counts_part_events_when_given() -> None:
    cycle = CycleFact("mill", at(0), at(5), 300.0, parts=1, standard_s=300.0)
    log = practice_log(sessions=[LEA], cycles=[cycle], scrap=0, now=at(200), counted={"mill": 3, "lathe": 1})
    assert log.parts_made == 4
    assert {m.machine: m.parts for m in log.machines} == {"lathe": 1, "mill": 3}
