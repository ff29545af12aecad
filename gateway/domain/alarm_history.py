"""A machine's alarms over a period, one line each and summed per code: what the alarm history page shows.

Pure: the store reads the alarms (``alarms_repo``), this says how long each lasted and
how often each code came. An alarm not cleared yet lasts until ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AlarmLine:
    machine: str  # the machine's name in the workshop
    code: str
    text: str
    severity: str
    start: datetime
    cleared: datetime | None  # None: still raised

    def duration_s(self, now: datetime) -> float:
        return max(0.0, ((self.cleared or now) - self.start).total_seconds())


@dataclass(frozen=True, slots=True)
class AlarmSummary:
    machine: str
    code: str
    text: str  # the latest text the control gave for the code
    count: int
    total_s: float
    last_start: datetime
    ongoing: bool  # one of them is still raised


def summarise(lines: Iterable[AlarmLine], now: datetime) -> list[AlarmSummary]:
    """Per machine and code: how many, how long in all, the last start; most frequent first within a machine."""
    groups: dict[tuple[str, str], list[AlarmLine]] = {}
    for line in lines:
        groups.setdefault((line.machine, line.code), []).append(line)
    found = []
    for (machine, code), same in groups.items():
        latest = max(same, key=lambda line: line.start)
        found.append(
            AlarmSummary(
                machine=machine,
                code=code,
                text=latest.text,
                count=len(same),
                total_s=sum(line.duration_s(now) for line in same),
                last_start=latest.start,
                ongoing=any(line.cleared is None for line in same),
            )
        )
    return sorted(found, key=lambda s: (s.machine, -s.count, -s.total_s, s.code))
