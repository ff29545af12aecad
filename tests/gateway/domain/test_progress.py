"""Order progress on hand-computed examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gateway.domain.model import CycleFact
from gateway.domain.progress import counting_cycles, order_progress, seconds_per_part

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def cycles(count: int, *, every_s: float, duration_s: float, parts: int = 1) -> list[CycleFact]:
    out = []
    for i in range(count):
        start = T0 + timedelta(seconds=i * every_s)
        out.append(CycleFact("mill", start, start + timedelta(seconds=duration_s), duration_s, parts))
    return out


def test_pace_counts_the_gaps_between_cycles() -> None:
    # 10 cycles every 120 s, each 90 s: from the 1st start to the 10th end is 9*120+90 = 1170 s for 10 parts.
    assert seconds_per_part(cycles(10, every_s=120, duration_s=90)) == 117.0


def test_pace_uses_only_recent_completed_cycles() -> None:
    history = cycles(30, every_s=100, duration_s=50)
    aborted = CycleFact("mill", T0, T0 + timedelta(seconds=5000), 5000, 0, outcome="aborted")
    # last 10: starts 2000..2900, last end 2950 → 950 s for 10 parts
    assert seconds_per_part([*history, aborted]) == 95.0
    assert seconds_per_part(cycles(1, every_s=0, duration_s=80, parts=2)) == 40.0
    assert seconds_per_part([]) is None


def test_progress_projects_the_finish_and_flags_late() -> None:
    now = T0 + timedelta(hours=2)
    done = cycles(10, every_s=120, duration_s=90)  # 117 s per part
    progress = order_progress(ordered=50, made=12, scrap=2, due=now + timedelta(hours=1), cycles=done, now=now)
    assert (progress.good, progress.remaining) == (10, 40)
    assert progress.projected_finish == now + timedelta(seconds=117 * 40)  # 78 min > 60 min
    assert progress.late
    assert not progress.done


def test_progress_on_time_and_done() -> None:
    now = T0
    on_time = order_progress(
        ordered=5, made=3, scrap=0, due=now + timedelta(hours=1), cycles=cycles(3, every_s=60, duration_s=60), now=now
    )
    assert on_time.projected_finish == now + timedelta(seconds=120)
    assert not on_time.late
    done = order_progress(ordered=5, made=7, scrap=2, due=now - timedelta(days=1), cycles=[], now=now)
    assert done.done
    assert not done.late
    assert done.remaining == 0
    assert done.projected_finish is None


def test_overdue_without_pace_is_late() -> None:
    progress = order_progress(ordered=5, made=0, scrap=0, due=T0 - timedelta(minutes=1), cycles=[], now=T0)
    assert progress.late
    assert progress.projected_finish is None


def test_the_pace_is_the_last_operations_when_op_10_runs_fast_and_op_20_slow() -> None:
    # Op 10 (id 1) turns a part every 60 s on the lathe; op 20 (id 2) mills one every 300 s, at the same time.
    # The order's parts are op 20's: 10 of them every 300 s is 2700 + 240 = 2940 s, 294 s a part.
    turned = [(1, replace(c, machine="lathe")) for c in cycles(40, every_s=60, duration_s=50)]
    milled = [(2, c) for c in cycles(10, every_s=300, duration_s=240)]
    now = T0 + timedelta(hours=1)
    paced = counting_cycles([*turned, *milled], final_operation=2)
    assert len(paced) == 10
    assert all(c.machine == "mill" for c in paced)
    progress = order_progress(ordered=30, made=10, scrap=0, due=None, cycles=paced, now=now)
    assert progress.seconds_per_part == 294.0
    assert progress.projected_finish == now + timedelta(seconds=294 * 20)
    # Every operation's cycles mixed (the last ten to end, most of them op 10's) would promise more than twice
    # the real pace, and a finish an hour and a half too early.
    everything = order_progress(ordered=30, made=10, scrap=0, due=None, cycles=[c for _, c in turned + milled], now=now)
    assert everything.seconds_per_part is not None
    assert everything.seconds_per_part < 294 / 2
    # An order without operations keeps every cycle.
    assert len(counting_cycles([*turned, *milled], final_operation=None)) == 50
