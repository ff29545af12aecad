"""Stops from a state timeline and the planned intervals: threshold, lunch break, alarms, Pareto sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.calendar import Interval
from gateway.domain.oee import Category, Span
from gateway.domain.stops import BREAKDOWN, DEFAULT_REASONS, by_category, classify, joined, pareto, stops

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
REASONS = {r.code: r for r in DEFAULT_REASONS}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


MORNING_AND_AFTERNOON = [Interval(at(0), at(240)), Interval(at(300), at(540))]  # 8-12, 13-17


def test_short_pauses_are_not_stops_and_lunch_splits_a_stretch() -> None:
    spans = [
        Span(at(0), at(30), "running"),
        Span(at(30), at(33), "idle"),  # 3 min: under the threshold
        Span(at(33), at(200), "running"),
        Span(at(200), at(230), "held"),  # 11:20-11:50 held then in alarm, one stretch to 13:20
        Span(at(230), at(320), "alarm"),
        Span(at(320), at(540), "running"),
    ]
    found = stops(spans, MORNING_AND_AFTERNOON, threshold_s=300)
    assert [(s.start, s.end, s.alarm) for s in found] == [(at(200), at(240), True), (at(300), at(320), True)]


def test_offline_and_unplanned_time_make_no_stop() -> None:
    spans = [Span(at(0), at(60), "offline"), Span(at(240), at(300), "idle"), Span(at(540), at(700), "idle")]
    assert stops(spans, MORNING_AND_AFTERNOON, threshold_s=300) == []


def test_a_stop_under_way_is_marked_ongoing() -> None:
    found = stops([Span(at(10), at(30), "idle")], MORNING_AND_AFTERNOON, threshold_s=300, counted_until=at(30))
    assert [s.ongoing for s in found] == [True]


def test_alarms_prefill_breakdown_only_where_the_school_says_so_and_people_win() -> None:
    found = stops(
        [Span(at(10), at(30), "alarm"), Span(at(40), at(60), "idle"), Span(at(70), at(90), "alarm")],
        MORNING_AND_AFTERNOON,
        threshold_s=300,
    )
    said = {at(70): REASONS["maintenance"]}
    items = classify(found, said, alarm_is_breakdown=True, breakdown=REASONS[BREAKDOWN])
    assert [(i.reason.code if i.reason else None, i.prefilled) for i in items] == [
        (BREAKDOWN, True),
        (None, False),
        ("maintenance", False),
    ]
    plain = classify(found, {}, alarm_is_breakdown=False, breakdown=REASONS[BREAKDOWN])
    assert [i.reason for i in plain] == [None, None, None]


CATEGORY = st.sampled_from(["running", "idle", "held", "alarm", "offline"])


@given(
    steps=st.lists(st.tuples(st.integers(1, 120), CATEGORY), min_size=1, max_size=40),
    threshold_min=st.integers(1, 30),
    picks=st.lists(st.sampled_from([None, *REASONS]), min_size=40, max_size=40),
)
def test_the_pareto_sums_to_the_lost_time(
    steps: list[tuple[int, Category]], threshold_min: int, picks: list[str | None]
) -> None:
    spans, cursor = [], 0
    for minutes, category in steps:
        spans.append(Span(at(cursor), at(cursor + minutes), category))
        cursor += minutes
    found = stops(spans, MORNING_AND_AFTERNOON, threshold_s=threshold_min * 60)
    said = {s.start: REASONS[p] for s, p in zip(found, picks, strict=False) if p is not None}
    items = classify(found, said, alarm_is_breakdown=True, breakdown=REASONS[BREAKDOWN])
    lost = sum(s.seconds for s in found)
    assert sum(line.seconds for line in pareto(items, "non renseigné")) == pytest.approx(lost)
    assert sum(by_category(items).values()) == pytest.approx(lost)
    assert all(s.seconds >= threshold_min * 60 for s in found)
    for stop in found:  # inside planned time, never over a running minute
        assert any(i.start <= stop.start and stop.end <= i.end for i in MORNING_AND_AFTERNOON)
        assert not any(sp.category == "running" and sp.start < stop.end and stop.start < sp.end for sp in spans)


def test_a_stop_across_midnight_is_one_stop() -> None:
    """Open round the clock, the calendar's days meet at midnight: a stop under way across it is one stop (one
    classification for the kiosk and the report), also when a report adds up its days' stops, and its two
    halves count towards the threshold together."""
    midnight = at(16 * 60)
    days = [Interval(midnight - timedelta(days=1), midnight), Interval(midnight, midnight + timedelta(days=1))]
    spans = [
        Span(at(0), midnight - timedelta(minutes=4), "running"),
        Span(midnight - timedelta(minutes=4), midnight + timedelta(minutes=3), "idle"),
    ]
    found = stops(spans, days, threshold_s=300, counted_until=midnight + timedelta(minutes=3))
    assert [(s.start, s.end, s.ongoing) for s in found] == [
        (midnight - timedelta(minutes=4), midnight + timedelta(minutes=3), True)
    ]
    before = stops(spans, days[:1], threshold_s=0)
    after = stops(spans, days[1:], threshold_s=0, counted_until=midnight + timedelta(minutes=3))
    assert [(s.start, s.end) for s in joined([*after, *before])] == [
        (midnight - timedelta(minutes=4), midnight + timedelta(minutes=3))
    ]
