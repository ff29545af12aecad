"""A student's practice log: time on each machine, time in cycle, parts, and cycle times against the standard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.domain.model import CycleFact, WorkSession

# A slope of the cycle-time ratio below this per cycle reads as "getting faster".
TREND_THRESHOLD = 0.005
# Fewer cycles against a standard than this make no trend: three cycles are a setting-up, not a progress.
TREND_MIN_CYCLES = 10
# Two cycles further apart than this are not one run of parts: the gap is a break, not loading and measuring.
RUN_GAP_S = 30 * 60


@dataclass(frozen=True, slots=True)
class MachinePractice:
    machine: str
    sessions: int
    session_s: float
    cycle_s: float
    cycles: int
    parts: int


@dataclass(frozen=True, slots=True)
class PracticeLog:
    sessions: int
    session_s: float
    cycle_s: float
    cycles: int
    parts_made: int
    scrap: int
    mean_cycle_s: float | None
    best_cycle_s: float | None
    # Mean of duration / standard over cycles with a standard: 1.0 is on standard, 1.2 is 20 % slower.
    mean_vs_standard: float | None
    # Least-squares slope of duration / standard per cycle, in time order; negative is improving.
    # None under TREND_MIN_CYCLES cycles with a standard.
    trend: float | None
    machines: tuple[MachinePractice, ...]
    trend_cycles: int = 0  # completed cycles with a standard: what the trend is drawn from
    # Slope of the floor-to-floor time (end to end of successive cycles in a run, per part) against the
    # standard: the student's own work (loading, measuring, deburring), which the program's cycle time is not.
    pace_trend: float | None = None
    setup_s: float = 0.0  # setup stops before the first good cycle of each order on each machine
    stopped_s: float = 0.0  # every stop in the student's sessions
    stops_by_reason: tuple[tuple[str, str, float], ...] = ()  # (code, label, seconds), largest first

    @property
    def good(self) -> int:
        return max(0, self.parts_made - self.scrap)

    @property
    def trend_word(self) -> str:
        return trend_word(self.trend, self.pace_trend)


def trend_word(trend: float | None, pace_trend: float | None) -> str:
    """How a log reads its cycle-time trend: improving, steady, slowing or unknown."""
    if trend is None:
        return "unknown"
    if trend < -TREND_THRESHOLD:
        return "improving"
    if trend > TREND_THRESHOLD:
        # A longer program cycle is the program's, not the student's: "slowing" only when her own
        # floor-to-floor time grows too.
        slower = pace_trend is not None and pace_trend > TREND_THRESHOLD
        return "slowing" if slower else "steady"
    return "steady"


def practice_log(
    *,
    sessions: Sequence[WorkSession],
    cycles: Sequence[CycleFact],
    scrap: int,
    now: datetime,
    counted: Mapping[str, int] | None = None,
) -> PracticeLog:
    """``cycles`` are those attributed to the student's sessions.

    ``counted``: parts counted per machine (part events attributed to the sessions);
    when given it is the parts made, otherwise the cycles' own part counts are.
    """
    completed = sorted((c for c in cycles if c.completed), key=lambda c: c.ended)
    durations = [c.duration_s for c in completed]
    ratios = [c.duration_s / c.standard_s for c in completed if c.standard_s]
    return PracticeLog(
        sessions=len(sessions),
        session_s=sum(s.seconds(now) for s in sessions),
        cycle_s=sum(c.duration_s for c in cycles),
        cycles=len(completed),
        parts_made=sum(counted.values()) if counted is not None else sum(c.parts for c in cycles),
        scrap=scrap,
        mean_cycle_s=sum(durations) / len(durations) if durations else None,
        best_cycle_s=min(durations) if durations else None,
        mean_vs_standard=sum(ratios) / len(ratios) if ratios else None,
        trend=slope(ratios) if len(ratios) >= TREND_MIN_CYCLES else None,
        machines=_per_machine(sessions, cycles, now, counted),
        trend_cycles=len(ratios),
        pace_trend=slope(paces) if len(paces := floor_to_floor(completed)) >= TREND_MIN_CYCLES else None,
    )


def floor_to_floor(completed: Sequence[CycleFact]) -> list[float]:
    """Per completed cycle after the first of a run on a machine: (end − previous end) / parts / standard."""
    ratios: list[float] = []
    last: dict[str, CycleFact] = {}
    for cycle in completed:
        before = last.get(cycle.machine)
        last[cycle.machine] = cycle
        if before is None or not cycle.standard_s or cycle.parts <= 0:
            continue
        if (cycle.started - before.ended).total_seconds() > RUN_GAP_S:
            continue
        ratios.append((cycle.ended - before.ended).total_seconds() / cycle.parts / cycle.standard_s)
    return ratios


def _per_machine(
    sessions: Sequence[WorkSession], cycles: Sequence[CycleFact], now: datetime, counted: Mapping[str, int] | None
) -> tuple[MachinePractice, ...]:
    names = sorted({s.machine for s in sessions} | {c.machine for c in cycles} | set(counted or {}))
    return tuple(
        MachinePractice(
            machine=name,
            sessions=sum(1 for s in sessions if s.machine == name),
            session_s=sum(s.seconds(now) for s in sessions if s.machine == name),
            cycle_s=sum(c.duration_s for c in cycles if c.machine == name),
            cycles=sum(1 for c in cycles if c.machine == name and c.completed),
            parts=counted.get(name, 0) if counted is not None else sum(c.parts for c in cycles if c.machine == name),
        )
        for name in names
    )


def slope(values: Sequence[float]) -> float | None:
    """Least-squares slope of values against their index; None under three points."""
    n = len(values)
    if n < 3:
        return None
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    numerator = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    denominator = sum((i - mean_x) ** 2 for i in range(n))
    return numerator / denominator
