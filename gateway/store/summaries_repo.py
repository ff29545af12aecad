"""Day summaries (``machine_days``) kept correct from the read side: ingest does no extra work for them.

A report over finished days reads each machine's stored day figures
(``domain.day_figures``) and computes from raw rows only what is not stored, or
stale: today, days never summarised, days a late or corrected record touched.
Freshly computed whole days are stored for the next reader.

How a summary knows it is stale, without a trigger or a write in ingest:

- **Raw rows, by watermark.** Each raw table (state changes, cycles, part counts,
  alarms, and the ``alarm_cleared`` messages, since a clearance updates an alarm row
  in place) has a watermark ``low`` in ``summary_watermarks``: every row with an
  id at or below it is accounted for. Before answering, a reader runs one indexed
  query per table over ``id > low`` (the primary key) and learns, per machine, the
  earliest instant such a row touches (``Pending``); every day of that machine from
  that instant's local day on is treated as stale (a late state change carries its
  state into the following days). Rows of today touch nothing summarised.
- **Records, by mark.** A change of what people recorded that alters figures (a
  work session created, corrected or closed, a cycle assigned: they move the
  performance numerator; a calendar's settings, closures and machine exceptions:
  they move planned time and stops) appends a ``summary_marks`` row in the same
  transaction as the change: the days of a machine or of a site it affects.
  ``summary_marks`` is read like a raw table, with its own watermark. Scrap, stop
  reasons and order standards are read with each report and need no mark.
- **Settling.** A writer (the reader that stored new days, or the hourly job)
  deletes the summaries the pending rows and marks make stale, then moves the
  watermarks. It scans from the lowest watermark the reader saw, after it stored
  its days, so a row committed while the reader computed invalidates what it
  stored. On SQLite ids are given in commit order (one writer at a time) and
  ``low`` moves to the highest id seen. On PostgreSQL an id can commit after a
  higher one: ``low`` moves only to the highest id seen at the previous move, made
  at least ``GRACE`` earlier (longer than any ingest transaction), so a row is
  scanned until every lower id has committed. Re-scanning is harmless: a day is
  recomputed once more. The scan reads every site even in a request's session
  restricted to a master's sites (``sites_repo``): the watermarks are the
  store's, and a row of another school passed over would leave its day stale.
- **Sessions.** ``session_cycles`` keeps, per finished work session, the cycles and parts attribution gives
  it (the practice log's input). It is stale when the days of its machine it spans, a day either side in
  UTC, are: the same rows and marks, checked the same way (``Pending.session_stale``), deleted by the same
  settling.
- **Retention.** Once a day's raw rows are purged its summary is ``final``: no
  mark or late row makes it stale any more (it could not be recomputed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, and_, delete, false, insert, or_, select, text, true, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway.domain.day_figures import Figures, from_columns, local_day, to_columns
from gateway.domain.month_figures import first_of
from gateway.store import month_sums_repo
from gateway.store.db import BEGIN_OPTION, BUSY_TIMEOUT_MS, writer
from gateway.store.models import (
    AlarmRecord,
    Cycle,
    Machine,
    MachineDay,
    MachineMonth,
    Message,
    PartCount,
    SessionCycles,
    SiteCalendar,
    StateChange,
    SummaryMark,
    SummaryWatermark,
)
from gateway.store.rows import chunks
from gateway.store.sites_repo import ALL_SITES

logger = logging.getLogger(__name__)

MARKS = "summary_marks"
# Each raw source: its table and the instant a row of it touches first (a cycle from its start).
RAW: dict[str, tuple[Any, Any]] = {
    "state_changes": (StateChange, StateChange.ts),
    "cycles": (Cycle, Cycle.started),
    "part_counts": (PartCount, PartCount.ts),
    "alarms": (AlarmRecord, AlarmRecord.ts),
    "messages": (Message, Message.ts),
}
SOURCES = (*RAW, MARKS)
GRACE = timedelta(minutes=2)  # PostgreSQL: longer than any transaction that inserts raw rows
SAVE_WAIT_MS = 250  # how long a reader waits for SQLite's write lock to store the days it computed


@dataclass(frozen=True, slots=True)
class Mark:
    site: str | None
    machine_id: int | None
    first: date | None
    last: date | None

    def covers(self, machine: Machine, day: date) -> bool:
        if self.machine_id is not None and self.machine_id != machine.id:
            return False
        if self.site is not None and self.site != machine.site:
            return False
        return (self.first is None or self.first <= day) and (self.last is None or day <= self.last)

    def overlaps(self, machine: Machine, first: date, last: date) -> bool:
        if self.machine_id is not None and self.machine_id != machine.id:
            return False
        if self.site is not None and self.site != machine.site:
            return False
        return (self.first is None or self.first <= last) and (self.last is None or first <= self.last)


@dataclass
class Pending:
    """What the summaries may not account for yet, as one reader saw it."""

    lows: dict[str, int]
    since: dict[int, datetime] = field(default_factory=dict)  # machine id → earliest instant a pending row touches
    marks: list[Mark] = field(default_factory=list)
    rows: int = 0
    highest: dict[str, int] = field(default_factory=dict)  # source → highest id seen

    def stale(self, machine: Machine, day: date, zone: str) -> bool:
        first = self.since.get(machine.id)
        if first is not None and local_day(first, zone) <= day:
            return True
        return any(m.covers(machine, day) for m in self.marks)

    def stale_days(self, machine: Machine, first: date, last: date, zone: str) -> bool:
        """Whether any of the machine's local days [first, last] is ``stale``: a month sum is current only
        while every day it adds up is."""
        earliest = self.since.get(machine.id)
        if earliest is not None and local_day(earliest, zone) <= last:
            return True
        return any(m.overlaps(machine, first, last) for m in self.marks)

    def session_stale(self, machine: Machine, first: date, last: date) -> bool:
        """Whether a session's cached cycles over the UTC dates [first, last] may miss something."""
        earliest = self.since.get(machine.id)
        if earliest is not None and earliest.astimezone(UTC).date() <= last:
            return True
        return any(m.overlaps(machine, first, last) for m in self.marks)


