"""The indexes that keep a year of history fast answer exactly as the plain walks they stand in for (issue 18).

Each walk (``attribute_cycle``, ``attribute_part``, ``overlap_s``, ``in_planned``, an alarm active at an edge)
stays the definition; hypothesis draws sessions, cycles, intervals and alarms, tidy and hostile, and compares.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.attribution import (
    MachineCycles,
    MachineSessions,
    attribute_cycle,
    attribute_part,
    part_owner,
    session_at,
)
from gateway.domain.calendar import Interval, PlannedTime, overlap_s
from gateway.domain.model import WorkSession
from gateway.domain.oee import in_planned, state_points

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=600)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


@st.composite
def disjoint_sessions(draw: st.DrawFn) -> list[WorkSession]:
    """Sessions of one machine as check-in allows them: never overlapping, the last one maybe still open."""
    cuts = sorted(set(draw(st.lists(minutes, max_size=12))))
    sessions = []
    for n, (start, end) in enumerate(zip(cuts[::2], cuts[1::2], strict=False)):
        sessions.append(WorkSession(n + 1, "mill", n, None, at(start), at(end)))
    if draw(st.booleans()) and cuts:
        sessions.append(WorkSession(99, "mill", 99, None, at(cuts[-1] + 1), None))
    return draw(st.permutations(sessions))


@st.composite
def any_sessions(draw: st.DrawFn) -> list[WorkSession]:
    """Anything at all, overlapping ones included: the index must then fall back to the walk."""
    found = []
    for n in range(draw(st.integers(0, 6))):
        start = draw(minutes)
        end = draw(st.one_of(st.none(), st.integers(start, 700)))
        found.append(
            WorkSession(
                n + 1, draw(st.sampled_from(["mill", "lathe"])), n, None, at(start), None if end is None else at(end)
            )
        )
    return found


cycle_spans = st.lists(st.tuples(minutes, st.integers(-5, 40)), max_size=15)


@given(st.one_of(disjoint_sessions(), any_sessions()), cycle_spans)
@settings(max_examples=300)
def test_cycle_owner_is_attribute_cycle(sessions: list[WorkSession], cycles: list[tuple[int, int]]) -> None:
    index = MachineSessions(sessions, "mill")
    for start, length in cycles:
        started, ended = at(start), at(start + length)
        expected = attribute_cycle(sessions, "mill", started=started, ended=ended)
        assert index.cycle_owner(started=started, ended=ended) == expected
        assert index.at(ended) == session_at(sessions, "mill", ended)


@given(st.one_of(disjoint_sessions(), any_sessions()), cycle_spans, st.lists(minutes, max_size=20))
@settings(max_examples=300)
def test_part_owner_is_attribute_part(
    sessions: list[WorkSession], cycles: list[tuple[int, int]], parts: list[int]
) -> None:
    owned = [(at(s), at(s + n), attribute_cycle(sessions, "mill", started=at(s), ended=at(s + n))) for s, n in cycles]
    indexed, made_by = MachineSessions(sessions, "mill"), MachineCycles(owned)
    for minute in parts:
        expected = attribute_part(sessions, "mill", at(minute), cycles=owned)
        assert part_owner(indexed, made_by, at(minute)) == expected


@st.composite
def intervals(draw: st.DrawFn) -> list[Interval]:
    if draw(st.booleans()):  # as ``planned`` gives them: sorted, disjoint (touching allowed)
        cuts = sorted(set(draw(st.lists(minutes, max_size=12))))
        found = [Interval(at(a), at(b)) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
        return draw(st.permutations(found))
    spans = draw(st.lists(st.tuples(minutes, st.integers(1, 120)), max_size=8))
    return [Interval(at(a), at(a + n)) for a, n in spans]  # overlapping: the fallback


@given(intervals(), st.lists(st.tuples(minutes, st.integers(0, 300)), max_size=12))
@settings(max_examples=300)
def test_planned_time_is_the_walk(planned: list[Interval], spans: list[tuple[int, int]]) -> None:
    index = PlannedTime(planned)
    for start, length in spans:
        assert index.overlap_s(at(start), at(start + length)) == overlap_s(planned, at(start), at(start + length))
        assert index.contains(at(start)) == in_planned(at(start), planned)


@given(
    st.lists(st.tuples(minutes, st.sampled_from(["AVAILABLE", "UNAVAILABLE"])), max_size=10),
    st.lists(st.tuples(minutes, st.one_of(st.none(), st.integers(-30, 200))), max_size=8),
)
@settings(max_examples=300)
def test_alarm_at_each_edge_is_any_active(changes: list[tuple[int, str]], alarms: list[tuple[int, int | None]]) -> None:
    """Alarms cleared before they were raised (hostile, or clocks apart) included."""
    timed = [(at(m), availability, "READY") for m, availability in changes]
    raised = [(at(m), None if c is None else at(m + c)) for m, c in alarms]
    for point in state_points(timed, raised):
        active = any(r <= point.ts and (c is None or point.ts < c) for r, c in raised)
        assert point.alarm == active
