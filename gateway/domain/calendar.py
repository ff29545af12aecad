"""A site's opening calendar and the planned time it gives: pure, in the site's own time zone.

Weekly opening hours (several ranges a day) are local wall-clock times; a day is
closed by a public holiday (national or Alsace-Moselle), by the zone's school
holidays when the school closes then, or by a labelled closure. A machine may
have its own exceptions: out of service (the whole day, or some hours) or extra
hours (even on a closed day). Planned intervals come out in UTC, built from
local times with ``zoneinfo``, so a week across a change of clocks counts the
hours it really had (the last Sunday of March is an hour shorter, if open).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from gateway.domain.holiday_dates import PublicHolidays, SchoolZone, public_holidays, school_holidays

ExceptionKind = Literal["out_of_service", "extra"]
# "24:00", the end of a day open until midnight: a range must end within its own day, and a
# microsecond short of midnight is what ``time`` can hold.
END_OF_DAY = time.max
# How far ahead a projection looks for planned hours before it gives up: a calendar with no
# opening at all would otherwise walk forever.
HORIZON_DAYS = 3 * 366


@dataclass(frozen=True, slots=True)
class Hours:
    """One opening range of a day, local wall-clock time, ``start < end``."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("an opening range ends after it starts")


@dataclass(frozen=True, slots=True)
class Closure:
    first: date
    last: date  # included
    label: str

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class MachineException:
    """A machine's own change to the calendar over [first, last]: whole days, or ``hours`` of each day."""

    first: date
    last: date
    kind: ExceptionKind
    hours: Hours | None = None  # None: the whole day (only meaningful for out of service)
    label: str = ""

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


def school_week() -> tuple[tuple[Hours, ...], ...]:
    """08:00–12:00 and 13:00–17:00, Monday to Friday: the usual day of a production school."""
    day = (Hours(time(8), time(12)), Hours(time(13), time(17)))
    return (day, day, day, day, day, (), ())


@dataclass(frozen=True, slots=True)
class Calendar:
    zone: str = "Europe/Paris"
    week: tuple[tuple[Hours, ...], ...] = field(default_factory=school_week)  # Monday first, 7 entries
    closures: tuple[Closure, ...] = ()
    public: PublicHolidays = "national"
    school_zone: SchoolZone | None = None  # set: closed during that zone's school holidays

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def closed_because(calendar: Calendar, day: date) -> str | None:
    """Why the whole site is closed on ``day`` (a holiday's or closure's label), or None."""
    for closure in calendar.closures:
        if closure.covers(day):
            return closure.label
    public = public_holidays(day.year, calendar.public).get(day)
    if public is not None:
        return public
    if calendar.school_zone is not None:
        return school_holidays(day.year, calendar.school_zone).get(day)
    return None


def day_hours(calendar: Calendar, day: date, exceptions: Sequence[MachineException] = ()) -> list[tuple[time, time]]:
    """The local opening ranges of ``day`` for a machine with those exceptions, sorted and merged."""
    ranges: list[tuple[time, time]] = []
    if closed_because(calendar, day) is None:
        ranges = [(h.start, h.end) for h in calendar.week[day.weekday()]]
    for extra in exceptions:
        if extra.kind == "extra" and extra.hours is not None and extra.covers(day):
            ranges.append((extra.hours.start, extra.hours.end))
    ranges = _merged(ranges)
    for out in exceptions:
        if out.kind == "out_of_service" and out.covers(day):
            if out.hours is None:
                return []
            ranges = _minus(ranges, (out.hours.start, out.hours.end))
    return ranges


