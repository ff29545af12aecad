"""Which work session a cycle or a part belongs to, by the event's source time.

Attribution uses the time the machine reported, not the time the message
arrived, so events buffered for hours in an outbox still land on the student
and order that were checked in when the part was made.

Rules (documented in docs/records.md):
- a cycle belongs to the session open on its machine when it *ended* (the part
  was finished then); failing that, to the one open when it started (the student
  checked out while the last cycle ran);
- a part count counted during a cycle (between its start and end, on the same
  machine) follows that cycle, so that a master's reassignment of the cycle
  carries its parts along; any other part count belongs to the session open at
  its timestamp;
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
    candidates = [s for s in sessions if s.machine == machine]
    return session_at(candidates, machine, ended) or session_at(candidates, machine, started)


def attribute_part(
    sessions: Iterable[WorkSession],
    machine: str,
    ts: datetime,
    *,
    cycles: Iterable[tuple[datetime, datetime, WorkSession | None]] = (),
) -> WorkSession | None:
    """``cycles``: (started, ended, owner) of the machine's cycles, owner as attributed (or assigned)."""
    for started, ended, owner in sorted(cycles, key=lambda c: c[1]):
        if started <= ts <= ended:
            return owner or session_at(sessions, machine, ts)
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
