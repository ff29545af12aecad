"""GRBL as G-code sender: program loading and the character-counting protocol. Pure, no I/O.

GRBL's serial receive buffer holds 127 bytes. The sender keeps the sum of the
lengths (with their ``\\n``) of lines sent but not yet answered by ``ok`` or
``error:N`` at or below that, so GRBL's planner never starves and its buffer
never overflows. Lines that write EEPROM (``$`` commands, G10, G28.1, G30.1)
disable interrupts, so they are sent alone: after every earlier line is
answered, and nothing follows them until they are answered.

A ``Job`` is one run of one program: the unit the cycle detector counts.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from edge_agent.drivers import Reading

RX_BUFFER = 127
MAX_LINE = 79  # GRBL's line buffer is 80 bytes with its terminator: longer lines get error:11
_COMMENT = re.compile(r"\([^)]*\)|;.*$")
_SYNC = re.compile(r"^\$|G10(?![0-9])|G28\.1|G30\.1", re.IGNORECASE)
_REALTIME = set("?!~")


class ProgramError(ValueError):
    """A program GRBL cannot be streamed: the message names the line."""


def load_program(text: str) -> list[str]:
    """The lines to send: comments, blank lines and ``%`` removed; each checked against GRBL's limits."""
    lines: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line or line == "%":
            continue
        if not line.isascii() or any(ord(c) < 32 for c in line):
            raise ProgramError(f"line {number}: characters GRBL does not accept: {raw[:40]!r}")
        if _REALTIME & set(line):
            raise ProgramError(f"line {number}: '?', '!' and '~' are GRBL realtime commands: {raw[:40]!r}")
        if len(line) > MAX_LINE:
            raise ProgramError(f"line {number}: {len(line)} characters, GRBL accepts at most {MAX_LINE}")
        lines.append(line)
    if not lines:
        raise ProgramError("the program has no G-code lines")
    return lines


def is_sync(line: str) -> bool:
    return bool(_SYNC.search(line.replace(" ", "")))


@dataclass
class Streamer:
    """Which lines may be sent now, and what is in flight; ``ack`` for every ok or error:N."""

    lines: list[str]
    limit: int = RX_BUFFER
    next_index: int = 0
    acked: int = 0
    peak_in_flight: int = 0
    _in_flight: deque[int] = field(default_factory=deque)
    _sync_outstanding: bool = False

    @property
    def in_flight(self) -> int:
        return sum(self._in_flight)

    @property
    def all_sent(self) -> bool:
        return self.next_index >= len(self.lines)

    @property
    def all_acked(self) -> bool:
        return self.acked >= len(self.lines)

    def take(self) -> list[str]:
        out: list[str] = []
        while not self.all_sent and not self._sync_outstanding:
            line = self.lines[self.next_index]
            size = len(line) + 1
            sync = is_sync(line)
            if (sync and self._in_flight) or self.in_flight + size > self.limit:
                break
            out.append(line)
            self._in_flight.append(size)
            self.next_index += 1
            self._sync_outstanding = sync
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return out

    def ack(self) -> bool:
        """Free the oldest line; False if nothing was in flight (an ok for someone else)."""
        if not self._in_flight:
            return False
        self._in_flight.popleft()
        self.acked += 1
        if not self._in_flight:
            self._sync_outstanding = False
        return True


class Outcome(StrEnum):
    COMPLETED = "completed"
    ERROR = "error"  # GRBL answered error:N; the job was held and reset
    ALARM = "alarm"
    STOPPED = "stopped"  # stopped on request
    RESET = "reset"  # the controller reset under the job


@dataclass
class Job:
    name: str
    streamer: Streamer
    started: datetime
    stopping: Outcome | None = None  # set while feed hold + reset is under way
    stop_requested_at: float = 0.0
    outcome: Outcome | None = None
    detail: str = ""
    # After the last ok, the next status report tells whether motion has finished.
    last_ack_seen: bool = False
    pgm_end: bool = False  # GRBL printed [MSG:Pgm End] (M2/M30 ran, motion finished)

    @property
    def total(self) -> int:
        return len(self.streamer.lines)

    def progress(self) -> str:
        return f"line {self.streamer.acked} of {self.total}"

    def start_readings(self, ts: datetime) -> list[Reading]:
        return [
            Reading("sender", "streaming", ts),
            Reading("job_program", self.name, ts),
            Reading("job_line", 0, ts),
            Reading("job_lines", self.total, ts),
        ]

    def progress_readings(self, ts: datetime) -> list[Reading]:
        return [Reading("job_line", self.streamer.acked, ts)]

    def end_readings(self, ts: datetime) -> list[Reading]:
        out = [Reading("job_line", self.streamer.acked, ts), Reading("job_outcome", str(self.outcome), ts)]
        if self.outcome is Outcome.COMPLETED:
            out.append(Reading("pgm_end", True, ts))
        return [*out, Reading("sender", "idle", ts)]

    def summary(self) -> dict[str, object]:
        return {
            "program": self.name,
            "line": self.streamer.acked,
            "lines": self.total,
            "outcome": str(self.outcome) if self.outcome else None,
            "stopping": self.stopping is not None,
            "detail": self.detail,
        }
