"""A student's practice log on a hand-computed week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.model import CycleFact, WorkSession
from gateway.domain.practice import TREND_MIN_CYCLES, practice_log, slope

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_practice_log_by_hand() -> None:
    sessions = [
        WorkSession(1, "mill", 7, 100, at(0), at(120)),
        WorkSession(2, "lathe", 7, 101, at(1440), at(1440 + 90)),
        WorkSession(3, "mill", 7, 100, at(2880), None),  # still checked in
    ]
    cycles = [
        CycleFact("mill", at(10), at(12), 120, 1, standard_s=100),
        CycleFact("mill", at(20), at(21.5), 90, 1, standard_s=100),
        CycleFact("mill", at(30), at(31.4), 84, 1, standard_s=100),
        CycleFact("lathe", at(1450), at(1451), 60, 2, standard_s=None),
        CycleFact("mill", at(2890), at(2890.5), 30, 0, outcome="aborted", standard_s=100),
    ]
    log = practice_log(sessions=sessions, cycles=cycles, scrap=1, now=at(2880 + 30))
    assert log.sessions == 3
    assert log.session_s == (120 + 90 + 30) * 60
    assert log.cycle_s == 120 + 90 + 84 + 60 + 30
    assert log.cycles == 4
    assert (log.parts_made, log.scrap, log.good) == (5, 1, 4)
    assert log.mean_cycle_s == pytest.approx((120 + 90 + 84 + 60) / 4)
    assert log.best_cycle_s == 60
    assert log.mean_vs_standard == pytest.approx((1.2 + 0.9 + 0.84) / 3)
    assert log.trend is None  # three cycles against a standard make no trend
    assert (log.trend_word, log.trend_cycles) == ("unknown", 3)
    mill, lathe = sorted(log.machines, key=lambda m: m.machine, reverse=True)
    assert (mill.machine, mill.sessions, mill.session_s, mill.cycles, mill.parts) == ("mill", 2, 150 * 60, 3, 3)
    assert (lathe.machine, lathe.cycles, lathe.parts) == ("lathe", 1, 2)


def test_slope() -> None:
    assert slope([1.0, 1.0]) is None
    assert slope([1.0, 1.0, 1.0]) == 0
    assert slope([3.0, 2.0, 1.0]) == -1


@pytest.mark.parametrize(("count", "trend"), [(TREND_MIN_CYCLES - 1, None), (TREND_MIN_CYCLES, -0.01)])
def test_a_trend_needs_enough_cycles_against_a_standard(count: int, trend: float | None) -> None:
    sessions = [WorkSession(1, "mill", 7, 100, at(0), at(600))]
    cycles = [CycleFact("mill", at(10 * k), at(10 * k + 2), 110 - k, 1, standard_s=100) for k in range(count)]
    cycles.append(CycleFact("lathe", at(500), at(501), 60, 1, standard_s=None))  # practice: no standard, no trend
    log = practice_log(sessions=sessions, cycles=cycles, scrap=0, now=at(600))
    assert log.trend_cycles == count
    assert log.trend == (None if trend is None else pytest.approx(trend))
    assert log.trend_word == ("unknown" if trend is None else "improving")


def _run(durations: list[float], gaps: list[float]) -> list[CycleFact]:
    """Cycles of a run on the mill against a 100 s standard: each cycle then a gap (loading, measuring)."""
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    cycles = []
    for duration, gap in zip(durations, gaps, strict=True):
        end = start + timedelta(seconds=duration)
        cycles.append(CycleFact("mill", start, end, duration, 1, standard_s=100.0))
        start = end + timedelta(seconds=gap)
    return cycles


def test_a_longer_program_alone_does_not_call_a_student_slowing() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    # The program's cycle grows (a master changed it) while she loads faster: end to end stays 200 s a part.
    program_only = _run([100 + 5 * k for k in range(15)], [100 - 5 * k for k in range(15)])
    log = practice_log(sessions=[], cycles=program_only, scrap=0, now=now)
    assert log.trend is not None
    assert log.trend > 0
    assert log.trend_word == "steady"
    # Her own time between parts grows: that is slowing.
    herself = _run([100] * 15, [100 + 20 * k for k in range(15)])
    assert practice_log(sessions=[], cycles=herself, scrap=0, now=now).trend_word == "steady"  # cycles flat
    both = _run([100 + 5 * k for k in range(15)], [100 + 20 * k for k in range(15)])
    assert practice_log(sessions=[], cycles=both, scrap=0, now=now).trend_word == "slowing"
