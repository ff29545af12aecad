"""Attribution by source time: late and out-of-order events, overlaps, missing sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.attribution import SessionConflictError, attribute_cycle, check_no_overlap, session_at
from gateway.domain.model import WorkSession

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# Léa on the mill 8:00-10:00, then Tom 10:00-12:00; Inès on the lathe from 9:00, still checked in.
SESSIONS = [
    WorkSession(1, "mill", student_id=10, order_id=100, start=at(0), end=at(120)),
    WorkSession(2, "mill", student_id=11, order_id=100, start=at(120), end=at(240)),
    WorkSession(3, "lathe", student_id=12, order_id=101, start=at(60)),
]


@pytest.mark.parametrize(
    ("machine", "started", "ended", "expected"),
    [
        ("mill", 10, 12, 1),
        ("mill", 130, 135, 2),
        ("mill", 118, 121, 1),  # two of its three minutes on Léa's watch: hers, though it ended in Tom's
        ("mill", 119, 122, 2),  # two of three on Tom's
        ("mill", 119, 121, 2),  # a tie goes to the later session, the one the part was finished in
        ("mill", 239, 241, 2),  # Tom checked out during the cycle: it started on his watch
        ("mill", 235, 260, 2),  # Tom was there for 5 of its 25 minutes, nobody else: his
        ("mill", 120, 120, 2),  # a cycle of no duration: the session open at its instant
        ("mill", 240, 240, 2),  # ... or the one that ended at it
        ("mill", 250, 252, None),  # nobody checked in
        ("lathe", 600, 602, 3),  # open session
        ("lathe", 50, 55, None),  # before Inès arrived
        ("router", 10, 12, None),
    ],
)
def test_cycle_goes_to_the_session_open_for_most_of_it(
    machine: str, started: float, ended: float, expected: int | None
) -> None:
    session = attribute_cycle(SESSIONS, machine, started=at(started), ended=at(ended))
    assert (session.id if session else None) == expected


def test_late_and_out_of_order_events_land_by_source_time() -> None:
    """Arrival order does not matter: only the timestamps the machine reported."""
    events = [at(200), at(30), at(119.9), at(120)]
    owners = [s.id if (s := session_at(SESSIONS, "mill", ts)) else None for ts in events]
    assert owners == [2, 1, 1, 2]


@pytest.mark.parametrize(
    ("machine", "start", "end"),
    [("mill", 60, 90), ("mill", 230, None), ("mill", -10, 1), ("lathe", 1000, 1001), ("lathe", 0, None)],
)
def test_overlapping_sessions_are_refused(machine: str, start: float, end: float | None) -> None:
    with pytest.raises(SessionConflictError):
        check_no_overlap(SESSIONS, machine, at(start), at(end) if end is not None else None)


def test_adjacent_sessions_and_other_machines_are_fine() -> None:
    check_no_overlap(SESSIONS, "mill", at(240), None)
    check_no_overlap(SESSIONS, "mill", at(-60), at(0))
    check_no_overlap(SESSIONS, "router", at(0), None)
    check_no_overlap(SESSIONS, "mill", at(0), at(100), ignore=1)  # editing session 1 itself


def test_a_session_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        check_no_overlap([], "mill", at(10), at(5))


@given(st.lists(st.integers(min_value=1, max_value=90), min_size=1, max_size=12), st.floats(0, 2000))
def test_non_overlapping_sessions_attribute_each_instant_once(lengths: list[int], minute: float) -> None:
    sessions: list[WorkSession] = []
    cursor = 0
    for i, length in enumerate(lengths):
        check_no_overlap(sessions, "mill", at(cursor), at(cursor + length))
        sessions.append(WorkSession(i, "mill", student_id=i, order_id=None, start=at(cursor), end=at(cursor + length)))
        cursor += length + (i % 3)  # some gaps between sessions
    owners = [s for s in sessions if s.covers(at(minute))]
    assert len(owners) <= 1
    assert session_at(sessions, "mill", at(minute)) == (owners[0] if owners else None)
