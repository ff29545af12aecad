"""A machine's figures over a stretch of time, cut at the local midnights: what a day summary keeps.

A utilisation, OEE or stops report over a week or a year is the sum of its days. Each
``Figures`` holds what one stretch (a whole local day, or the part of one a window
cuts) adds to a ``MachineReport``: the state timeline's seconds in each category, the
same seen through the planned intervals, the stops found in it, the cycles that ended
in it, the parts counted in it, and, per work session that owned cycles ended in planned
time, how many such cycles and parts (the performance numerator is Σ standard × parts;
the standard is read when the report is, so an order's new standard needs no
recomputation). What people say (stop reasons, scrap) is not kept: it is read when the
report is, so a reclassification changes no summary.

Cutting at midnight changes nothing in the sums: planned intervals never cross midnight
(``calendar.END_OF_DAY``), so neither does a stop. A stop's ``alarm`` flag is the one
thing a cut decides: it says whether a fault alarm was active in the stretch of that
day, so the same stop has the same flag in a day's, a week's and a year's report.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from gateway.domain.calendar import Interval, PlannedTime
from gateway.domain.oee import PlannedUse, Span, Utilisation, planned_use, utilisation
from gateway.domain.stops import Stop, joined, stops


@dataclass(frozen=True, slots=True)
class CycleEnd:
    """A cycle as a day's figures need it: when it ended, whether it completed, its parts and its owner."""

    ended: datetime
    completed: bool
    parts: int
    owner: int | None  # the work session it is attributed to


@dataclass(frozen=True, slots=True)
class Figures:
    start: datetime
    end: datetime
    use: Utilisation
    planned: PlannedUse  # its planned downtime is 0: it comes from the reasons, read with the report
    stops: tuple[Stop, ...]
    cycles: int  # completed cycles that ended in [start, end)
    made: int  # parts counted in [start, end)
    paced: tuple[tuple[int, int, int], ...]  # (work session, cycles, parts) of cycles ended in planned time


def midnights(start: datetime, end: datetime, zone: str) -> list[datetime]:
    """``start``, every local midnight strictly inside (start, end), and ``end``: the cuts of a window."""
    tz = ZoneInfo(zone)
    cuts = [start]
    day = start.astimezone(tz).date() + timedelta(days=1)
    while True:
        cut = day_start(day, tz)
        if cut >= end:
            break
        cuts.append(cut)
        day += timedelta(days=1)
    if end > start:
        cuts.append(end)
    return cuts


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def _clip(spans: Sequence[Span], ends: Sequence[datetime], start: datetime, end: datetime) -> list[Span]:
    """The spans within [start, end), cut at its edges; ``ends``: the spans' ends, for bisection (spans sorted,
    consecutive: a year of a machine is tens of thousands, cut into hundreds of days)."""
    found: list[Span] = []
    if spans:  # compared in the spans' own zone: across zones each comparison works out both offsets (slow)
        zone = spans[0].start.tzinfo
        start, end = start.astimezone(zone), end.astimezone(zone)
    for span in spans[bisect_right(ends, start) :]:
        if span.start >= end:
            break
        found.append(Span(max(span.start, start), min(span.end, end), span.category))
    return found