def _lows(db: Session) -> dict[str, SummaryWatermark]:
    return {w.source: w for w in db.scalars(select(SummaryWatermark))}


def pending(db: Session, lows: Mapping[str, int] | None = None) -> Pending:
    """The raw rows and marks above the watermarks (or above ``lows``): one indexed query per source."""
    if lows is None:
        lows = {source: w.low for source, w in _lows(db).items()}
    found = Pending(lows={source: lows.get(source, 0) for source in SOURCES})
    for source, (model, ts) in RAW.items():
        low = found.lows[source]
        # Rows, grouped here: a GROUP BY machine would lead SQLite to the (machine, time) index and a walk of
        # the whole table; ``id > low`` alone is a range of the primary key, a few rows.
        stmt = select(model.machine_id, ts, model.id).where(model.id > low).execution_options(**ALL_SITES)
        if model is Message:
            stmt = stmt.where(Message.type == "alarm_cleared")
        for machine_id, moment, row_id in db.execute(stmt):
            earliest = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            seen = found.since.get(machine_id)
            found.since[machine_id] = earliest if seen is None else min(seen, earliest)
            found.highest[source] = max(found.highest.get(source, 0), row_id)
            found.rows += 1
    stmt_marks = select(SummaryMark).where(SummaryMark.id > found.lows[MARKS]).execution_options(**ALL_SITES)
    for mark in db.scalars(stmt_marks):
        found.marks.append(Mark(mark.site, mark.machine_id, mark.first, mark.last))
        found.highest[MARKS] = max(found.highest.get(MARKS, 0), mark.id)
        found.rows += 1
    return found


def mark(
    *,
    db: Session,
    now: datetime,
    site: str | None = None,
    machine_id: int | None = None,
    first: date | None = None,
    last: date | None = None,
) -> None:
    """Days of a machine (or of every machine of a site) over [first, last] are stale: call it in the
    transaction that makes the change."""
    db.add(SummaryMark(site=site, machine_id=machine_id, first=first, last=last, at=now))


