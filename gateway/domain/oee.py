"""Utilisation and OEE of a machine over a window, from its state timeline and its cycles.

Definitions (also in docs/records.md):
- the window is split by the machine's state into running, held, alarm, idle and
  offline: offline while UNAVAILABLE (or before the first state known), alarm while a
  fault alarm is active, else the OEE category of the execution's class
  (``contract.shown``: running for ACTIVE; held for feed hold, interrupted, optional or
  program stop; alarm for STOPPED; idle for the rest);
- the site's calendar gives the planned time of the window (``calendar.planned``);
  ISO 22400-2 names: PBT, planned busy time = planned time − planned downtime (stops
  classified in the *planned* category: lessons, maintenance); APT, actual production
  time = running inside planned time; running outside it is *unplanned running*,
  shown on its own line and never counted in availability;
- availability = APT / PBT (never above 1; none when nothing was planned);
- performance (effectiveness) = Σ(PRI × PQ) / APT, PRI the order's standard cycle
  time, over cycles that ended in planned time; above 1 means the standard is loose;
- quality = GQ / PQ, good = made − scrap;
- OEE = availability × performance × quality;
- free capacity = PBT − APT: planned hours not used for production, what a partner
  company could still book (nights and weekends are not capacity the school sells).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edge_agent import contract
from gateway.domain.calendar import Interval, PlannedTime
from gateway.domain.model import CycleFact

Category = contract.OeeCategory | Literal["offline"]


@dataclass(frozen=True, slots=True)
class StatePoint:
    ts: datetime
    availability: str
    execution: str | None
    alarm: bool = False


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime
    category: Category

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Utilisation:
    window_s: float
    running_s: float
    held_s: float
    alarm_s: float
    idle_s: float
    offline_s: float

    @property
    def free_s(self) -> float:
        return self.window_s - self.running_s

    @property
    def on_s(self) -> float:
        return self.window_s - self.offline_s


@dataclass(frozen=True, slots=True)
class PlannedUse:
    """The window seen through the calendar: planned time and what the machine did in it, and running outside it."""

    calendar_s: float  # planned time the calendar gives
    planned_downtime_s: float  # stops classified as planned (lessons, maintenance)
    running_s: float  # APT: running inside planned time
    unplanned_running_s: float  # running outside planned time
    held_s: float
    alarm_s: float
    idle_s: float
    offline_s: float

    @property
    def busy_s(self) -> float:
        """PBT, planned busy time."""
        return max(0.0, self.calendar_s - self.planned_downtime_s)

    @property
    def free_s(self) -> float:
        """Free capacity: planned busy time not used for production."""
        return max(0.0, self.busy_s - self.running_s)


def planned_use(spans: Sequence[Span], planned: Sequence[Interval], planned_downtime_s: float = 0.0) -> PlannedUse:
    """Split each span of the timeline into its part inside the planned intervals and its part outside."""
    inside = dict.fromkeys(("running", "held", "alarm", "idle", "offline"), 0.0)
    outside_running = 0.0
    index = PlannedTime(planned)
    for span in spans:
        within = index.overlap_s(span.start, span.end)
        inside[span.category] += within
        if span.category == "running":
            outside_running += span.seconds - within
    return PlannedUse(
        calendar_s=sum(i.seconds for i in planned),
        planned_downtime_s=min(planned_downtime_s, sum(i.seconds for i in planned)),
        running_s=inside["running"],
        unplanned_running_s=outside_running,
        held_s=inside["held"],
        alarm_s=inside["alarm"],
        idle_s=inside["idle"],
        offline_s=inside["offline"],
    )


def in_planned(ts: datetime, planned: Sequence[Interval]) -> bool:
    return any(i.start <= ts <= i.end for i in planned)


@dataclass(frozen=True, slots=True)
class Oee:
    availability: float | None
    performance: float | None
    quality: float | None

    @property
    def oee(self) -> float | None:
        if self.availability is None or self.performance is None or self.quality is None:
            return None
        return self.availability * self.performance * self.quality


@dataclass(frozen=True, slots=True)
class Counted:
    """The part of a period a report counts: from its start up to now, never beyond its end.

    What has not happened yet is neither running nor free: a week still under way
    is counted up to now, one in the past up to its end, one in the future not at all.
    """

    start: datetime
    end: datetime  # of the period
    until: datetime  # counting stops here: min(end, now), never before start

    @property
    def status(self) -> Literal["past", "current", "future"]:
        if self.until >= self.end:
            return "past"
        return "future" if self.until <= self.start else "current"


def counted(start: datetime, end: datetime, now: datetime) -> Counted:
    return Counted(start, end, max(start, min(end, now)))


def categorise(point: StatePoint) -> Category:
    if point.availability != "AVAILABLE":
        return "offline"
    if point.alarm:
        return "alarm"
    return contract.shown(point.execution).oee


def state_points(
    changes: Sequence[tuple[datetime, str, str | None]], alarms: Sequence[tuple[datetime, datetime | None]]
) -> list[StatePoint]:
    """Merge state changes (ts, availability, execution) and fault alarms (raised, cleared) into one timeline.

    A point is emitted at every change and at every alarm edge, carrying whether a
    fault alarm was active at that instant.
    """
    edges = sorted({ts for ts, _, _ in changes} | {r for r, _ in alarms} | {c for _, c in alarms if c is not None})
    ordered = sorted(changes, key=lambda c: c[0])
    # An alarm is active at ts when raised <= ts < cleared: counted by bisection over the raised and cleared
    # times, not by a walk over every alarm at every edge (a year of a machine has thousands of both).
    # One cleared before it was raised is never active, and would cancel another in the count: left out.
    kept = [(r, c) for r, c in alarms if c is None or r <= c]
    raised_at = sorted(r for r, _ in kept)
    cleared_at = sorted(c for _, c in kept if c is not None)
    points: list[StatePoint] = []
    index, availability, execution = 0, "UNAVAILABLE", None
    for ts in edges:
        while index < len(ordered) and ordered[index][0] <= ts:
            _, availability, execution = ordered[index]
            index += 1
        alarm = bisect_right(raised_at, ts) - bisect_right(cleared_at, ts) > 0
        points.append(StatePoint(ts, availability, execution, alarm))
    return points


def timeline(points: Sequence[StatePoint], start: datetime, end: datetime) -> list[Span]:
    """Spans covering [start, end); ``points`` sorted by time, the last one before ``start`` included."""
    spans: list[Span] = []
    current: Category = "offline"
    cursor = start
    for point in points:
        if point.ts >= end:
            break
        if point.ts > cursor:
            spans.append(Span(cursor, point.ts, current))
            cursor = point.ts
        current = categorise(point)
    if cursor < end:
        spans.append(Span(cursor, end, current))
    return _merge(spans)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if merged and merged[-1].category == span.category and merged[-1].end == span.start:
            merged[-1] = Span(merged[-1].start, span.end, span.category)
        else:
            merged.append(span)
    return merged


def utilisation(spans: Sequence[Span]) -> Utilisation:
    totals = dict.fromkeys(("running", "held", "alarm", "idle", "offline"), 0.0)
    for span in spans:
        totals[span.category] += span.seconds
    return Utilisation(
        window_s=sum(totals.values()),
        running_s=totals["running"],
        held_s=totals["held"],
        alarm_s=totals["alarm"],
        idle_s=totals["idle"],
        offline_s=totals["offline"],
    )


def oee(use: PlannedUse, cycles: Sequence[CycleFact], *, made: int, scrap: int) -> Oee:
    """ISO 22400-2 over planned time; ``cycles``: those that ended in planned time.

    A week with no planned busy time has no availability, hence no OEE ("—"): dividing
    by nothing is not 0 %, and a machine run only at night is not 100 % available.
    """
    earned = sum(c.standard_s * c.parts for c in cycles if c.standard_s is not None)
    timed = any(c.standard_s is not None for c in cycles)
    return scores(use, earned_s=earned, timed=timed, made=made, scrap=scrap)


def scores(use: PlannedUse, *, earned_s: float, timed: bool, made: int, scrap: int) -> Oee:
    """``oee`` from its sums: ``earned_s`` = Σ PRI × PQ, ``timed``: a cycle held to a standard ended in planned
    time (a day summary keeps the sums, not the cycles)."""
    availability = min(1.0, use.running_s / use.busy_s) if use.busy_s > 0 else None
    performance = earned_s / use.running_s if timed and use.running_s > 0 else None
    quality = max(0, made - scrap) / made if made > 0 else None
    return Oee(availability=availability, performance=performance, quality=quality)
