"""The network's arithmetic, pure: which periods a school publishes, how its students become groups with no
one in them to recognise, and how the network's page sums weeks and takes medians.

Nothing here knows a student: practice comes in as (class, track, a key, seconds) and leaves as hours per
group, a group too small to hide a student in merged into ``OTHER``.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

# The contract's bounds for a class label and a track (edge_agent/contract.py, CLASS_LABEL_PATTERN, Track).
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,15}$")
TRACKS = ("CAP", "BAC_PRO")
OTHER = "OTHER"

PeriodKind = Literal["day", "hour"]


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    day: date  # the site's local day
    start: datetime
    end: datetime

    def final(self, now: datetime) -> bool:
        return self.end <= now


def day_period(day: date, zone: ZoneInfo) -> Period:
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return Period("day", day, start, end)


def finished_days(now: datetime, zone: ZoneInfo, count: int) -> list[Period]:
    """The ``count`` days before today in the site's zone, most recent first: the days a school signs off."""
    today = now.astimezone(zone).date()
    return [day_period(today - timedelta(days=back), zone) for back in range(1, count + 1)]


def hours_of_today(now: datetime, zone: ZoneInfo, *, last: int | None = None) -> list[Period]:
    """Today's hours up to the one under way (or only the ``last`` of them), stepped in UTC so that a day
    with a clock change has 23 or 25 of them."""
    today = day_period(now.astimezone(zone).date(), zone)
    hours: list[Period] = []
    start = today.start
    while start < today.end and start <= now:
        hours.append(Period("hour", today.day, start, start + timedelta(hours=1)))
        start += timedelta(hours=1)
    return hours if last is None else hours[-last:]


def class_label(class_name: str) -> str:
    """The school's class name if it is a short code the contract carries, else ``OTHER``."""
    text = class_name.strip()
    return text if _LABEL.match(text) and text != OTHER else OTHER


def track_of(track: str) -> str:
    return track if track in TRACKS else OTHER


def practice_groups(rows: Iterable[tuple[str, str, int, float]], *, min_students: int) -> list[tuple[str, str, float]]:
    """(class, track, student key, seconds) → (class label, track, hours), by label then track.

    A group with fewer than ``min_students`` different students joins its track's ``OTHER`` group, and
    what is still too small joins ``OTHER``/``OTHER``: hours stay counted, no group points at a child.
    """
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    students: dict[tuple[str, str], set[int]] = defaultdict(set)
    for name, track, key, spent in rows:
        group = (class_label(name), track_of(track))
        seconds[group] += spent
        students[group].add(key)
    for merge in (lambda g: (OTHER, g[1]), lambda g: (OTHER, OTHER)):
        for group in sorted(seconds):
            if len(students[group]) < min_students and merge(group) != group:
                target = merge(group)
                seconds[target] += seconds.pop(group)
                students[target] |= students.pop(group)
    return sorted((label, track, round(s / 3600, 4)) for (label, track), s in seconds.items() if s > 0)


def clipped_s(start: datetime, end: datetime | None, low: datetime, high: datetime) -> float:
    """Seconds of [start, end) inside [low, high); an open session runs up to ``high``."""
    stop = high if end is None else min(end, high)
    return max(0.0, (stop - max(start, low)).total_seconds())


def mondays(last: date, weeks: int) -> list[date]:
    """The Mondays of the ``weeks`` ISO weeks ending with the one holding ``last``, oldest first."""
    monday = last - timedelta(days=last.weekday())
    return [monday - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def weighted(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """The mean of values weighted by hours (OEE of several machines over their planned time)."""
    total = weight = 0.0
    for value, hours in pairs:
        if value is not None and hours > 0:
            total += value * hours
            weight += hours
    return total / weight if weight > 0 else None


def days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)
