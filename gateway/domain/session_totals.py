"""A finished work session's totals, and a student's practice log drawn from them without any of her cycles.

``practice_log`` walks every cycle (about 20,000 in three years of one student). Everything it gives is a sum,
a minimum or a least-squares slope over the completed cycles in (end, id) order, so each session can keep the
sums of its own cycles once (``session_totals``) and a log be put together from them (``log_from_totals``):

- the cycle-time trend is the slope of ``duration / standard`` against the global index ``i`` of each cycle
  with a standard. The standard is the session's (read with each report, never kept), so a session keeps
  ``Σ d`` and ``Σ j·d`` over its completed cycles with their local index ``j``; in the log a session whose
  first such cycle has index ``o`` adds ``Σ d / s`` and ``(o·Σ d + Σ j·d) / s``.
- the floor-to-floor trend pairs each completed cycle with the student's previous completed cycle on the same
  machine: within a session the session keeps the count, ``Σ x`` and ``Σ j·x`` of ``x = (end − previous
  end) / parts``; the pair across sessions needs the session's first completed cycle (start, end, parts) and
  the last end of the previous session on the machine.

This holds while every session's completed cycles are consecutive in the (end, id) order of all of them. A
cycle that outlives its session can end after the next session's first cycle, and two sessions on two machines
at once interleave all along: such sessions are grouped (``interleaving``) and the log walks the cycles of each
group, at its place among the others, as ``practice_log`` would; only those cycles are needed.

The practice-logs CSV shows a line of each student's log (``LogLine``): ``line_from_totals`` draws it from
light records of her sessions, where none interleave (``log_from_totals`` otherwise).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import NamedTuple, Protocol

from gateway.domain.model import WorkSession
from gateway.domain.practice import RUN_GAP_S, TREND_MIN_CYCLES, MachinePractice, PracticeLog, trend_word


class CycleLike(Protocol):
    """What the totals read of a cycle (the store's ``CycleRow`` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def started(self) -> datetime: ...
    @property
    def ended(self) -> datetime: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def parts(self) -> int: ...
    @property
    def outcome(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SessionTotals:
    """Sums over the cycles attributed to one session; ``first_*`` and ``last_*`` are of its completed cycles
    in (end, id) order (None when it has none)."""

    cycle_s: float  # Σ duration of every cycle, completed or not
    completed: int
    completed_s: float  # Σ d over the completed cycles
    best_s: float | None  # the shortest completed cycle
    indexed_s: float  # Σ j·d over the completed cycles, j their index in the session from 0
    paces: int  # completed cycles after the session's first that make a floor-to-floor pair (see module)
    pace_s: float  # Σ x of those pairs, x = (end − previous end) / parts
    indexed_pace_s: float  # Σ j·x, j the pair's index among the session's pairs from 0
    first_id: int | None = None
    first_started: datetime | None = None
    first_ended: datetime | None = None
    first_parts: int | None = None
    last_id: int | None = None
    last_ended: datetime | None = None
    earliest_started: datetime | None = None  # the earliest start of a completed cycle (a practice's first good)

    @property
    def first_key(self) -> tuple[datetime, int] | None:
        if self.first_ended is None or self.first_id is None:
            return None
        return self.first_ended, self.first_id

    @property
    def last_key(self) -> tuple[datetime, int] | None:
        if self.last_ended is None or self.last_id is None:
            return None
        return self.last_ended, self.last_id


def session_totals(cycles: Iterable[CycleLike]) -> SessionTotals:
    """The totals of one session's cycles (any order: the completed ones are taken by end, then id)."""
    every = list(cycles)
    completed = sorted((c for c in every if c.outcome == "completed"), key=lambda c: (c.ended, c.id))
    indexed = 0.0
    for j, c in enumerate(completed):
        indexed += j * c.duration_s
    paces: list[float] = []
    for before, c in pairwise(completed):
        # As ``practice.floor_to_floor``, less the standard (the session's, applied when the log is drawn).
        if c.parts > 0 and (c.started - before.ended).total_seconds() <= RUN_GAP_S:
            paces.append((c.ended - before.ended).total_seconds() / c.parts)
    first = completed[0] if completed else None
    last = completed[-1] if completed else None
    return SessionTotals(
        cycle_s=sum(c.duration_s for c in every),
        completed=len(completed),
        completed_s=sum(c.duration_s for c in completed),
        best_s=min((c.duration_s for c in completed), default=None),
        indexed_s=indexed,
        paces=len(paces),
        pace_s=sum(paces),
        indexed_pace_s=sum(j * x for j, x in enumerate(paces)),
        first_id=None if first is None else first.id,
        first_started=None if first is None else first.started,
        first_ended=None if first is None else first.ended,
        first_parts=None if first is None else first.parts,
        last_id=None if last is None else last.id,
        last_ended=None if last is None else last.ended,
        earliest_started=min((c.started for c in completed), default=None),
    )


@dataclass
class _Slope:
    """Σ y and Σ i·y of values y at consecutive indexes i: enough for their least-squares slope."""

    n: int = 0
    total: float = 0.0
    indexed: float = 0.0

    def add_run(self, count: int, total: float, indexed: float, scale: float) -> None:
        """A run of ``count`` values with local sums ``total`` (Σ y·scale) and ``indexed`` (Σ j·y·scale)."""
        self.indexed += (self.n * total + indexed) / scale
        self.total += total / scale
        self.n += count

    def slope(self) -> float | None:
        """As ``practice.slope``: Σ (i − mean i)(y − mean y) / Σ (i − mean i)², which is Σ i·y − mean i · Σ y
        over n(n² − 1)/12 (an exact integer, as the walk's sum of squares of half-integers is)."""
        n = self.n
        if n < 3:
            return None
        return (self.indexed - (n - 1) / 2 * self.total) / (n * (n * n - 1) / 12)


def interleaving(totals: Mapping[int, SessionTotals]) -> list[list[int]]:
    """The groups of sessions (ids) whose completed cycles interleave in (end, id) order: a group's sessions
    are not one block after the other, so the log walks their cycles together (``log_from_totals``)."""
    spans = sorted((first, last, i) for i, t in totals.items() if (first := t.first_key) and (last := t.last_key))
    groups: list[list[int]] = []
    reach: tuple[datetime, int] | None = None
    for first, last, session_id in spans:
        if reach is not None and first <= reach:
            groups[-1].append(session_id)
            reach = max(reach, last)
        else:
            groups.append([session_id])
            reach = last
    return [g for g in groups if len(g) > 1]


def log_from_totals(
    *,
    sessions: Sequence[WorkSession],
    totals: Mapping[int, SessionTotals],
    standards: Mapping[int, float],
    counted: Mapping[str, int],
    scrap: int,
    now: datetime,
    cycles: Mapping[int, Sequence[CycleLike]] | None = None,
) -> PracticeLog:
    """The ``practice_log`` of ``sessions`` from each one's totals (``totals[session.id]``), their standards
    (session id → standard; none for practice), the parts counted per machine and the scrap; and the
    ``cycles`` of the sessions that ``interleaving`` puts in a group (a KeyError without them): each group's
    cycles are walked together, at their place among the other sessions.

    Floats are summed in another order than the walk's: equal within rounding (~1e-12 relative), not bitwise."""
    mine = [totals[s.id] for s in sessions]
    by_id = {s.id: s for s in sessions}
    grouped = {
        session_id: group for group in interleaving({s.id: totals[s.id] for s in sessions}) for session_id in group
    }
    walk = _Walk()
    units = sorted((key, s.id) for s in sessions if (key := totals[s.id].first_key) is not None)
    for _, session_id in units:
        group = grouped.get(session_id)
        if group is None:
            walk.session(by_id[session_id].machine, standards.get(session_id), totals[session_id])
        elif group[0] == session_id:  # a group at its first cycle; its other sessions are walked with it
            assert cycles is not None, "the cycles of interleaved sessions are needed"
            walk.cycles([(by_id[i], standards.get(i), c) for i in group for c in cycles[i]])
    line = _line([s.seconds(now) for s in sessions], mine, sum(counted.values()), scrap, walk)
    return PracticeLog(
        sessions=line.sessions,
        session_s=line.session_s,
        cycle_s=line.cycle_s,
        cycles=line.cycles,
        parts_made=line.parts_made,
        scrap=scrap,
        mean_cycle_s=line.mean_cycle_s,
        best_cycle_s=line.best_cycle_s,
        mean_vs_standard=line.mean_vs_standard,
        trend=line.trend,
        machines=_per_machine(sessions, totals, now, counted),
        trend_cycles=walk.ratios.n,
        pace_trend=line.pace_trend,
    )


@dataclass(frozen=True, slots=True)
class LogLine:
    """What the practice-logs CSV shows of a student's log: ``PracticeLog``'s totals, without its machines,
    stops and setup."""

    sessions: int
    session_s: float
    cycle_s: float
    cycles: int
    parts_made: int
    scrap: int
    mean_cycle_s: float | None
    best_cycle_s: float | None
    mean_vs_standard: float | None
    trend: float | None
    pace_trend: float | None

    @classmethod
    def of(cls, log: PracticeLog) -> LogLine:
        return cls(
            log.sessions, log.session_s, log.cycle_s, log.cycles, log.parts_made, log.scrap, log.mean_cycle_s,
            log.best_cycle_s, log.mean_vs_standard, log.trend, log.pace_trend,
        )  # fmt: skip

    @property
    def good(self) -> int:
        return max(0, self.parts_made - self.scrap)

    @property
    def trend_word(self) -> str:
        return trend_word(self.trend, self.pace_trend)


class LineSession(NamedTuple):
    """A session as a log line takes it: its machine (any key), its standard, its length, its parts and its
    cycles' totals (``SessionTotals``' fields up to ``last_ended``; times all naive or all aware). A tuple,
    not a ``SessionTotals`` beside the session: the CSV makes one per session of years of every student, and
    a frozen dataclass of fourteen fields costs four times as much to build."""

    machine: object
    standard: float | None
    seconds: float
    parts: int
    cycle_s: float
    completed: int
    completed_s: float
    best_s: float | None
    indexed_s: float
    paces: int
    pace_s: float
    indexed_pace_s: float
    first_id: int | None
    first_started: datetime | None
    first_ended: datetime | None
    first_parts: int | None
    last_id: int | None
    last_ended: datetime | None

    @classmethod
    def of(cls, machine: object, standard: float | None, seconds: float, parts: int, t: SessionTotals) -> LineSession:
        return cls(machine, standard, seconds, parts, *(getattr(t, name) for name in cls._fields[4:]))

    @property
    def totals(self) -> SessionTotals:
        return SessionTotals(*self[4:])


def line_from_totals(sessions: Sequence[LineSession], scrap: int) -> LogLine | None:
    """``LogLine.of(log_from_totals(...))`` of ``sessions`` (by start, then id), without a ``WorkSession`` per
    session or a dictionary of them: what the practice-logs CSV reads for every student at once. None when
    the sessions' completed cycles interleave: only ``log_from_totals``, walking their cycles, can draw them."""
    units = sorted(((s.first_ended, s.first_id), k) for k, s in enumerate(sessions) if s.first_ended is not None)
    walk = _Walk()
    reach: tuple[datetime | None, int | None] | None = None
    for key, k in units:
        if reach is not None and key <= reach:
            return None
        line = sessions[k]
        reach = (line.last_ended, line.last_id)  # not before ``key``, so past every earlier session's last
        walk.session(line.machine, line.standard, line)
    return _line([s.seconds for s in sessions], sessions, sum(s.parts for s in sessions), scrap, walk)


def _line(
    seconds: Sequence[float], totals: Sequence[SessionTotals | LineSession], parts: int, scrap: int, walk: _Walk
) -> LogLine:
    """A log's totals, its sessions' ``seconds`` and ``totals`` (in the order of her log) and ``walk`` done."""
    ratios, paces = walk.ratios, walk.paces
    completed = sum(t.completed for t in totals)
    completed_s = sum(t.completed_s for t in totals)
    bests = [t.best_s for t in totals if t.best_s is not None]
    return LogLine(
        sessions=len(totals),
        session_s=sum(seconds),
        cycle_s=sum(t.cycle_s for t in totals),
        cycles=completed,
        parts_made=parts,
        scrap=scrap,
        mean_cycle_s=completed_s / completed if completed else None,
        best_cycle_s=min(bests) if bests else None,
        mean_vs_standard=ratios.total / ratios.n if ratios.n else None,
        trend=ratios.slope() if ratios.n >= TREND_MIN_CYCLES else None,
        pace_trend=paces.slope() if paces.n >= TREND_MIN_CYCLES else None,
    )


class _Walk:
    """The trends' sums, session after session (or cycle after cycle where sessions interleave), in time order."""

    def __init__(self) -> None:
        self.ratios, self.paces = _Slope(), _Slope()
        self.last_end: dict[object, datetime] = {}  # machine → the end of the student's last completed cycle there

    def session(self, machine: object, standard: float | None, t: SessionTotals | LineSession) -> None:
        """A session whose completed cycles are a block of their own, from its totals."""
        before = self.last_end.get(machine)
        assert t.last_ended is not None
        assert t.first_started is not None
        assert t.first_ended is not None
        self.last_end[machine] = t.last_ended
        if not standard:
            return
        self.ratios.add_run(t.completed, t.completed_s, t.indexed_s, standard)
        parts = t.first_parts or 0
        if before is not None and parts > 0 and (t.first_started - before).total_seconds() <= RUN_GAP_S:
            self.paces.add_run(1, (t.first_ended - before).total_seconds() / parts, 0.0, standard)
        self.paces.add_run(t.paces, t.pace_s, t.indexed_pace_s, standard)

    def cycles(self, owned: Iterable[tuple[WorkSession, float | None, CycleLike]]) -> None:
        """Cycles of interleaved sessions (each with its session's standard), one by one as ``practice_log``
        walks them."""
        done = sorted(((c.ended, c.id), s, standard, c) for s, standard, c in owned if c.outcome == "completed")
        for _, s, standard, c in done:
            before = self.last_end.get(s.machine)
            self.last_end[s.machine] = c.ended
            if not standard:
                continue
            self.ratios.add_run(1, c.duration_s, 0.0, standard)
            if before is not None and c.parts > 0 and (c.started - before).total_seconds() <= RUN_GAP_S:
                self.paces.add_run(1, (c.ended - before).total_seconds() / c.parts, 0.0, standard)


def _per_machine(
    sessions: Sequence[WorkSession], totals: Mapping[int, SessionTotals], now: datetime, counted: Mapping[str, int]
) -> tuple[MachinePractice, ...]:
    by_machine: dict[str, list[WorkSession]] = defaultdict(list)
    for s in sessions:
        by_machine[s.machine].append(s)
    names = sorted(set(by_machine) | set(counted))
    return tuple(
        MachinePractice(
            machine=name,
            sessions=len(by_machine[name]),
            session_s=sum(s.seconds(now) for s in by_machine[name]),
            cycle_s=sum(totals[s.id].cycle_s for s in by_machine[name]),
            cycles=sum(totals[s.id].completed for s in by_machine[name]),
            parts=counted.get(name, 0),
        )
        for name in names
    )
