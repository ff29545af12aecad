"""Core statements that write ingested messages: one round trip per table, not one per row.

The caller owns the transaction. Rows are plain dicts keyed by column name,
built by ``gateway.store.ingest_rows``; the ORM is not involved, so nothing here
flushes: callers flush their database session before mixing these with ORM writes.
On PostgreSQL the writes go through ``gateway.store.bulk_pg`` (one statement per table
whatever the number of rows, the columns sent as arrays, in pipelines); on SQLite through
``gateway.store.bulk_sqlite`` (an ``executemany`` of plain tuples: in process, a statement per
row costs no round trip); Core statements for any other dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.store import bulk_pg, bulk_sqlite
from gateway.store.models import Agent, AlarmRecord, Cycle, DeadLetter, Machine, Message, PartCount, StateChange

Key = tuple[int, int]  # (agent row, seq): the dedupe key of a sequenced message
Row = dict[str, Any]
# SQLite binds at most 32,766 parameters per statement; two per key keeps a chunk well under it.
_KEYS_PER_QUERY = 4000

MESSAGES: Table = Message.__table__  # type: ignore[assignment]
STATE_CHANGES: Table = StateChange.__table__  # type: ignore[assignment]
CYCLES: Table = Cycle.__table__  # type: ignore[assignment]
PART_COUNTS: Table = PartCount.__table__  # type: ignore[assignment]
ALARMS: Table = AlarmRecord.__table__  # type: ignore[assignment]
DEAD_LETTERS: Table = DeadLetter.__table__  # type: ignore[assignment]
_MACHINES: Table = Machine.__table__  # type: ignore[assignment]
_AGENTS: Table = Agent.__table__  # type: ignore[assignment]


Stamp = tuple[str, datetime]  # (message type, source time) of a stored sequenced message
MachineKey = tuple[str, str]  # (site, machine id on the bus)
Owned = tuple[int, int]  # (machine row, owner agent row)


def machines_named(*, db: Session, keys: Iterable[MachineKey], lock: bool) -> dict[MachineKey, Owned]:
    """The rows and owners of the machines a batch names; with ``lock`` (PostgreSQL), locked in id order.

    Read from the store for every batch, not cached: an admin may move a machine from another process
    (``atelier gateway move-machine``) or another gateway of a pool, and the next batch must obey at once.
    """
    wanted = sorted(set(keys))
    found: dict[MachineKey, Owned] = {}
    conn = db.connection()
    if lock and conn.dialect.name == "postgresql" and wanted:
        rows = bulk_pg.machines_locked(conn, _MACHINES, wanted)
        return {(site, name): (int(row_id), int(owner)) for row_id, site, name, owner in rows}
    columns = (_MACHINES.c.id, _MACHINES.c.site, _MACHINES.c.name, _MACHINES.c.agent_id)
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        stmt = select(*columns).where(
            tuple_(_MACHINES.c.site, _MACHINES.c.name).in_(wanted[start : start + _KEYS_PER_QUERY])
        )
        if lock:
            stmt = stmt.order_by(_MACHINES.c.id).with_for_update()
        found.update(((site, name), (int(row_id), int(owner))) for row_id, site, name, owner in conn.execute(stmt))
    return found


def create_machine(*, db: Session, key: MachineKey, agent_id: int, seen: datetime) -> Owned:
    """The machine's row, created for ``agent_id`` unless it exists (another gateway of a pool may have won)."""
    conn = db.connection()
    site, name = key
    values = {"site": site, "name": name, "agent_id": agent_id, "first_seen": seen, "last_seen": seen}
    match conn.dialect.name:
        case "postgresql":
            conn.execute(
                postgresql.insert(_MACHINES).values(values).on_conflict_do_nothing(index_elements=["site", "name"])
            )
        case "sqlite":
            conn.execute(
                sqlite.insert(_MACHINES).values(values).on_conflict_do_nothing(index_elements=["site", "name"])
            )
        case _:
            conn.execute(insert(_MACHINES).values(values))
    row = conn.execute(
        select(_MACHINES.c.id, _MACHINES.c.agent_id).where(_MACHINES.c.site == site, _MACHINES.c.name == name)
    ).one()
    return int(row[0]), int(row[1])


def stored_stamps(*, db: Session, keys: Iterable[Key]) -> dict[Key, Stamp]:
    """Which of ``keys`` the store already holds, with what it holds for each, one query per few thousand."""
    wanted = sorted(set(keys))
    found: dict[Key, Stamp] = {}
    conn = db.connection()
    columns = (MESSAGES.c.agent_id, MESSAGES.c.seq, MESSAGES.c.type, MESSAGES.c.ts)
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start : start + _KEYS_PER_QUERY]
        stmt = select(*columns).where(tuple_(MESSAGES.c.agent_id, MESSAGES.c.seq).in_(chunk))
        found.update(((int(agent_id), int(seq)), (kind, ts)) for agent_id, seq, kind, ts in conn.execute(stmt))
    return found


