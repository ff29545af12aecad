"""Years of believable history for one or more schools, written into a migrated store in bulk.

``python -m bench.history URL [YEARS] [SITES] [MACHINES]`` fills an empty database (SQLite file or
PostgreSQL) that the real migrations built. What it writes follows the school's calendar
(``gateway.domain.calendar``: school days only, opening hours, zone A school holidays): each
machine is switched on before the morning and off after the afternoon; a student checks in for
each half-day on the machine's current order (or for practice); cycles run at about the order's
standard time with short loads between them, feed holds, stops (setup at an order's start,
waits, tool changes), fault alarms and aborted cycles; scrap is declared; an order is done when
its good parts reach the quantity, and the next one starts. Students come and go with the school
years (CAP two years, Bac Pro three).

Rows come from the gateway's own builders (``gateway.store.ingest_rows`` for what ingest
writes, the ORM tables' columns for the rest) and are written a table at a time by
``gateway.store.bulk.insert_rows`` (an executemany), a few tens of thousands of rows per
statement. Seeded: the same arguments give the same rows.
"""

from __future__ import annotations

import random
import sys
import time as clock
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from edge_agent import contract
from gateway import auth
from gateway.domain.calendar import Calendar, Interval, planned
from gateway.domain.stops import DEFAULT_REASONS
from gateway.store import db as store_db
from gateway.store.bulk import insert_rows
from gateway.store.calendar_repo import default_row
from gateway.store.ingest_rows import cycle_row, part_count_row, state_change_row
from gateway.store.models import (
    Agent,
    AlarmRecord,
    Customer,
    Cycle,
    Machine,
    Message,
    Order,
    PartCount,
    ScrapRecord,
    SiteCalendar,
    StateChange,
    StopClassification,
    StopReason,
    Student,
    WorkSessionRecord,
)

ZONE = "Europe/Paris"
END = date(2026, 11, 27)  # the last day of history: a Friday; "now" is that evening
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ADMIN = ("bench-master", "bench-master-pass")
FLUSH_ROWS = 50_000
KINDS = ("dmg-mill", "haas-lathe", "fanuc-mill", "heidenhain-mill", "grbl-router", "conv-lathe")
FIRST_NAMES = ("Léa", "Hugo", "Inès", "Lucas", "Chloé", "Nathan", "Manon", "Théo", "Jade", "Enzo", "Sarah", "Noah")


def table(model: Any) -> Table:
    found: Table = model.__table__
    return found


@dataclass(frozen=True)
class Spec:
    """What to generate: ``years`` of history up to ``END`` for ``sites`` schools of ``machines`` machines."""

    years: float = 1.0
    sites: int = 1
    machines: int = 20
    seed: int = 18
    messages: bool = False  # also the dedupe rows (``messages``) ingest writes for every sequenced message
    customers: int = 100

    @property
    def first_day(self) -> date:
        return END - timedelta(days=round(self.years * 365))

    def site_names(self) -> list[str]:
        return [f"ecole-{n + 1:02d}" for n in range(self.sites)]


@dataclass
class Counts:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, n: int) -> None:
        self.rows[name] = self.rows.get(name, 0) + n

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class Writer:
    """Buffers rows per table and writes each buffer with one executemany when it is full."""

    def __init__(self, session: Session, counts: Counts) -> None:
        self.session = session
        self.counts = counts
        self.buffers: dict[str, tuple[Table, list[dict[str, Any]]]] = {}
        self.order = [t.name for t in store_db_tables()]

    def add(self, model: Any, row: dict[str, Any]) -> None:
        t = table(model)
        entry = self.buffers.setdefault(t.name, (t, []))
        entry[1].append(row)
        if len(entry[1]) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        # In dependency order, so that a row's parent (a work session, an order) is written before it.
        for name in self.order:
            if name in self.buffers:
                t, rows = self.buffers[name]
                insert_rows(db=self.session, table=t, rows=rows)
                self.counts.add(name, len(rows))
                rows.clear()
        self.session.commit()


def store_db_tables() -> list[Table]:
    from gateway.store.models import Base

    return list(Base.metadata.sorted_tables)


@dataclass
class Cohort:
    student_id: int
    track: str
    entered: date
    leaves: date


@dataclass
class MachineState:
    machine_id: int
    agent_id: int
    name: str
    seq: int = 0
    counter: int = 0
    order: dict[str, Any] | None = None  # the order being made: id, standard, program, quantity, good
    new_order: bool = False


