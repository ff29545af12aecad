"""The history reads bounded on both sides answer exactly as the open-ended reads they replace (issue 18).

Seeded random histories on SQLite and PostgreSQL: sessions for two orders and for practice on two machines,
cycles short and very long (up to days), aborted ones, cycles outside every session, cycles a master assigned
to another session of their machine (the store refuses another machine's), all inserted out of time order
(late arrivals get the highest ids).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gateway.store import attribution_repo, db
from gateway.store.attribution_repo import Attribution, CycleBounds, Span, attribute
from gateway.store.models import Customer, CycleAssignment, Order, Student, WorkSessionRecord
from gateway.store.reports_repo import first_good_cycle, first_good_cycles
from tests.gateway.records.conftest import T0, add_cycle, add_machine

DAYS = 40


class OpenEnded(CycleBounds):
    """The read as it was: ``ended >= lo and started <= hi``, no upper bound on ``ended``."""

    def upper(self, machine_id: int, hi: datetime) -> datetime | None:
        return None


def _history(engine: Engine, seed: int) -> tuple[list[int], list[int], list[int]]:
    """Machines, orders, sessions of a seeded history; cycles written in shuffled order."""
    rng = random.Random(seed)
    sessions = db.session_factory(engine)
    machines = [add_machine(sessions, "mill"), add_machine(sessions, "lathe")]
    with sessions.begin() as s:
        customer = Customer(site="lyon", name="Acme", contact="", created=T0)
        student = Student(
            site="lyon", first_name="Léa", last_initial="M", class_name="CAP1", track="CAP", active=True, created=T0
        )
        s.add_all([customer, student])
        s.flush()
        orders = [
            Order(
                site="lyon",
                customer_id=customer.id,
                reference=f"OF-{n}",
                part_number="P",
                quantity=10,
                due=None,
                standard_cycle_s=None,
                programs=[],
                status="open",
                created=T0,
            )
            for n in range(2)
        ]
        s.add_all(orders)
        s.flush()
        rows = []
        for machine_id in machines:
            moment = T0
            while moment < T0 + timedelta(days=DAYS):
                moment += timedelta(hours=rng.uniform(1, 30))
                length = timedelta(minutes=rng.uniform(10, 300))
                order = rng.choice([*orders, None])
                rows.append(
                    WorkSessionRecord(
                        machine_id=machine_id,
                        student_id=student.id,
                        order_id=None if order is None else order.id,
                        started=moment,
                        ended=moment + length,
                        opened_by="test",
                    )
                )
                moment += length
        s.add_all(rows)
        s.flush()
        session_ids = [r.id for r in rows]
        on_machine = {m: [r.id for r in rows if r.machine_id == m] for m in machines}
        order_ids = [o.id for o in orders]
    planned: list[tuple[int, datetime, datetime, str]] = []
    for row in rows:  # half the sessions run nothing, or only aborted cycles: the first good cycle comes later
        assert row.ended is not None
        moment, outcomes = row.started, ["aborted"] if rng.random() < 0.5 else ["completed", "aborted"]
        for _ in range(rng.choice([0, 0, 1, 3])):
            start = moment + timedelta(minutes=rng.uniform(-5, 20))
            planned.append((row.machine_id, start, start + timedelta(minutes=rng.uniform(1, 30)), rng.choice(outcomes)))
            moment = start
    for machine_id in machines:  # and anything, anywhere: very long cycles, cycles outside every session
        for _ in range(40):
            start = T0 + timedelta(hours=rng.uniform(0, DAYS * 24))
            long = rng.random() < 0.2
            duration = timedelta(hours=rng.uniform(2, 72)) if long else timedelta(minutes=rng.uniform(0.5, 40))
            planned.append((machine_id, start, start + duration, rng.choice(["completed", "aborted"])))
    rng.shuffle(planned)  # late arrivals: ids out of time order
    cycle_ids = [
        (add_cycle(sessions, machine_id, start, end, outcome=outcome), machine_id)
        for machine_id, start, end, outcome in planned
    ]
    with sessions.begin() as s:
        for cycle_id, machine_id in rng.sample(cycle_ids, 6):  # a master's corrections, to any of its sessions
            s.add(CycleAssignment(cycle_id=cycle_id, session_id=rng.choice(on_machine[machine_id]), by="test", at=T0))
    return machines, order_ids, session_ids


def _answer(found: Attribution) -> tuple[set[tuple[int, int | None]], set[tuple[int, int | None]]]:
    cycles = {(c.row.id, None if c.owner is None else c.owner.id) for c in found.cycles}
    parts = {(p.row.id, None if p.owner is None else p.owner.id) for p in found.parts}
    return cycles, parts


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("tail_days", [0, 7])
def test_bounded_cycle_reads_equal_the_open_ended_read(
    engine: Engine, seed: int, tail_days: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tail_days 0: every window bounded, however recent; 7: the default, recent windows left open-ended.
    monkeypatch.setattr(attribution_repo, "RECENT_TAIL", timedelta(days=tail_days))
    machines, _, session_ids = _history(engine, seed)
    rng = random.Random(seed)
    with Session(engine) as s:
        rows = [s.get_one(WorkSessionRecord, i) for i in session_ids]
        windows: list[tuple[int, Span]] = [(r.machine_id, (r.started, r.ended or r.started)) for r in rows]
        windows = rng.sample(windows, 20)
        for _ in range(20):
            lo = T0 + timedelta(hours=rng.uniform(-24, DAYS * 24))
            windows.append((rng.choice(machines), (lo, lo + timedelta(hours=rng.uniform(0, 100)))))
        bounded_somewhere = False
        for machine_id, window in windows:
            assigned = rng.sample(session_ids, 3)
            bounds = CycleBounds(s)
            bounded = attribute(db=s, spans={machine_id: window}, assigned_to=assigned, bounds=bounds)
            bounded_somewhere |= bounds.upper(machine_id, window[1]) is not None
            unbounded = attribute(db=s, spans={machine_id: window}, assigned_to=assigned, bounds=OpenEnded(s))
            assert _answer(bounded) == _answer(unbounded)
        assert bounded_somewhere  # the bound was exercised, not skipped everywhere


@pytest.mark.parametrize("seed", [4, 5])
def test_first_good_cycle_equals_the_whole_order_attribution(engine: Engine, seed: int) -> None:
    machines, orders, _ = _history(engine, seed)
    found_one = False
    with Session(engine) as s:
        for order_id in orders:
            whole = first_good_cycles(db=s, order_id=order_id)
            for machine_id in machines:
                first = first_good_cycle(db=s, order_id=order_id, machine_id=machine_id)
                assert first == whole.get(machine_id)
                found_one |= first is not None
    assert found_one