def insert_messages(*, db: Session, rows: Sequence[Row]) -> set[Key]:
    """Record sequenced messages; the keys actually inserted (another gateway may have stored some meanwhile)."""
    if not rows:
        return set()
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        taken = bulk_pg.insert_skipping_taken(conn, MESSAGES, rows, ("agent_id", "seq"))
        return {key for row in rows if (key := (row["agent_id"], row["seq"])) not in taken}
    stmt = _insert_ignoring_duplicates(conn)
    if stmt is None:  # a dialect without ON CONFLICT: a duplicate raises, and the caller replays message by message
        conn.execute(insert(MESSAGES), list(rows))
        return {(row["agent_id"], row["seq"]) for row in rows}
    if conn.dialect.name == "sqlite":
        # Usually every key is new: one executemany (sqlite3's loop in C) and its count of rows inserted say
        # so, without the RETURNING of 500 keys built into one statement per batch. Any key skipped: undo
        # that in its savepoint and learn which from RETURNING.
        with db.begin_nested() as savepoint:
            inserted = bulk_sqlite.insert(db.connection(), MESSAGES, rows, skip_conflicts_on=("agent_id", "seq"))
            if inserted == len(rows):
                return {(row["agent_id"], row["seq"]) for row in rows}
            savepoint.rollback()
    result = conn.execute(stmt.returning(MESSAGES.c.agent_id, MESSAGES.c.seq), list(rows))
    return {(int(agent_id), int(seq)) for agent_id, seq in result}


def _insert_ignoring_duplicates(conn: Connection) -> Insert | None:
    match conn.dialect.name:
        case "postgresql":
            return postgresql.insert(MESSAGES).on_conflict_do_nothing(index_elements=["agent_id", "seq"])
        case "sqlite":
            return sqlite.insert(MESSAGES).on_conflict_do_nothing(index_elements=["agent_id", "seq"])
        case _:
            return None


def insert_rows(*, db: Session, table: Table, rows: Sequence[Row]) -> None:
    if not rows:
        return
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        bulk_pg.insert(conn, table, rows)
    elif conn.dialect.name == "sqlite":
        bulk_sqlite.insert(conn, table, rows)
    else:
        conn.execute(insert(table), list(rows))


def update_machines(*, db: Session, changes: Mapping[int, Row]) -> None:
    """Set columns of machines (row id → {column: value}); one statement per set of columns."""
    groups: dict[tuple[str, ...], dict[int, Row]] = {}
    for machine_id, values in changes.items():
        groups.setdefault(tuple(sorted(values)), {})[machine_id] = values
    conn = db.connection()
    for columns, rows in groups.items():
        if conn.dialect.name == "postgresql":
            bulk_pg.update_by_id(conn, _MACHINES, rows)
            continue
        if conn.dialect.name == "sqlite":
            bulk_sqlite.update_by_id(conn, _MACHINES, rows)
            continue
        stmt = (
            update(_MACHINES)
            .where(_MACHINES.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}", type_=_MACHINES.c[c].type) for c in columns})
        )
        conn.execute(stmt, [{"b_id": i, **{f"b_{c}": v[c] for c in columns}} for i, v in rows.items()])


def machine_state_times(*, db: Session, machine_ids: Iterable[int]) -> dict[int, datetime | None]:
    """Source time of the snapshot each machine holds (None: none yet)."""
    ids = sorted(set(machine_ids))
    if not ids:
        return {}
    stmt = select(_MACHINES.c.id, _MACHINES.c.last_state_ts).where(_MACHINES.c.id.in_(ids))
    return {int(machine_id): ts for machine_id, ts in db.connection().execute(stmt)}


def touch_machines(*, db: Session, seen: Mapping[int, datetime]) -> None:
    if seen:
        update_machines(db=db, changes={machine_id: {"last_seen": ts} for machine_id, ts in seen.items()})


def set_contiguous(*, db: Session, seqs: Mapping[int, int]) -> None:
    """Each agent's highest gap-free seq (agent row id → seq), in one executemany."""
    if not seqs:
        return
    conn = db.connection()
    if conn.dialect.name in ("postgresql", "sqlite"):
        fast = bulk_pg if conn.dialect.name == "postgresql" else bulk_sqlite
        fast.update_by_id(conn, _AGENTS, {agent_id: {"contiguous_seq": seq} for agent_id, seq in seqs.items()})
        return
    stmt = update(_AGENTS).where(_AGENTS.c.id == bindparam("b_id")).values(contiguous_seq=bindparam("b_seq"))
    conn.execute(stmt, [{"b_id": agent_id, "b_seq": seq} for agent_id, seq in seqs.items()])


def clear_alarm(*, db: Session, machine_id: int, code: str, ts: datetime) -> None:
    stmt = (
        update(ALARMS)
        .where(ALARMS.c.machine_id == machine_id, ALARMS.c.code == code, ALARMS.c.cleared.is_(None))
        .values(cleared=ts)
    )
    db.connection().execute(stmt)


def defer_writes(*, db: Session) -> None:
    """PostgreSQL: until the transaction ends, writes go with the next read or the COMMIT (``bulk_pg``)."""
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        bulk_pg.defer_writes(conn)


def lock_agents(*, db: Session, agent_ids: Iterable[int]) -> None:
    """``SELECT ... FOR UPDATE`` agents in id order (after the machines): one order for every transaction."""
    wanted = sorted(set(agent_ids))
    conn = db.connection()
    if wanted and conn.dialect.name == "postgresql":
        bulk_pg.lock_by_id(conn, _AGENTS, wanted)
    elif wanted:
        stmt = select(_AGENTS.c.id).where(_AGENTS.c.id.in_(wanted)).order_by(_AGENTS.c.id).with_for_update()
        db.connection().execute(stmt)
