"""Utilisation and OEE on a hand-computed shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.calendar import Interval
from gateway.domain.model import CycleFact
from gateway.domain.oee import Span, StatePoint, categorise, counted, oee, planned_use, timeline, utilisation

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# An 8:00-12:00 window: switched on at 8:30, runs, a feed hold, an alarm, idle, then off at 11:30.
POINTS = [
    StatePoint(at(-600), "UNAVAILABLE", None),
    StatePoint(at(30), "AVAILABLE", "READY"),
    StatePoint(at(40), "AVAILABLE", "ACTIVE"),
    StatePoint(at(100), "AVAILABLE", "FEED_HOLD"),
    StatePoint(at(110), "AVAILABLE", "ACTIVE"),
    StatePoint(at(170), "AVAILABLE", "STOPPED", alarm=True),
    StatePoint(at(180), "AVAILABLE", "READY"),
    StatePoint(at(210), "UNAVAILABLE", None),
    StatePoint(at(300), "AVAILABLE", "ACTIVE"),  # after the window
]


def test_timeline_and_utilisation() -> None:
    spans = timeline(POINTS, at(0), at(240))
    assert [s.category for s in spans] == ["offline", "idle", "running", "held", "running", "alarm", "idle", "offline"]
    use = utilisation(spans)
    assert use.window_s == 240 * 60
    assert use.running_s == 120 * 60
    assert use.held_s == 10 * 60
    assert use.alarm_s == 10 * 60
    assert use.idle_s == 40 * 60
    assert use.offline_s == 60 * 60
    assert use.free_s == 120 * 60


def test_oee_by_hand() -> None:
    # Planned 8:00-12:00 minus 30 min of a lesson (planned downtime): PBT 3 h 30.
    use = planned_use(timeline(POINTS, at(0), at(240)), [Interval(at(0), at(240))], planned_downtime_s=1800)
    # 100 parts with a 60 s standard = 6000 s earned in 7200 s running; 5 scrapped.
    made = [CycleFact("mill", at(40), at(41), 60, 1, standard_s=60.0) for _ in range(100)]
    result = oee(use, made, made=100, scrap=5)
    assert use.busy_s == 12600
    assert use.free_s == 12600 - 7200
    assert result.availability == pytest.approx(7200 / 12600)
    assert result.performance == pytest.approx(6000 / 7200)
    assert result.quality == pytest.approx(0.95)
    assert result.oee == pytest.approx((7200 / 12600) * (6000 / 7200) * 0.95)


def test_running_outside_planned_time_is_apart_and_never_above_100_percent() -> None:
    # Planned 8:00-9:00 only; the machine runs from 8:00 through the night to 8:00 the next day.
    night = planned_use([Span(at(0), at(24 * 60), "running")], [Interval(at(0), at(60))])
    assert (night.running_s, night.unplanned_running_s, night.free_s) == (3600, 23 * 3600, 0)
    assert oee(night, [], made=0, scrap=0).availability == 1.0


def test_no_planned_time_has_no_oee() -> None:
    closed = planned_use([Span(at(0), at(60), "running")], [])
    result = oee(closed, [CycleFact("mill", at(0), at(1), 60, 1, standard_s=60.0)], made=1, scrap=0)
    assert (closed.busy_s, closed.unplanned_running_s) == (0, 3600)
    assert result.availability is None
    assert result.oee is None


def test_oee_unknown_parts_stay_unknown() -> None:
    use = planned_use([Span(at(0), at(60), "idle")], [Interval(at(0), at(60))])
    result = oee(use, [], made=0, scrap=0)
    assert result.availability == 0.0
    assert result.performance is None
    assert result.quality is None
    assert result.oee is None


def test_no_state_known_is_offline() -> None:
    assert utilisation(timeline([], at(0), at(10))).offline_s == 600


@pytest.mark.parametrize(
    ("availability", "execution", "alarm", "category"),
    [
        ("AVAILABLE", "ACTIVE", False, "running"),
        ("AVAILABLE", "INTERRUPTED", False, "held"),
        ("AVAILABLE", "PROGRAM_STOPPED", False, "held"),
        ("AVAILABLE", "READY", True, "alarm"),
        ("AVAILABLE", None, False, "idle"),
        ("UNAVAILABLE", "ACTIVE", False, "offline"),
    ],
)
def test_categories(availability: str, execution: str | None, alarm: bool, category: str) -> None:
    assert categorise(StatePoint(T0, availability, execution, alarm)) == category


@pytest.mark.parametrize(
    ("now_h", "until_h", "status"),
    [(-5, 0, "future"), (0, 0, "future"), (3, 3, "current"), (24, 24, "past"), (50, 24, "past")],
)
def test_a_period_is_counted_up_to_now_and_never_beyond_its_end(now_h: int, until_h: int, status: str) -> None:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    period = counted(start, start + timedelta(hours=24), start + timedelta(hours=now_h))
    assert (period.until, period.status) == (start + timedelta(hours=until_h), status)