@dataclass
class Ids:
    """Row ids handed out here, so that children can name their parents before the parents are written."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, name: str) -> int:
        value = self.next.get(name, 1)
        self.next[name] = value + 1
        return value


class School:
    """One site's history, day after day."""

    def __init__(self, site: str, spec: Spec, ids: Ids, writer: Writer, rng: random.Random) -> None:
        self.site, self.spec, self.ids, self.w, self.rng = site, spec, ids, writer, rng
        self.calendar = Calendar(zone=ZONE, school_zone="A")
        self.machines: list[MachineState] = []
        self.students: list[Cohort] = []
        self.reasons: dict[str, int] = {}
        self.customers: list[int] = []
        self.order_serial = 0
        self.done: list[int] = []  # orders whose good parts reached their quantity

    # --- what exists before the first day ---------------------------------------------------------

    def found(self, customers: list[int]) -> None:
        self.customers = customers
        start = datetime.combine(self.spec.first_day, time(7), tzinfo=UTC)
        row = default_row(self.site, ZONE)
        self.w.add(SiteCalendar, {
            "site": self.site, "timezone": row.timezone, "week": row.week, "public_holidays": "national",
            "school_zone": "A", "stop_threshold_s": row.stop_threshold_s, "alarm_prefills_breakdown": True,
        })  # fmt: skip
        for reason in DEFAULT_REASONS:
            reason_id = self.ids.take("stop_reasons")
            self.reasons[reason.code] = reason_id
            self.w.add(StopReason, {
                "id": reason_id, "site": self.site, "code": reason.code, "label": reason.label,
                "category": reason.category, "active": True,
            })  # fmt: skip
        for n in range(self.spec.machines):
            agent_id, machine_id = self.ids.take("agents"), self.ids.take("machines")
            name = f"{KINDS[n % len(KINDS)]}-{n // len(KINDS) + 1}"
            self.w.add(Agent, {
                "id": agent_id, "site": self.site, "name": f"pc-{name}", "status": "online", "version": "bench",
                "last_seen": start, "contiguous_seq": None, "announced": [name],
            })  # fmt: skip
            self.w.add(Machine, {
                "id": machine_id, "site": self.site, "name": name, "agent_id": agent_id, "first_seen": start,
                "last_seen": start, "last_state": None, "last_state_seq": None, "last_state_ts": None,
                "part_counter": None,
            })  # fmt: skip
            self.machines.append(MachineState(machine_id, agent_id, name))
        # The cohorts already in school on the first day.
        first_sept = date(self.spec.first_day.year - (self.spec.first_day.month < 9), 9, 1)
        for back in range(3):
            self.enrol(first_sept.replace(year=first_sept.year - back))

    def enrol(self, sept: date) -> None:
        for n in range(16):
            track = "CAP" if n % 2 == 0 else "BAC_PRO"
            student_id = self.ids.take("students")
            leaves = sept.replace(year=sept.year + (2 if track == "CAP" else 3), month=7, day=1)
            self.students.append(Cohort(student_id, track, sept, leaves))
            level = {"CAP": "CAP", "BAC_PRO": "BAC"}[track]
            self.w.add(Student, {
                "id": student_id, "site": self.site, "first_name": self.rng.choice(FIRST_NAMES),
                "last_initial": chr(65 + student_id % 26), "class_name": f"{level}{1 + (END.year - sept.year) % 3}",
                "track": track, "badge": f"B-{self.site}-{student_id}", "active": leaves > END,
                "created": datetime.combine(sept, time(9), tzinfo=UTC),
            })  # fmt: skip

    # --- a school day ---------------------------------------------------------------------------------

    def day(self, day: date, intervals: list[Interval]) -> None:
        if day.month == 9 and day.day <= 7 and not any(c.entered.year == day.year for c in self.students):
            self.enrol(date(day.year, 9, 1))
        present = [c for c in self.students if c.entered <= day < c.leaves]
        taken: dict[int, set[int]] = defaultdict(set)  # per interval of the day: the students on a machine
        for machine in self.machines:
            if self.rng.random() < 0.08:  # off all day: maintenance, no class on it
                continue
            self.machine_day(machine, intervals, present, taken)

    def machine_day(
        self, m: MachineState, intervals: list[Interval], present: list[Cohort], taken: dict[int, set[int]]
    ) -> None:
        rng = self.rng
        on = intervals[0].start - timedelta(minutes=rng.uniform(3, 20))
        self.state(m, on, "AVAILABLE", "READY")
        for n, interval in enumerate(intervals):
            if rng.random() < 0.12:  # a lesson in the classroom: the machine waits
                continue
            # One machine at a time for a student, as check-in guarantees (``student_busy``).
            free = [c for c in present if c.student_id not in taken[n]]
            student = rng.choice(free) if free else None
            if student is not None:
                taken[n].add(student.student_id)
            started = interval.start + timedelta(minutes=rng.uniform(0, 8))
            ended = interval.end - timedelta(minutes=rng.uniform(0, 8))
            if m.order is None and rng.random() < 0.85:
                self.next_order(m, started)
            session_id = self.ids.take("work_sessions")
            order_id = None if m.order is None else m.order["id"]
            student_id = None if student is None else student.student_id
            self.w.add(WorkSessionRecord, {
                "id": session_id, "machine_id": m.machine_id, "student_id": student_id,
                "order_id": order_id, "started": started, "ended": ended, "opened_by": "kiosk",
                "closed_by": "kiosk", "master_on_duty": "m.martin",
            })  # fmt: skip
            self.run(m, interval.start, started, ended, session_id)
        off = intervals[-1].end + timedelta(minutes=rng.uniform(0, 25))
        self.state(m, off, "UNAVAILABLE", None)

    def run(self, m: MachineState, opening: datetime, started: datetime, ended: datetime, session_id: int) -> None:
        """Cycles from ``started`` to ``ended``: setup first on a new order, then the series with its incidents."""
        rng = self.rng
        cursor = started
        if m.new_order:
            # Setup: the machine idles from the opening (where the derived stop starts) to the first cycle.
            self.classify(m, opening, "reglage", started + timedelta(hours=1))
            cursor += timedelta(seconds=rng.uniform(900, 3600))
            m.new_order = False
        standard = 200.0 if m.order is None else m.order["standard"]
        program = "O9000" if m.order is None else m.order["program"]
        made_here = 0
        while True:
            duration = max(20.0, rng.gauss(standard * 1.08, standard * 0.08))
            if cursor + timedelta(seconds=duration) > ended:
                break
            made_here += self.cycle(m, cursor, duration, program)
            cursor += timedelta(seconds=duration)
            roll = rng.random()
            if roll < 0.012:
                cursor = self.stop(
                    m,
                    cursor,
                    rng.uniform(320, 1800),
                    rng.choice(("changement_outil", "attente_maitre", "controle", "attente_matiere")),
                )
            elif roll < 0.016:
                cursor = self.alarm(m, cursor, rng.uniform(300, 2400))
            else:
                cursor += timedelta(seconds=rng.uniform(10, 45))
        if m.order is not None and made_here:
            scrap = 0
            if rng.random() < 0.15:
                scrap = rng.randint(1, 3)
                self.w.add(ScrapRecord, {
                    "order_id": m.order["id"], "quantity": scrap, "reason": "cote hors tolérance",
                    "inspected_by": "m.martin", "ts": ended - timedelta(minutes=2), "session_id": session_id,
                    "machine_id": m.machine_id, "declared_by": "kiosk", "idempotency_key": None,
                })  # fmt: skip
            m.order["good"] += made_here - scrap
            if m.order["good"] >= m.order["quantity"]:
                self.close_order(m, ended)

    def cycle(self, m: MachineState, start: datetime, duration: float, program: str) -> int:
        rng = self.rng
        end = start + timedelta(seconds=duration)
        self.state(m, start, "AVAILABLE", "ACTIVE")
        held = 0.0
        if rng.random() < 0.05:
            held = min(duration / 3, rng.uniform(10, 90))
            hold_at = start + timedelta(seconds=duration / 3)
            self.state(m, hold_at, "AVAILABLE", "FEED_HOLD")
            self.state(m, hold_at + timedelta(seconds=held), "AVAILABLE", "ACTIVE")
        roll = rng.random()
        outcome = contract.CycleOutcome.COMPLETED if roll > 0.02 else contract.CycleOutcome.ABORTED
        parts = 1 if outcome == contract.CycleOutcome.COMPLETED else 0
        m.seq += 2  # cycle_started, then cycle_ended
        ended_msg = contract.CycleEnded.model_construct(
            agent="", machine=m.name, seq=m.seq, ts=end, program=program, started=start, duration_s=duration,
            held_s=held, parts=parts, outcome=outcome, kind=contract.CycleKind.CYCLE,
        )  # fmt: skip
        self.w.add(Cycle, cycle_row(m.machine_id, m.agent_id, ended_msg))
        self.message(m, m.seq - 1, "cycle_started", start)
        self.message(m, m.seq, "cycle_ended", end)
        self.state(m, end, "AVAILABLE", "READY")
        if parts:
            m.seq += 1
            m.counter += parts
            counted = contract.PartCounted.model_construct(
                agent="", machine=m.name, seq=m.seq, ts=end, count=parts, counter=m.counter, program=program
            )
            self.w.add(PartCount, part_count_row(m.machine_id, m.agent_id, counted))
            self.message(m, m.seq, "part_counted", end)
        return parts

    def stop(self, m: MachineState, start: datetime, seconds: float, reason: str) -> datetime:
        """An idle stretch (READY) of ``seconds``, from the end of a cycle."""
        end = start + timedelta(seconds=seconds)
        self.classify(m, start, reason, end)
        return end

    def classify(self, m: MachineState, start: datetime, reason: str, at: datetime) -> None:
        """Most stops are classified (the kiosk asks the student); keyed by the stop's start, as derived."""
        if self.rng.random() < 0.7:
            self.w.add(StopClassification, {
                "machine_id": m.machine_id, "started": start, "reason_id": self.reasons[reason], "by": "kiosk",
                "at": at,
            })  # fmt: skip

    def alarm(self, m: MachineState, start: datetime, seconds: float) -> datetime:
        end = start + timedelta(seconds=seconds)
        code = self.rng.choice(("1010", "2045", "7020", "EMERGENCY"))
        self.w.add(AlarmRecord, {
            "machine_id": m.machine_id, "ts": start, "code": code, "message": f"alarme {code}", "severity": "fault",
            "cleared": end,
        })  # fmt: skip
        self.state(m, start, "AVAILABLE", "STOPPED")
        self.state(m, end, "AVAILABLE", "READY")
        return end

    def state(self, m: MachineState, ts: datetime, availability: str, execution: str | None) -> None:
        m.seq += 1
        mode = None if execution is None else "AUTOMATIC"
        row = state_change_row(
            machine_id=m.machine_id, ts=ts, availability=availability, execution=execution, mode=mode
        )
        self.w.add(StateChange, row)
        self.message(m, m.seq, "state_changed", ts)

    def message(self, m: MachineState, seq: int, kind: str, ts: datetime) -> None:
        if self.spec.messages:
            self.w.add(Message, {
                "agent_id": m.agent_id, "seq": seq, "machine_id": m.machine_id, "type": kind, "ts": ts,
                "received_at": ts,
            })  # fmt: skip

    # --- orders ---------------------------------------------------------------------------------------

    def next_order(self, m: MachineState, now: datetime) -> None:
        rng = self.rng
        self.order_serial += 1
        order_id = self.ids.take("orders")
        standard = round(rng.uniform(120, 240))
        quantity = rng.choice((20, 50, 100, 150, 200, 300, 500))
        days = quantity * standard / (6.5 * 3600)
        m.order = {"id": order_id, "standard": float(standard), "program": f"O{1000 + order_id % 9000}",
                   "quantity": quantity, "good": 0, "created": now}  # fmt: skip
        m.new_order = True
        self.w.add(Order, {
            "id": order_id, "site": self.spec.site_names()[0], "customer_id": rng.choice(self.customers),
            "reference": self.reference(),
            "part_number": f"P-{rng.randint(100, 999)}", "drawing_revision": rng.choice("ABC"), "quantity": quantity,
            "due": now + timedelta(days=2 + days * 1.6), "standard_cycle_s": float(standard),
            "programs": [m.order["program"]], "status": "in_progress", "created": now,
        })  # fmt: skip

    def reference(self) -> str:
        return f"{self.site}-{self.order_serial:05d}"

    def close_order(self, m: MachineState, ended: datetime) -> None:
        assert m.order is not None
        self.done.append(m.order["id"])
        m.order = None

    def finish(self, session: Session) -> None:
        """Orders done get their status; each machine's snapshot and counter as its last event left them."""
        last = NOW - timedelta(hours=1)
        for m in self.machines:
            state = contract.MachineState(availability=contract.Availability.UNAVAILABLE, part_count=m.counter)
            session.execute(
                table(Machine).update().where(table(Machine).c.id == m.machine_id).values(
                    last_state=state.model_dump(mode="json"), last_state_seq=m.seq, last_state_ts=last,
                    part_counter=m.counter, last_seen=last,
                )
            )  # fmt: skip
            session.execute(table(Agent).update().where(table(Agent).c.id == m.agent_id).values(contiguous_seq=m.seq))
        for start in range(0, len(self.done), 500):
            chunk = self.done[start : start + 500]
            session.execute(table(Order).update().where(table(Order).c.id.in_(chunk)).values(status="done"))
        # A few orders waiting for a machine: the board shows them as open.
        for n in range(10):
            order_id = self.ids.take("orders")
            self.order_serial += 1
            session.execute(table(Order).insert().values(
                id=order_id, site=self.spec.site_names()[0], customer_id=self.rng.choice(self.customers),
                reference=self.reference(),
                part_number=f"P-{n}", drawing_revision="A", quantity=100, due=NOW + timedelta(days=10 + n),
                standard_cycle_s=180.0, programs=["O1"], status="open", created=NOW - timedelta(days=3),
            ))  # fmt: skip


