"""A practice log put together from per-session totals (``session_totals``) equals ``practice.practice_log``
walked over every cycle, on sessions and cycles hypothesis draws: tidy (one session after the other) and
hostile (cycles outliving their session, equal end times, aborted cycles, cycles of no part, runs broken by
long gaps, sessions without a standard or with a zero one). When two sessions' completed cycles interleave the
sessions are found (``interleaving``), and only then, and their cycles walked with the totals of the others.
The practice-logs CSV's line drawn from light records (``line_from_totals``) is the line of that log, bit for
bit, and declines (None) exactly where sessions interleave.

Floats are summed in another order than the walk's: compared within 1e-9 relative (slopes near 0 within
1e-12 absolute); integers exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.model import CycleFact, WorkSession
from gateway.domain.practice import PracticeLog, practice_log
from gateway.domain.session_totals import (
    LineSession,
    LogLine,
    interleaving,
    line_from_totals,
    log_from_totals,
    session_totals,
)
from tests.gateway.close_figures import close

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MACHINES = ("s/lathe", "s/mill")


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    started: datetime
    ended: datetime
    duration_s: float
    parts: int
    outcome: str


@dataclass(frozen=True, slots=True)
class Drawn:
    sessions: list[WorkSession]
    cycles: dict[int, list[Row]]
    standards: dict[int, float]


cycle_st = st.tuples(
    st.integers(0, 45 * 60),  # gap after the previous cycle's end, seconds: some over the 30 min of a run
    st.floats(1.0, 600.0, allow_nan=False),  # duration
    st.integers(0, 3),  # parts
    st.sampled_from(["completed", "completed", "completed", "aborted"]),
    st.integers(0, 6),  # with hostile data: how many seconds back it may end (equal ends happen)
)
session_st = st.tuples(
    st.sampled_from(MACHINES),
    st.one_of(st.none(), st.just(0.0), st.floats(30.0, 400.0, allow_nan=False)),
    st.lists(cycle_st, max_size=14),
    st.integers(0, 4 * 3600),  # gap before the session
)


@st.composite
def drawn(draw: Any, hostile: bool) -> Drawn:
    specs = draw(st.lists(session_st, min_size=1, max_size=8))
    ids = draw(st.permutations(list(range(1, 1 + sum(len(s[2]) for s in specs)))))
    sessions, cycles, standards = [], {}, {}
    clock, next_id = T0, iter(ids)
    for number, (machine, standard, specs_c, gap) in enumerate(specs, start=1):
        start = clock + timedelta(seconds=gap)
        t = start
        rows = []
        for pause, duration, parts, outcome, back in specs_c:
            began = t + timedelta(seconds=pause)
            ended = began + timedelta(seconds=duration)
            if hostile:  # a few seconds earlier: ends can tie or cross the previous session's last
                ended -= timedelta(seconds=back * 60 if back == 6 else back)
                ended = max(ended, began)
            rows.append(Row(next(next_id), began, ended, duration, parts, outcome))
            t = max(t, ended)
        end = t + timedelta(seconds=60)
        if hostile and rows and draw(st.booleans()):
            end = rows[-1].started + timedelta(seconds=1)  # its last cycle outlives it
        sessions.append(WorkSession(number, machine, 7, None if standard is None else number, start, end))
        cycles[number] = rows
        if standard is not None:
            standards[number] = standard
        clock = end if not hostile else start + (end - start) / 2
    return Drawn(sessions, cycles, standards)


def _walked(d: Drawn) -> PracticeLog:
    facts = [
        (
            (c.ended, c.id),
            CycleFact(
                s.machine, c.started, c.ended, c.duration_s, c.parts, c.outcome, 0.0, None, d.standards.get(s.id)
            ),
        )
        for s in d.sessions
        for c in d.cycles[s.id]
    ]
    facts.sort(key=lambda pair: pair[0])
    counted = _counted(d)
    return practice_log(sessions=d.sessions, cycles=[f for _, f in facts], scrap=2, now=NOW, counted=counted)


def _counted(d: Drawn) -> dict[str, int]:
    counted: dict[str, int] = {}
    for s in d.sessions:
        counted[s.machine] = counted.get(s.machine, 0) + sum(c.parts for c in d.cycles[s.id])
    return counted


def _from_totals(d: Drawn) -> PracticeLog:
    """The log from the sessions' totals, with the cycles of the interleaved sessions alone."""
    totals = {s.id: session_totals(d.cycles[s.id]) for s in d.sessions}
    needed = {i for group in interleaving(totals) for i in group}
    return log_from_totals(
        sessions=d.sessions,
        totals=totals,
        standards=d.standards,
        counted=_counted(d),
        scrap=2,
        now=NOW,
        cycles={i: d.cycles[i] for i in needed},
    )


def _really_interleaved(d: Drawn) -> bool:
    keyed = sorted((c.ended, c.id, s.id) for s in d.sessions for c in d.cycles[s.id] if c.outcome == "completed")
    owners = [owner for _, _, owner in keyed]
    runs = [o for i, o in enumerate(owners) if i == 0 or owners[i - 1] != o]
    return len(runs) != len(set(runs))