def _merged(ranges: list[tuple[time, time]]) -> list[tuple[time, time]]:
    merged: list[tuple[time, time]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _minus(ranges: list[tuple[time, time]], cut: tuple[time, time]) -> list[tuple[time, time]]:
    kept: list[tuple[time, time]] = []
    for start, end in ranges:
        if start < cut[0]:
            kept.append((start, min(end, cut[0])))
        if end > cut[1]:
            kept.append((max(start, cut[1]), end))
    return kept


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def planned(
    calendar: Calendar, start: datetime, end: datetime, exceptions: Sequence[MachineException] = ()
) -> list[Interval]:
    """The planned intervals within [start, end), in UTC, clipped to the window (aware ``start`` and ``end``)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    zone = calendar.tz()
    found: list[Interval] = []
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    for day in _days(first - timedelta(days=1), last):
        for opens, closes in day_hours(calendar, day, exceptions):
            # In UTC: arithmetic between two datetimes of one zoneinfo zone is wall-clock arithmetic,
            # which would give a day across a change of clocks the hours of an ordinary one.
            low = max(start, datetime.combine(day, opens, tzinfo=zone).astimezone(UTC))
            # Open until midnight ends at the next day's midnight, not a microsecond before: days open round the
            # clock meet, and a stop under way across midnight is one stop (``stops.joined``).
            closing = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone) if closes == END_OF_DAY else None
            high = min(end, (closing or datetime.combine(day, closes, tzinfo=zone)).astimezone(UTC))
            if low < high:
                found.append(Interval(low, high))
    return found


def planned_seconds(intervals: Sequence[Interval]) -> float:
    return sum(i.seconds for i in intervals)


def overlap_s(intervals: Sequence[Interval], start: datetime, end: datetime) -> float:
    """Seconds of [start, end) that fall inside the planned ``intervals``."""
    total = 0.0
    for interval in intervals:
        low, high = max(start, interval.start), min(end, interval.end)
        if low < high:
            total += (high - low).total_seconds()
    return total


class PlannedTime:
    """Planned intervals indexed for many questions about one window (a year has hundreds of intervals and
    tens of thousands of spans and cycles): each answer walks only the intervals it touches, not all of them.

    Exact for intervals as ``planned`` gives them (sorted, disjoint); any others are answered by a walk over all.
    """

    def __init__(self, intervals: Sequence[Interval]) -> None:
        self.intervals = sorted(intervals, key=lambda i: (i.start, i.end))
        self._ends = [i.end for i in self.intervals]
        self._disjoint = all(a.end <= b.start for a, b in pairwise(self.intervals))

    def touching(self, start: datetime, end: datetime) -> Sequence[Interval]:
        """The intervals with a point in [start, end] (closed: an interval that only touches it is in)."""
        if not self._disjoint:
            return [i for i in self.intervals if i.start <= end and i.end >= start]
        found: list[Interval] = []
        for index in range(bisect_left(self._ends, start), len(self.intervals)):
            interval = self.intervals[index]
            if interval.start > end:
                break
            found.append(interval)
        return found

    def overlap_s(self, start: datetime, end: datetime) -> float:
        """``overlap_s(intervals, start, end)``."""
        return overlap_s(self.touching(start, end), start, end)

    def contains(self, ts: datetime) -> bool:
        """Whether ``ts`` falls in an interval, ends included."""
        return bool(self.touching(ts, ts))


def advance(
    calendar: Calendar, start: datetime, work_s: float, exceptions: Sequence[MachineException] = ()
) -> datetime | None:
    """The instant ``work_s`` seconds of planned time after ``start``; None when no planned time lies ahead.

    A projected finish walks only through opening hours: 10 h left on a Friday at
    16:00 with 08:00–17:00 weekdays ends on Monday at 17:00.
    """
    left = max(0.0, work_s)
    if left == 0:
        return start
    zone = calendar.tz()
    cursor = start.astimezone(UTC)
    first = start.astimezone(zone).date()
    for offset in range(0, HORIZON_DAYS, 7):
        week_start = datetime.combine(first + timedelta(days=offset), time(), tzinfo=zone)
        week_end = datetime.combine(first + timedelta(days=offset + 7), time(), tzinfo=zone)
        for interval in planned(calendar, max(cursor, week_start), week_end, exceptions):
            if interval.seconds >= left:
                return interval.start + timedelta(seconds=left)
            left -= interval.seconds
    return None


def parse_day(text: str) -> tuple[Hours, ...]:
    """``"08:00-12:00, 13:00-17:00"`` → the day's ranges; ``""`` or ``"-"``: closed. ValueError if unreadable.

    Ranges may not overlap: two that do are a typing slip a master would rather see refused.
    """
    cleaned = text.strip()
    if cleaned in {"", "-", "—"}:
        return ()
    ranges: list[Hours] = []
    for part in cleaned.replace(";", ",").split(","):
        opens, sep, closes = part.strip().replace("–", "-").partition("-")
        if not sep:
            raise ValueError(part)
        ranges.append(Hours(_clock(opens), _clock(closes)))
    ranges.sort(key=lambda h: h.start)
    if any(a.end > b.start for a, b in pairwise(ranges)):
        raise ValueError(text)
    return tuple(ranges)


def _clock(text: str) -> time:
    hours, _, minutes = text.strip().replace("h", ":").partition(":")
    minutes = minutes or "00"  # "8h" and "8" are 08:00
    if not (hours.isdigit() and len(hours) <= 2 and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(text)
    if (hours, minutes) == ("24", "00"):
        return END_OF_DAY
    return time(int(hours), int(minutes))


def format_day(ranges: Sequence[Hours]) -> str:
    return ", ".join(f"{_hhmm(h.start)}-{_hhmm(h.end)}" for h in ranges)


def _hhmm(moment: time) -> str:
    return "24:00" if moment == END_OF_DAY else f"{moment:%H:%M}"
