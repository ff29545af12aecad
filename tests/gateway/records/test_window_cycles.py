"""The cycles a window's day figures read (``window_cycles.ended_in``, every machine at once) are those attribution
gives, each with the same owner, and the parts counted are the same (issue 18).

Seeded histories of ``test_bounded_reads`` (SQLite and PostgreSQL: short and very long cycles, aborted ones,
cycles outside every session, a master's assignments, ids out of time order), plus cycles of no duration at the
very end of a session and part counts outside every cycle; windows anywhere, across sessions and cycles.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.domain.day_figures import CycleEnd
from gateway.store import db
from gateway.store.attribution_repo import attribute
from gateway.store.models import Machine, PartCount, WorkSessionRecord
from gateway.store.window_cycles import ended_in
from tests.gateway.records.conftest import T0, add_cycle
from tests.gateway.records.test_bounded_reads import DAYS, _history


def _reference(
    s: Session, machines: list[int], lo: datetime, hi: datetime
) -> tuple[dict[int, list[CycleEnd]], dict[int, list[tuple[datetime, int]]]]:
    """What the day figures read before: one attribution of the window, its cycles ended and parts counted in it."""
    found = attribute(db=s, spans=dict.fromkeys(machines, (lo, hi)))
    cycles: dict[int, list[CycleEnd]] = {m: [] for m in machines}
    for c in found.cycles:
        if lo <= c.row.ended < hi:
            owner = None if c.owner is None else c.owner.id
            cycles[c.row.machine_id].append(CycleEnd(c.row.ended, c.row.outcome == "completed", c.row.parts, owner))
    parts: dict[int, list[tuple[datetime, int]]] = {m: [] for m in machines}
    for p in found.parts:
        if lo <= p.row.ts < hi:
            parts[p.row.machine_id].append((p.row.ts, p.row.count))
    return cycles, parts


def _sorted(found: dict[int, list[CycleEnd]], machines: list[int]) -> dict[int, list[tuple[object, ...]]]:
    return {
        m: sorted((c.ended, c.completed, c.parts, c.owner if c.owner is not None else -1) for c in found.get(m, []))
        for m in machines
    }


@pytest.mark.parametrize("seed", [1, 3])
def test_window_cycles_are_attributions_cycles_with_the_same_owners(engine: Engine, seed: int) -> None:
    machines, _, _ = _history(engine, seed)
    rng = random.Random(seed)
    sessions = db.session_factory(engine)
    with Session(engine) as s:
        rows = list(s.scalars(select(WorkSessionRecord)))
    for row in rng.sample(rows, 8):  # a cycle of no duration at the very end of a session: whose is it?
        assert row.ended is not None
        add_cycle(sessions, row.machine_id, row.ended, row.ended)
    with sessions.begin() as s:  # parts counted outside every cycle
        for machine_id in machines:
            agent = s.get_one(Machine, machine_id).agent_id
            for n in range(10):
                ts = T0 + timedelta(hours=rng.uniform(0, DAYS * 24))
                s.add(PartCount(machine_id=machine_id, agent_id=agent, seq=10**9 + seed * 100 + n + machine_id * 20,
                                ts=ts, count=2, counter=None, program="O1"))  # fmt: skip
    windows = [(T0 + timedelta(days=d), T0 + timedelta(days=d + 1)) for d in range(0, DAYS, 3)]
    for _ in range(20):
        lo = T0 + timedelta(hours=rng.uniform(-24, DAYS * 24))
        windows.append((lo, lo + timedelta(hours=rng.uniform(0, 100))))
    windows.append((T0 - timedelta(days=1), T0 + timedelta(days=DAYS + 4)))  # the whole history
    owned = 0
    with Session(engine) as s:
        machine_rows = [s.get_one(Machine, m) for m in machines]
        for lo, hi in windows:
            cycles, parts = ended_in(s, machine_rows, lo, hi)
            want_cycles, want_parts = _reference(s, machines, lo, hi)
            assert _sorted(cycles, machines) == _sorted(want_cycles, machines), (lo, hi)
            assert {m: sorted(parts.get(m, [])) for m in machines} == {m: sorted(want_parts[m]) for m in machines}
            owned += sum(1 for m in machines for c in cycles.get(m, []) if c.owner is not None)
    assert owned, "owners were compared, not only their absence"