def mark_span(*, db: Session, now: datetime, machine_id: int, start: datetime, end: datetime | None) -> None:
    """The days of a machine that [start, end] touches are stale (``end`` None: onward): a work session made,
    corrected or closed, a cycle assigned. A day either side, in UTC, covers any site's time zone (and a cycle
    that ends after its session) without reading the calendar."""
    first = (start - timedelta(days=1)).astimezone(UTC).date()
    last = None if end is None else (end + timedelta(days=1)).astimezone(UTC).date()
    mark(db=db, now=now, machine_id=machine_id, first=first, last=last)


def stored_of(
    db: Session, machine_ids: Iterable[int], first: date, last: date
) -> dict[int, dict[date, tuple[bool, dict[str, Any]]]]:
    """``stored`` of each of these machines, in one read (the reports of every machine)."""
    table = MachineDay.__table__
    wanted = sorted(set(machine_ids))
    found: dict[int, dict[date, tuple[bool, dict[str, Any]]]] = {machine_id: {} for machine_id in wanted}
    for chunk in chunks(wanted):
        stmt = select(table).where(table.c.machine_id.in_(chunk), table.c.day >= first, table.c.day <= last)
        result = db.execute(stmt)
        names = list(result.keys())
        machine, day, final = names.index("machine_id"), names.index("day"), names.index("final")
        for row in result:
            found[row[machine]][row[day]] = (bool(row[final]), dict(zip(names, row, strict=True)))
    return found


def figures_of(start: datetime, end: datetime, columns: Mapping[str, Any]) -> Figures:
    return from_columns(start, end, dict(columns))


@dataclass(frozen=True, slots=True)
class Computed:
    """What a reader computed and offers to store: one machine's whole days, and finished sessions' cycles."""

    machine_id: int | None = None
    days: Mapping[date, Figures] = field(default_factory=dict)
    months: Mapping[date, Figures] = field(default_factory=dict)  # ``month_sums_repo``: by their first day
    sessions: Sequence[dict[str, Any]] = ()  # ``session_cycles`` rows


def keep(
    db: Session,
    machine_id: int,
    days: Mapping[date, Figures],
    seen: Pending,
    zone: str,
    *,
    months: Mapping[date, Figures] | None = None,
) -> None:
    """Store the days (and the months added up from current days) a reader computed from what it ``seen``
    (``keep_computed``)."""
    if days or months:
        keep_computed(db, Computed(machine_id=machine_id, days=days, months=months or {}), seen, zone)


def keep_computed(db: Session, computed: Computed, seen: Pending, zone: str) -> None:
    """Store what a reader computed from what it ``seen``. Best effort: a busy store skips it (the next
    reader computes it again), and so does a row another reader stored meanwhile on the same key (PostgreSQL:
    readers store side by side; theirs stands, computed from the same rows). In a transaction that writes, it
    goes in that transaction."""
    bind = db.get_bind()
    if bind.get_execution_options().get(BEGIN_OPTION) == "IMMEDIATE" or not isinstance(bind, Engine):
        _keep(db, computed, seen, zone)
        return
    try:
        _keep_apart(bind, computed, seen, zone)
    except OperationalError as err:
        logger.info("summaries not stored this time (store busy): %s", err.orig)
    except IntegrityError as err:
        logger.info("summaries not stored this time (another reader stored them): %s", err.orig)


def _keep_apart(engine: Engine, computed: Computed, seen: Pending, zone: str) -> None:
    with writer(engine).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # a reader does not wait long for the write lock (set before BEGIN, on the raw handle)
            conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={SAVE_WAIT_MS}")  # type: ignore[union-attr]
        try:
            with Session(bind=conn) as session, session.begin():
                if not sqlite:
                    session.execute(text("SET LOCAL lock_timeout = '250ms'"))
                _keep(session, computed, seen, zone)
        finally:
            if sqlite:
                conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # type: ignore[union-attr]


