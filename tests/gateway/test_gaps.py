"""Gap tracking: contiguous seq per agent, replay requests after a timeout, back-off, giving up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ingest.gaps import GapTracker, ReplayRange

A = ("lyon", "pc-1")


def tracker_after(seqs: list[int], *, timeout_s: float = 10.0) -> GapTracker:
    tracker = GapTracker(timeout_s=timeout_s)
    for seq in seqs:
        tracker.observe(A, seq, now=0.0)
    return tracker


@pytest.mark.parametrize(
    ("seqs", "contiguous", "gaps"),
    [
        ([1, 2, 3], 3, []),
        ([50, 51], 51, []),  # the first seq seen starts tracking: no replay from 1
        ([1, 2, 5], 2, [(3, 4)]),
        ([1, 3, 2], 3, []),  # out of order but complete
        ([1, 3, 5, 7], 1, [(2, 2), (4, 4), (6, 6)]),
        ([1, 2, 2, 1, 3], 3, []),  # duplicates and old seqs change nothing
        ([10, 4, 11], 11, []),  # below the start: an old message, ignored
    ],
)
def test_contiguous_and_open_gaps(seqs: list[int], contiguous: int, gaps: list[tuple[int, int]]) -> None:
    tracker = tracker_after(seqs)
    assert tracker.contiguous(A) == contiguous
    assert tracker.open_gaps(A) == gaps


def test_a_gap_is_asked_for_after_the_timeout_then_with_back_off() -> None:
    tracker = tracker_after([1, 2, 5], timeout_s=10.0)
    assert tracker.due(9.9) == ([], [])
    assert tracker.due(10.0) == ([ReplayRange("lyon", "pc-1", 3, 4)], [])
    assert tracker.due(29.0) == ([], [])  # next ask waits twice as long
    assert tracker.due(30.0)[0] == [ReplayRange("lyon", "pc-1", 3, 4)]
    tracker.observe(A, 3, now=31.0)
    tracker.observe(A, 4, now=31.0)
    assert tracker.contiguous(A) == 5
    assert tracker.due(1000.0) == ([], [])


def test_a_retained_snapshot_does_not_start_tracking() -> None:
    tracker = GapTracker(timeout_s=1.0)
    tracker.observe(A, 90, now=0.0, start=False)
    assert tracker.contiguous(A) is None
    tracker.observe(A, 100, now=0.0)
    tracker.observe(A, 95, now=0.0, start=False)  # once tracking, any seq counts
    assert tracker.contiguous(A) == 100


def test_a_gap_that_never_fills_is_given_up_after_max_attempts() -> None:
    tracker = GapTracker(timeout_s=1.0, max_attempts=2, max_backoff_s=4.0)
    for seq in (1, 4, 5):
        tracker.observe(A, seq, now=0.0)
    asked = [r for now in (1.0, 3.0) for r in tracker.due(now)[0]]
    assert len(asked) == 2
    requests, abandoned = tracker.due(100.0)
    assert requests == []
    assert abandoned == [ReplayRange("lyon", "pc-1", 2, 3)]
    assert tracker.contiguous(A) == 5
    assert tracker.open_gaps(A) == []


def test_restore_resumes_from_the_store() -> None:
    tracker = GapTracker(timeout_s=1.0)
    tracker.restore(A, contiguous=10, seen_above=[11, 12, 15], now=0.0)
    assert tracker.contiguous(A) == 12
    assert tracker.open_gaps(A) == [(13, 14)]
    assert tracker.due(1.0)[0] == [ReplayRange("lyon", "pc-1", 13, 14)]
    fresh = GapTracker(timeout_s=1.0)
    fresh.restore(A, contiguous=None, seen_above=[7, 8], now=0.0)
    assert fresh.contiguous(A) == 8
    fresh.restore(("lyon", "other"), contiguous=None, seen_above=[], now=0.0)
    assert fresh.contiguous(("lyon", "other")) is None


@given(st.permutations(list(range(1, 30))))
def test_any_arrival_order_of_a_complete_range_ends_contiguous(order: list[int]) -> None:
    tracker = GapTracker(timeout_s=1.0)
    tracker.observe(A, 1, now=0.0)  # the agent's first message starts tracking
    for seq in order:
        tracker.observe(A, seq, now=0.0)
    assert tracker.contiguous(A) == 29
    assert tracker.open_gaps(A) == []


def test_a_forged_seq_far_ahead_is_asked_for_in_bounded_slices() -> None:
    tracker = GapTracker(timeout_s=10.0, max_span=1000)
    tracker.observe(A, 1, now=0.0)
    tracker.observe(A, 10**15, now=0.0)
    (request,), _ = tracker.due(10.0)
    assert (request.first, request.last) == (2, 1001)  # never 2..10**15 - 1


def test_requests_beyond_the_budget_wait_without_counting_as_attempts() -> None:
    tracker = GapTracker(timeout_s=10.0, max_attempts=1)
    agents = [("lyon", f"pc-{n}") for n in range(5)]
    for key in agents:
        tracker.observe(key, 1, now=0.0)
        tracker.observe(key, 3, now=0.0)
    first, _ = tracker.due(10.0, budget=2)
    assert len(first) == 2
    later, abandoned = tracker.due(10.0, budget=10)
    assert len(later) == 3  # the three left out are asked now, not given up
    assert abandoned == []
    assert {(r.site, r.agent) for r in first + later} == set(agents)


def test_a_held_seq_starts_tracking_just_below_it_without_counting_as_received() -> None:
    tracker = GapTracker(timeout_s=10.0)
    tracker.hold(A, 40)  # refused: its machine belongs to another agent
    tracker.hold(A, 41)
    assert tracker.contiguous(A) == 39
    tracker.observe(A, 42, now=0.0)  # the first seq stored once the machine was moved
    assert tracker.open_gaps(A) == [(40, 41)]
    assert tracker.due(10.0)[0] == [ReplayRange("lyon", "pc-1", 40, 41)]
