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

from collections.abc import Iterable
from datetime import datetime

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


def check_no_overlap(
    existing: Iterable[WorkSession], machine: str, start: datetime, end: datetime | None, *, ignore: int | None = None
) -> None:
    """Raise SessionConflictError when [start, end) overlaps another session on the machine."""
    if end is not None and end <= start:
        raise ValueError("a session must end after it starts")
    for session in existing:
        if session.machine == machine and session.id != ignore and session.overlaps(start, end):
            raise SessionConflictError(session)
