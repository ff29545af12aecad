"""First-part sign-off: when a series of an operation on a machine waits for a master's approval.

The rule (documented in docs/records.md):
- a **series** is the run of an operation on one machine after a setup. A work
  session opens a new series when the machine's previous session (by start time,
  whoever the student) was on another operation, on practice, or when there was
  none: the machine was set up again. A session that follows a session on the
  same operation on the same machine continues its series: a second student who
  takes over the same series, or the same student the next morning, needs no new
  approval;
- the parts of a series of an operation that asks for a first-part approval are
  **pending** until a master gives an OK for that series (at the kiosk with a
  master's badge, or on the order page). Pending parts are not good parts;
- a NOK is a scrapped first part (a scrap row "Premier article non conforme:
  <note>") and the series stays pending until an OK;
- once an OK is given, every part of the series counts, the first one included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

NOK_REASON = "Premier article non conforme"


@dataclass(frozen=True, slots=True)
class Start:
    """A work session as the rule sees it: where, on which operation, from when."""

    session_id: int
    machine_id: int
    operation_id: int | None
    started: datetime


def series(starts: Iterable[Start]) -> dict[int, int]:
    """Session id → the id of the session that opened its series (itself, when it opened one)."""
    found: dict[int, int] = {}
    previous: dict[int, Start] = {}
    for start in sorted(starts, key=lambda s: (s.started, s.session_id)):
        before = previous.get(start.machine_id)
        same = before is not None and start.operation_id is not None and before.operation_id == start.operation_id
        found[start.session_id] = found[before.session_id] if same and before is not None else start.session_id
        previous[start.machine_id] = start
    return found


@dataclass(frozen=True, slots=True)
class Verdict:
    session_id: int
    ok: bool


def pending(
    opened: Mapping[int, int], needs_approval: Mapping[int, bool], verdicts: Iterable[Verdict]
) -> dict[int, bool]:
    """Session id → whether its parts wait for an approval.

    ``opened``: ``series`` of the sessions; ``needs_approval``: session id → whether its operation asks for a
    first-part approval; a series is approved by an OK given in any of its sessions.
    """
    approved = {opened[v.session_id] for v in verdicts if v.ok and v.session_id in opened}
    return {sid: needs_approval.get(sid, False) and first not in approved for sid, first in opened.items()}


def nok_reason(note: str) -> str:
    return f"{NOK_REASON}: {note}" if note.strip() else NOK_REASON