@settings(max_examples=400)
@given(drawn(hostile=False))
def test_totals_give_the_walked_log_on_tidy_sessions(d: Drawn) -> None:
    assert not interleaving({s.id: session_totals(d.cycles[s.id]) for s in d.sessions})
    found = _from_totals(d)
    assert close(found, _walked(d)), (found, _walked(d))


@settings(max_examples=400)
@given(drawn(hostile=True))
def test_totals_and_the_interleaved_cycles_give_the_walked_log(d: Drawn) -> None:
    groups = interleaving({s.id: session_totals(d.cycles[s.id]) for s in d.sessions})
    assert bool(groups) == _really_interleaved(d)
    found = _from_totals(d)
    assert close(found, _walked(d)), (found, _walked(d))


def test_a_long_log_keeps_its_trends() -> None:
    """Sixty sessions of ten cycles getting faster: both trends drawn, and equal to the walk's."""
    d = _long_log()
    found, walked = _from_totals(d), _walked(d)
    assert found.trend is not None
    assert found.trend < 0
    assert found.pace_trend is not None
    assert found.pace_trend < 0
    assert close(found, walked)


def _long_log() -> Drawn:
    sessions, cycles, standards = [], {}, {}
    next_id = 1
    for n in range(60):
        start = T0 + timedelta(days=n)
        rows = []
        t = start
        for k in range(10):
            duration = 200.0 - n - k * 0.5
            rows.append(Row(next_id, t, t + timedelta(seconds=duration), duration, 1, "completed"))
            next_id += 1
            t += timedelta(seconds=duration + 40 - n * 0.3)
        sessions.append(WorkSession(n + 1, MACHINES[n % 2], 7, 1, start, t))
        cycles[n + 1] = rows
        standards[n + 1] = 180.0
    return Drawn(sessions, cycles, standards)


def test_two_machines_at_once_are_walked_together() -> None:
    """A student on the lathe and the mill at the same time (the generated history has some), then on the mill
    alone: the first two sessions interleave all along and are walked cycle by cycle, the third from its totals."""
    sessions = [
        WorkSession(1, MACHINES[0], 7, 1, T0, T0 + timedelta(hours=3)),
        WorkSession(2, MACHINES[1], 7, 2, T0 + timedelta(minutes=2), T0 + timedelta(hours=3)),
        WorkSession(3, MACHINES[1], 7, 3, T0 + timedelta(hours=3, minutes=5), T0 + timedelta(hours=5)),
    ]
    cycles: dict[int, list[Row]] = {1: [], 2: [], 3: []}
    for k in range(12):
        for number, offset, length in ((1, 0.0, 200.0 - 3 * k), (2, 150.0, 260.0 - 5 * k)):
            began = T0 + timedelta(seconds=offset + 330 * k)
            cycles[number].append(
                Row(100 * number + k, began, began + timedelta(seconds=length), length, 1, "completed")
            )
        began = T0 + timedelta(hours=3, minutes=6, seconds=300 * k)
        cycles[3].append(Row(300 + k, began, began + timedelta(seconds=240 - 2 * k), 240 - 2 * k, 2, "completed"))
    d = Drawn(sessions, cycles, {1: 180.0, 2: 240.0, 3: 200.0})
    assert interleaving({s.id: session_totals(cycles[s.id]) for s in sessions}) == [[1, 2]]
    found, walked = _from_totals(d), _walked(d)
    assert found.trend is not None
    assert found.pace_trend is not None
    assert close(found, walked), (found, walked)


def _lines(d: Drawn) -> list[LineSession]:
    return [
        LineSession.of(s.machine, d.standards.get(s.id), s.seconds(NOW), sum(c.parts for c in d.cycles[s.id]),
                       session_totals(d.cycles[s.id]))
        for s in d.sessions
    ]  # fmt: skip


@settings(max_examples=400)
@given(drawn(hostile=True))
def test_the_csv_line_is_the_logs_line_bit_for_bit(d: Drawn) -> None:
    line = line_from_totals(_lines(d), 2)
    if interleaving({s.id: session_totals(d.cycles[s.id]) for s in d.sessions}):
        assert line is None, "interleaved sessions are left to log_from_totals, which walks their cycles"
        return
    assert line is not None
    # The same sums in the same order as log_from_totals: equal, not merely close.
    assert line == LogLine.of(_from_totals(d))
    assert line.trend_word == _from_totals(d).trend_word
    assert line.good == _from_totals(d).good


def test_a_line_of_no_session_is_empty() -> None:
    line = line_from_totals([], 0)
    assert line == LogLine(0, 0.0, 0, 0, 0, 0, None, None, None, None, None)
    assert line.trend_word == "unknown"


def test_a_long_logs_line_keeps_its_trends() -> None:
    """The long log above as a CSV line: both trends, and a line read from naive times (as SQLite gives them
    to the CSV) equals the one from aware times."""
    d = _long_log()
    line = line_from_totals(_lines(d), 2)
    assert line is not None
    assert line.trend is not None
    assert line.trend < 0
    assert line.pace_trend is not None
    assert line.trend_word == _walked(d).trend_word
    naive = [
        s._replace(**{f: getattr(s, f).replace(tzinfo=None) for f in ("first_started", "first_ended", "last_ended")})
        for s in _lines(d)
    ]
    assert line_from_totals(naive, 2) == line
