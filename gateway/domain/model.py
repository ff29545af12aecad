"""Plain facts the domain computes over; the store turns rows into these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WorkSession:
    """A student checked in on a machine, for an order or for practice (no order)."""

    id: int
    machine: str
    student_id: int | None  # None once the student was deleted: the session keeps its parts
    order_id: int | None
    start: datetime
    end: datetime | None = None

    def covers(self, ts: datetime) -> bool:
        return self.start <= ts and (self.end is None or ts < self.end)

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        self_ends_after = self.end is None or self.end > start
        other_ends_after = end is None or end > self.start
        return self_ends_after and other_ends_after

    def seconds(self, now: datetime) -> float:
        return max(0.0, ((self.end or now) - self.start).total_seconds())

    def overlap_s(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end) during which this session was open."""
        stop = end if self.end is None else min(end, self.end)
        return max(0.0, (stop - max(start, self.start)).total_seconds())


@dataclass(frozen=True, slots=True)
class CycleFact:
    machine: str
    started: datetime
    ended: datetime
    duration_s: float
    parts: int
    outcome: str = "completed"
    held_s: float = 0.0
    program: str | None = None
    # The standard cycle time of the order the cycle was attributed to, if any.
    standard_s: float | None = None

    @property
    def completed(self) -> bool:
        return self.outcome == "completed"