def split(
    spans: Sequence[Span],
    intervals: Sequence[Interval],
    cycles: Iterable[CycleEnd],
    parts: Iterable[tuple[datetime, int]],
    cuts: Sequence[datetime],
    *,
    threshold_s: float,
) -> list[Figures]:
    """The figures of each stretch [cuts[i], cuts[i+1]) of a timeline ``spans`` (sorted, consecutive) that
    covers them all."""
    ordered = sorted(cycles, key=lambda c: c.ended)
    cycle_ends = [c.ended for c in ordered]
    counted = sorted(parts, key=lambda p: p[0])
    part_times = [ts for ts, _ in counted]
    span_ends = [s.end for s in spans]
    planned_sorted = sorted(intervals, key=lambda i: i.end)
    interval_ends = [i.end for i in planned_sorted]
    out: list[Figures] = []
    for lo, hi in pairwise(cuts):
        here = _clip(spans, span_ends, lo, hi)
        inside = []
        for interval in planned_sorted[bisect_right(interval_ends, lo) :]:
            if interval.start >= hi:
                break
            inside.append(Interval(max(interval.start, lo), min(interval.end, hi)))
        index = PlannedTime(inside)
        ended = ordered[bisect_left(cycle_ends, lo) : bisect_left(cycle_ends, hi)]
        paced: dict[int, list[int]] = {}
        for c in ended:
            if c.owner is not None and index.contains(c.ended):
                tally = paced.setdefault(c.owner, [0, 0])
                tally[0] += 1
                tally[1] += c.parts
        out.append(
            Figures(
                start=lo,
                end=hi,
                use=utilisation(here),
                planned=planned_use(here, inside),
                stops=tuple(kept_stops(stops(here, inside, threshold_s=0, counted_until=hi), lo, hi, threshold_s)),
                cycles=sum(1 for c in ended if c.completed),
                made=sum(n for _, n in counted[bisect_left(part_times, lo) : bisect_left(part_times, hi)]),
                paced=tuple((owner, n, p) for owner, (n, p) in sorted(paced.items())),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Summed:
    use: Utilisation
    planned: PlannedUse
    stops: list[Stop]
    cycles: int
    made: int
    paced: dict[int, tuple[int, int]]  # work session → (cycles, parts) ended in planned time


_USE = ("window_s", "running_s", "held_s", "alarm_s", "idle_s", "offline_s")
_PLANNED = ("calendar_s", "running_s", "unplanned_running_s", "held_s", "alarm_s", "idle_s", "offline_s")


def kept_stops(found: Iterable[Stop], lo: datetime, hi: datetime, threshold_s: float) -> list[Stop]:
    """A stretch's stops over the threshold, and those at its edges whatever their length: a stop under way
    across midnight is cut in two by the days, and only the two halves joined (``total``) face the threshold."""
    return [s for s in found if s.seconds >= threshold_s or s.start <= lo or s.end >= hi]


def total(pieces: Sequence[Figures], threshold_s: float = 0.0) -> Summed:
    """The figures of consecutive stretches added up: those of the window they cover; a stop that continues
    from one stretch into the next is one stop, kept if it lasts ``threshold_s`` (the site's stop threshold)."""
    use = Utilisation(**{name: sum(getattr(p.use, name) for p in pieces) for name in _USE})
    planned = PlannedUse(
        planned_downtime_s=0.0, **{name: sum(getattr(p.planned, name) for p in pieces) for name in _PLANNED}
    )
    paced: dict[int, tuple[int, int]] = {}
    for piece in pieces:
        for owner, n, parts in piece.paced:
            seen = paced.get(owner, (0, 0))
            paced[owner] = (seen[0] + n, seen[1] + parts)
    return Summed(
        use=use,
        planned=planned,
        stops=[s for s in joined(s for p in pieces for s in p.stops) if s.seconds >= threshold_s],
        cycles=sum(p.cycles for p in pieces),
        made=sum(p.made for p in pieces),
        paced=paced,
    )


# --- a day's figures as stored: plain numbers and JSON -----------------------


def to_columns(figures: Figures) -> dict[str, Any]:
    """The columns of a ``machine_days`` row (without its machine and day)."""
    use, plan = figures.use, figures.planned
    return {
        "window_s": use.window_s,
        "running_s": use.running_s,
        "held_s": use.held_s,
        "alarm_s": use.alarm_s,
        "idle_s": use.idle_s,
        "offline_s": use.offline_s,
        "calendar_s": plan.calendar_s,
        "planned_running_s": plan.running_s,
        "unplanned_running_s": plan.unplanned_running_s,
        "planned_held_s": plan.held_s,
        "planned_alarm_s": plan.alarm_s,
        "planned_idle_s": plan.idle_s,
        "planned_offline_s": plan.offline_s,
        "cycles": figures.cycles,
        "made": figures.made,
        "stops": stops_json(figures.stops),
        "paced": [list(p) for p in figures.paced],
    }


def from_columns(start: datetime, end: datetime, row: dict[str, Any]) -> Figures:
    return Figures(
        start=start,
        end=end,
        use=Utilisation(**{name: float(row[name]) for name in _USE}),
        planned=PlannedUse(
            calendar_s=float(row["calendar_s"]),
            planned_downtime_s=0.0,
            running_s=float(row["planned_running_s"]),
            unplanned_running_s=float(row["unplanned_running_s"]),
            held_s=float(row["planned_held_s"]),
            alarm_s=float(row["planned_alarm_s"]),
            idle_s=float(row["planned_idle_s"]),
            offline_s=float(row["planned_offline_s"]),
        ),
        stops=tuple(stops_of_json(row["stops"])),
        cycles=int(row["cycles"]),
        made=int(row["made"]),
        paced=tuple((int(o), int(n), int(p)) for o, n, p in row["paced"]),
    )


def stops_json(found: Iterable[Stop]) -> list[list[Any]]:
    """Stops as a summary keeps them: [start, end, alarm, ongoing]."""
    return [[s.start.isoformat(), s.end.isoformat(), s.alarm, s.ongoing] for s in found]


def stops_of_json(stored: Iterable[Sequence[Any]]) -> list[Stop]:
    return [
        Stop(datetime.fromisoformat(a), datetime.fromisoformat(b), bool(alarm), bool(ongoing))
        for a, b, alarm, ongoing in stored
    ]