def _keep(db: Session, computed: Computed, seen: Pending, zone: str) -> None:
    """Settle what is pending, store the reader's rows in place of any there, then drop those of them that
    rows and marks the reader did not see make stale: on SQLite those above the highest ids it read (ids
    commit in order); on PostgreSQL all those above its watermarks (a lower id may have committed late)."""
    settle(db, zone=zone)
    if computed.days and computed.machine_id is not None:
        mine = and_(MachineDay.machine_id == computed.machine_id, MachineDay.day.in_(computed.days))
        final = set(db.scalars(select(MachineDay.day).where(mine, MachineDay.final.is_(True))))
        db.execute(delete(MachineDay).where(mine, MachineDay.final.is_(False)))
        rows = [
            {"machine_id": computed.machine_id, "day": day, "final": False, **to_columns(f)}
            for day, f in computed.days.items()
            if day not in final
        ]
        if rows:
            db.execute(insert(MachineDay), rows)
    if computed.months and computed.machine_id is not None:
        month_sums_repo.keep(db, computed.machine_id, computed.months)
    if computed.sessions:
        ids = sorted(row["session_id"] for row in computed.sessions)
        for chunk in chunks(ids):  # the first orders CSV after the upgrade keeps every session
            db.execute(delete(SessionCycles).where(SessionCycles.session_id.in_(chunk)))
        db.execute(insert(SessionCycles), list(computed.sessions))
    postgres = db.get_bind().dialect.name == "postgresql"
    after = {s: seen.lows[s] if postgres else max(seen.lows[s], seen.highest.get(s, 0)) for s in SOURCES}
    _drop_stale(db, pending(db, after), zone)


def session_cycles(db: Session, ids: Iterable[int]) -> dict[int, SessionCycles]:
    """The cached cycles of these sessions, where cached."""
    wanted = sorted(set(ids))
    found: dict[int, SessionCycles] = {}
    for chunk in chunks(wanted):
        found.update(
            (r.session_id, r) for r in db.scalars(select(SessionCycles).where(SessionCycles.session_id.in_(chunk)))
        )
    return found


def session_heads(db: Session, ids: Iterable[int]) -> dict[int, Row[Any]]:
    """The kept rows of these sessions, where kept, without their ``cycles``: a log drawn from the sessions'
    totals decodes no cycle (the JSON of years of cycles is most of what a row holds)."""
    table = SessionCycles.__table__
    columns = [c for c in table.c if c.name != "cycles"]
    wanted = sorted(set(ids))
    found: dict[int, Row[Any]] = {}
    for chunk in chunks(wanted):
        found.update((r.session_id, r) for r in db.execute(select(*columns).where(table.c.session_id.in_(chunk))))
    return found


def settle(db: Session, *, zone: str, now: datetime | None = None) -> int:
    """Delete the summaries made stale by the rows and marks above the watermarks, then move the watermarks;
    returns how many day rows were deleted."""
    now = now or datetime.now(UTC)
    current = _lows(db)
    found = pending(db, {s: w.low for s, w in current.items()})
    dropped = _drop_stale(db, found, zone)
    postgres = db.get_bind().dialect.name == "postgresql"
    for source in SOURCES:
        seen = max(found.highest.get(source, 0), found.lows[source])
        mine = current.get(source)
        if mine is None:
            db.add(SummaryWatermark(source=source, low=0 if postgres else seen, high=seen, moved=now))
        elif not postgres:
            mine.low = mine.high = max(mine.low, seen)
            mine.moved = now
        elif now - mine.moved >= GRACE:
            mine.low, mine.high, mine.moved = max(mine.low, mine.high), max(mine.high, seen), now
    db.flush()
    return dropped


