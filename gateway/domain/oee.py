"""Utilisation and OEE of a machine over a window, from its state timeline and its cycles.

Definitions (also in docs/records.md):
- the window is split by the machine's state into running, held, alarm, idle and
  offline: offline while UNAVAILABLE (or before the first state known), alarm while a
  fault alarm is active, else the OEE category of the execution's class
  (``contract.shown``: running for ACTIVE; held for feed hold, interrupted, optional or
  program stop; alarm for STOPPED; idle for the rest);
- availability = running / (window − offline): of the time the machine was
  switched on, the share it spent cutting;
- performance = Σ(standard cycle time × parts) / running, over cycles whose order
  has a standard time; above 1 means the standard is loose;
- quality = good / made, good = made − scrap;
- OEE = availability × performance × quality;
- free capacity = window − running: what a partner company could still book.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edge_agent import contract
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
    points: list[StatePoint] = []
    index, availability, execution = 0, "UNAVAILABLE", None
    for ts in edges:
        while index < len(ordered) and ordered[index][0] <= ts:
            _, availability, execution = ordered[index]
            index += 1
        alarm = any(raised <= ts and (cleared is None or ts < cleared) for raised, cleared in alarms)
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


def oee(use: Utilisation, cycles: Sequence[CycleFact], *, made: int, scrap: int) -> Oee:
    availability = use.running_s / use.on_s if use.on_s > 0 else None
    earned = sum(c.standard_s * c.parts for c in cycles if c.standard_s is not None)
    timed = any(c.standard_s is not None for c in cycles)
    performance = earned / use.running_s if timed and use.running_s > 0 else None
    quality = max(0, made - scrap) / made if made > 0 else None
    return Oee(availability=availability, performance=performance, quality=quality)
