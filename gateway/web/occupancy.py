"""Who is at each machine, for the status tiles: read from the store at most once a second, shared by all screens.

The student's name goes only to screens allowed to see it (a master's or a viewer's), and the
link to their practice log only to a master; an anonymous screen on the workshop network sees
the order and its progress, not the minor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.domain.operations import program_mismatch
from gateway.store.db import Database
from gateway.store.pages_repo import Occupant, who_is_where

TTL_S = 1.0
Key = tuple[str, str]


class Occupancy:
    def __init__(self, database: Database | None, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._clock = clock
        self._cached: dict[Key, Occupant] = {}
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> dict[Key, Occupant]:
        if self._database is None:
            return {}
        async with self._lock:
            if time.monotonic() - self._at >= TTL_S:
                self._cached = await asyncio.to_thread(self._read)
                self._at = time.monotonic()
            return self._cached

    def _read(self) -> dict[Key, Occupant]:
        assert self._database is not None
        found = who_is_where(self._database, self._clock())
        return self._cached if found is None else found


NAMED = ("admin", "viewer")  # the roles whose screens show who is at a machine


def work_json(occupant: Occupant | None, *, role: str | None, program: str | None = None) -> dict[str, Any] | None:
    """``program``: the one running on the machine, flagged when it is not among the operation's programs."""
    if occupant is None:
        return None
    mismatch = program_mismatch(program, occupant.operation)
    return {
        "student": occupant.student if role in NAMED else None,
        "student_id": occupant.student_id if role == "admin" else None,
        "order_id": occupant.order_id,
        "order": occupant.order,
        "ordered": occupant.ordered,
        "good": occupant.good,
        "standard_s": occupant.standard_s,
        "operation": None if occupant.operation is None else occupant.operation.number,
        "mismatch": None
        if mismatch is None
        else {"program": mismatch.program, "operation": mismatch.operation, "expected": list(mismatch.expected)},
    }


def enrich(message: dict[str, Any], found: dict[Key, Occupant], *, role: str | None) -> dict[str, Any]:
    """The live message with a ``work`` field on each machine (None when nobody is checked in)."""

    def with_work(machine: dict[str, Any]) -> dict[str, Any]:
        occupant = found.get((machine["site"], machine["id"]))
        return {**machine, "work": work_json(occupant, role=role, program=machine.get("program"))}

    if message.get("type") == "snapshot":
        return {**message, "machines": [with_work(m) for m in message["machines"]]}
    if message.get("type") == "machine":
        return {**message, "machine": with_work(message["machine"])}
    return message