def _drop_stale(db: Session, found: Pending, zone: str) -> int:
    dropped = 0
    zones = _zones(db, zone)
    for machine_id, earliest in found.since.items():
        day = local_day(earliest, zones.zone_of(zones.machine_site.get(machine_id)))
        dropped += _drop(db, MachineDay.machine_id == machine_id, MachineDay.day >= day)
        month_sums_repo.drop_since(db, machine_id, day)
        db.execute(delete(SessionCycles).where(_sessions_since(machine_id, earliest)))
    for m in found.marks:
        db.execute(delete(SessionCycles).where(*_marked_sessions(m)))
        month_sums_repo.drop(db, *_marked_machines(m, MachineMonth.machine_id), *_months(m))
        where = _marked_machines(m, MachineDay.machine_id)
        if m.first is not None:
            where.append(MachineDay.day >= m.first)
        if m.last is not None:
            where.append(MachineDay.day <= m.last)
        dropped += _drop(db, *where)
    return dropped


def _marked_machines(m: Mark, machine: Any) -> list[ColumnElement[bool]]:
    """The rows of the machines a mark names (one, a site's, or every machine), by their ``machine`` column."""
    where = [machine == m.machine_id] if m.machine_id is not None else []
    if m.site is not None:
        where.append(machine.in_(select(Machine.id).where(Machine.site == m.site)))
    return where


def _months(m: Mark) -> list[ColumnElement[bool]]:
    """The month rows holding a day of the mark's [first, last] (None: unbounded)."""
    where = [] if m.first is None else [MachineMonth.month >= first_of(m.first)]
    return where if m.last is None else [*where, MachineMonth.month <= m.last]


def _sessions_since(machine_id: int, earliest: datetime) -> ColumnElement[bool]:
    """The machine's ``session_cycles`` rows whose days reach ``earliest`` (a late row's instant)."""
    return and_(SessionCycles.machine_id == machine_id, SessionCycles.last >= earliest.astimezone(UTC).date())


def _marked_sessions(m: Mark) -> list[ColumnElement[bool]]:
    """The ``session_cycles`` rows a mark makes stale (``Mark.overlaps``), as where-clauses."""
    where = _marked_machines(m, SessionCycles.machine_id)
    if m.last is not None:
        where.append(SessionCycles.first <= m.last)
    if m.first is not None:
        where.append(SessionCycles.last >= m.first)
    return where


def session_stale_where(seen: Pending) -> ColumnElement[bool]:
    """``Pending.session_stale`` as a condition on ``session_cycles`` rows (the rows ``_drop_stale`` deletes):
    a read of thousands of kept rows picks the current ones in the store, without reading their dates."""
    stale = [_sessions_since(machine_id, earliest) for machine_id, earliest in seen.since.items()]
    stale += [and_(true(), *_marked_sessions(m)) for m in seen.marks]
    return or_(false(), *stale)


def _drop(db: Session, *where: Any) -> int:
    result = db.execute(delete(MachineDay).where(and_(*where), MachineDay.final.is_(False)))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class _Zones:
    machine_site: dict[int, str]
    site_zone: dict[str, str]
    default: str

    def zone_of(self, site: str | None) -> str:
        return self.default if site is None else self.site_zone.get(site, self.default)


def _zones(db: Session, zone: str) -> _Zones:
    sites: dict[int, str] = dict(db.execute(select(Machine.id, Machine.site).execution_options(**ALL_SITES)).all())
    calendars = select(SiteCalendar.site, SiteCalendar.timezone).execution_options(**ALL_SITES)
    zones: dict[str, str] = dict(db.execute(calendars).all())
    return _Zones(sites, zones, zone)


def make_final(db: Session, machine_ids: Iterable[int], before: date) -> None:
    """The machines' day rows before ``before`` are all that will be left of those days (retention)."""
    ids = sorted(set(machine_ids))
    if ids:
        db.execute(update(MachineDay).where(MachineDay.machine_id.in_(ids), MachineDay.day < before).values(final=True))


def days_present(db: Session, machine_id: int, first: date, last: date) -> set[date]:
    stmt = select(MachineDay.day).where(
        MachineDay.machine_id == machine_id, MachineDay.day >= first, MachineDay.day <= last
    )
    return set(db.scalars(stmt))