def school_days(spec: Spec, calendar: Calendar) -> Iterator[tuple[date, list[Interval]]]:
    zone = calendar.tz()
    day = spec.first_day
    while day <= END:
        start = datetime.combine(day, time(), tzinfo=zone)
        intervals = planned(calendar, start, start + timedelta(days=1))
        if intervals:
            yield day, intervals
        day += timedelta(days=1)


def generate(url: str, spec: Spec, *, progress: bool = False) -> Counts:
    """Migrate the empty store at ``url`` and fill it with ``spec``'s history; the rows written per table."""
    began = clock.perf_counter()
    store_db.upgrade(url)
    engine = store_db.make_engine(url)
    counts = Counts()
    rng = random.Random(spec.seed)
    ids = Ids()
    try:
        with Session(engine) as session:
            writer = Writer(session, counts)
            customers = []
            for n in range(spec.customers):
                customer_id = ids.take("customers")
                customers.append(customer_id)
                # The schools share their customers (as the orders of sites records kept before sites): they and
                # their orders belong to the first school; its students and machines to each school.
                writer.add(Customer, {"id": customer_id, "site": spec.site_names()[0], "name": f"Client {n + 1:03d}",
                                      "contact": "",
                                      "created": datetime.combine(spec.first_day, time(8), tzinfo=UTC)})  # fmt: skip
            schools = [School(site, spec, ids, writer, rng) for site in spec.site_names()]
            for school in schools:
                school.found(customers)
            writer.flush()
            calendar = schools[0].calendar
            for day, intervals in school_days(spec, calendar):
                for school in schools:
                    school.day(day, intervals)
                if progress and day.day == 1:
                    print(
                        f"  {day} {counts.total + sum(len(r) for _, r in writer.buffers.values()):,} rows", flush=True
                    )
            writer.flush()
            for school in schools:
                school.finish(session)
            auth.create_user(db=session, who="bench", now=NOW, username=ADMIN[0], password=ADMIN[1], role="admin",
                             student_id=None, sites=spec.site_names())  # fmt: skip
            session.commit()
            _after_explicit_ids(session, ids)
    finally:
        engine.dispose()
    counts.seconds = clock.perf_counter() - began
    return counts


def _after_explicit_ids(session: Session, ids: Ids) -> None:
    """PostgreSQL's sequences did not see the ids written here: move them past, so later inserts work."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in ids.next:
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    session.execute(text("ANALYZE"))
    session.commit()


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.history URL [YEARS] [SITES] [MACHINES]", file=sys.stderr)
        return 2
    spec = Spec(
        years=float(argv[1]) if len(argv) > 1 else 1.0,
        sites=int(argv[2]) if len(argv) > 2 else 1,
        machines=int(argv[3]) if len(argv) > 3 else 20,
    )
    counts = generate(argv[0], spec, progress=True)
    for name, n in sorted(counts.rows.items()):
        print(f"{name:24} {n:>12,}")
    print(f"{counts.total:,} rows in {counts.seconds:.1f} s ({counts.total / counts.seconds:,.0f} rows/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
