"""Which work session a cycle or a part belongs to, by the event's source time.

Attribution uses the time the machine reported, not the time the message
arrived, so events buffered for hours in an outbox still land on the student
and order that were checked in when the part was made.

Rules (documented, with the reasons, in docs/records.md):
- a cycle belongs to the session that was open for the longest part of it; a
  tie goes to the later session (the one the part was finished in); a cycle of
  no duration goes to the session open at its instant. So a student who checks
  out while her last cycle runs keeps it, and one who badges in during the last
  seconds of somebody else's cycle does not take it;
- a part counted during a cycle (after its start, up to and including its end,
  on the same machine) follows that cycle, whoever owns it or if nobody does;
  so a cycle and its parts always land on the same session, the order and the
  practice logs add up, and a master's reassignment of the cycle carries its
  parts. Any other part count belongs to the session open at its timestamp;
- sessions on one machine never overlap: a check-in while another student is
  checked in is refused, never silently resolved.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from gateway.domain.model import WorkSession


class SessionConflictError(ValueError):
    """A new or changed session would overlap another on the same machine."""

    def __init__(self, other: WorkSession) -> None:
        super().__init__(
            f"machine {other.machine} is already taken by session {other.id} from {other.start:%Y-%m-%d %H:%M}"
        )
        self.other = other


def session_at(sessions: Iterable[WorkSession], machine: str, ts: datetime) -> WorkSession | None:
    for session in sessions:
        if session.machine == machine and session.covers(ts):
            return session
    return None


def attribute_cycle(
    sessions: Iterable[WorkSession], machine: str, *, started: datetime, ended: datetime
) -> WorkSession | None:
    """The session open for the longest part of [started, ended); ties go to the later one."""
    candidates = sorted((s for s in sessions if s.machine == machine), key=lambda s: s.start)
    if ended <= started:
        return session_at(candidates, machine, ended) or next((s for s in candidates if s.end == ended), None)
    best: WorkSession | None = None
    longest = 0.0
    for session in candidates:
        overlap = session.overlap_s(started, ended)
        if overlap > 0 and overlap >= longest:
            best, longest = session, overlap
    return best


def in_cycle(ts: datetime, started: datetime, ended: datetime) -> bool:
    """Whether a part counted at ``ts`` was made by the cycle [started, ended].

    Half-open on the left: a part counted at the instant one cycle ends and the
    next starts is the finished cycle's.
    """
    return started < ts <= ended or started == ts == ended


def attribute_part(
    sessions: Iterable[WorkSession],
    machine: str,
    ts: datetime,
    *,
    cycles: Iterable[tuple[datetime, datetime, WorkSession | None]] = (),
) -> WorkSession | None:
    """``cycles``: (started, ended, owner) of the machine's cycles, owner as attributed (or assigned)."""
    for started, ended, owner in sorted(cycles, key=lambda c: c[1]):
        if in_cycle(ts, started, ended):
            return owner
    return session_at(sessions, machine, ts)


class MachineSessions:
    """One machine's sessions, indexed by start, for attributing many cycles and parts of a window at once.

    ``attribute_cycle`` and ``attribute_part`` walk every session (and every cycle) for each event: a year of a
    machine is thousands of sessions and tens of thousands of cycles, so a walk per event is quadratic. Here
    each answer looks only at the sessions and cycles around its time; the answers are the same.
    """

    def __init__(self, sessions: Iterable[WorkSession], machine: str) -> None:
        self.machine = machine
        self._given = list(sessions)  # the walks' own order, for the fallback
        self.sessions = sorted((s for s in self._given if s.machine == machine), key=lambda s: s.start)
        self._starts = [s.start for s in self.sessions]
        # Sessions on one machine never overlap (a check-in is refused otherwise), so at most one covers an
        # instant; should some overlap anyway, the walk over all of them decides, as before.
        self._disjoint = all(
            a.end is not None and a.end <= b.start for a, b in zip(self.sessions, self.sessions[1:], strict=False)
        )

    def at(self, ts: datetime) -> WorkSession | None:
        """``session_at``."""
        if not self._disjoint:
            return session_at(self._given, self.machine, ts)
        index = bisect_right(self._starts, ts) - 1
        return self.sessions[index] if index >= 0 and self.sessions[index].covers(ts) else None

    def cycle_owner(self, *, started: datetime, ended: datetime) -> WorkSession | None:
        """``attribute_cycle``."""
        if not self._disjoint:
            return attribute_cycle(self._given, self.machine, started=started, ended=ended)
        if ended <= started:
            return self.at(ended) or next((s for s in self._near(ended, ended) if s.end == ended), None)
        best: WorkSession | None = None
        longest = 0.0
        for session in self._near(started, ended):
            overlap = session.overlap_s(started, ended)
            if overlap > 0 and overlap >= longest:
                best, longest = session, overlap
        return best

    def _near(self, start: datetime, end: datetime) -> Sequence[WorkSession]:
        """The sessions that start by ``end`` and end at or after ``start`` (or are open), in start order."""
        stop = bisect_right(self._starts, end)
        first = stop
        while first > 0:
            ends = self.sessions[first - 1].end
            if ends is not None and ends < start:
                break  # disjoint and sorted: every earlier session ended earlier still
            first -= 1
        return self.sessions[first:stop]


class MachineCycles:
    """One machine's cycles (started, ended, owner) indexed by end, for ``attribute_part`` over many parts."""

    def __init__(self, cycles: Iterable[tuple[datetime, datetime, WorkSession | None]]) -> None:
        self.cycles = sorted(cycles, key=lambda c: c[1])  # stable: the order ``attribute_part`` walks them in
        self._ends = [c[1] for c in self.cycles]
        self._longest = max(((c[1] - c[0]) for c in self.cycles), default=None)

    def owner_of(self, ts: datetime) -> tuple[bool, WorkSession | None]:
        """(True, owner) of the first cycle (by end) that made a part counted at ``ts``; (False, None): none did.

        A cycle that made it ends at or after ``ts`` and at most its duration later: only those are looked at.
        """
        if self._longest is None:
            return False, None
        latest = ts + max(self._longest, timedelta(0))  # a cycle ending before it starts makes nothing
        for index in range(bisect_left(self._ends, ts), len(self.cycles)):
            started, ended, owner = self.cycles[index]
            if ended > latest:
                break
            if in_cycle(ts, started, ended):
                return True, owner
        return False, None


def part_owner(sessions: MachineSessions, cycles: MachineCycles, ts: datetime) -> WorkSession | None:
    """``attribute_part`` with both indexes built once for the machine."""
    found, owner = cycles.owner_of(ts)
    return owner if found else sessions.at(ts)


def check_no_overlap(
    existing: Iterable[WorkSession], machine: str, start: datetime, end: datetime | None, *, ignore: int | None = None
) -> None:
    """Raise SessionConflictError when [start, end) overlaps another session on the machine."""
    if end is not None and end <= start:
        raise ValueError("a session must end after it starts")
    for session in existing:
        if session.machine == machine and session.id != ignore and session.overlaps(start, end):
            raise SessionConflictError(session)
