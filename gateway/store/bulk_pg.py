"""PostgreSQL: a batch in a handful of round trips, each table's rows in one statement sent as arrays.

Measured (docs/performance.md, "Issue 21"), two costs made the PostgreSQL path slower than a
hand-written script:

- The client. For ``messages`` SQLAlchemy built one multi-row ``INSERT ... VALUES`` with six
  parameters per row, a text psycopg cannot cache (too long) and so re-parsed with regular
  expressions for every batch; the other tables went row by row. Here every statement has one
  parameter per column, whatever the number of rows::

      INSERT INTO cycles (machine_id, ...) SELECT * FROM unnest($1::INTEGER[], ...)

  so its text is the same for every batch (psycopg prepares it once), the values travel as binary
  arrays, and the server plans it once for the whole batch. The rows are the dicts
  ``gateway.store.ingest_rows`` builds for SQLite too; each value goes through its column's own
  bind processing (UTC times, JSON), as in a Core insert.
- Round trips. A batch took thirteen (BEGIN, the locks, a statement per table, the machines, the
  agents, COMMIT), and on a busy machine each one waits for the server process and then for the
  gateway to be scheduled again. In a transaction that ``defer_writes``, a statement whose result
  nobody reads (an insert without RETURNING, an update, a lock) is queued instead, and the queue
  goes in one psycopg pipeline with the next statement whose result is read, or with the COMMIT.
  Any other statement on the connection (SQLAlchemy's: the ORM, an alarm clear) sends the queue
  first, so the order of the writes is the order of the calls; an error in a queued statement is
  raised by whatever sent it, as SQLAlchemy's exception, and fails the transaction like any other.
  A batch of events now takes three round trips: BEGIN with the machines' lock; the agents' lock
  with the ``messages`` insert (which returns only the keys it skipped, usually none); the other
  tables, the machines and the agents with the COMMIT.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Connection, Engine, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    import psycopg  # an optional dependency (the ``postgres`` extra): imported where PostgreSQL is in use

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None
_Statement = tuple[str, tuple[Any, ...]]
_QUEUE = "atelier_bulk_pg_queue"  # in the connection's info: the statements waiting to be sent


def install(engine: Engine) -> None:
    """Send what is queued before anything else runs on a connection of ``engine``, and with its COMMIT."""
    event.listen(engine, "before_cursor_execute", _before_execute)
    event.listen(engine, "savepoint", _before_savepoint)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)
    event.listen(engine.pool, "checkin", _on_checkin)  # a transaction that ended without a rollback event


def defer_writes(conn: Connection) -> None:
    """Until this transaction ends, queue the statements whose result nobody reads (if ``install``-ed)."""
    if event.contains(conn.engine, "commit", _on_commit):
        conn.info[_QUEUE] = []


def _before_execute(conn: Connection, *_: object) -> None:
    if conn.info.get(_QUEUE):
        _send(conn, [])


def _before_savepoint(conn: Connection, _name: str) -> None:
    if conn.info.get(_QUEUE):
        _send(conn, [])


def _on_commit(conn: Connection) -> None:
    queue = conn.info.pop(_QUEUE, None)
    if queue:
        conn.info[_QUEUE] = queue  # sent by _send, with the COMMIT; psycopg's own commit then has nothing to do
        _send(conn, [], commit=True)
        conn.info.pop(_QUEUE, None)


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_QUEUE, None)


def _on_checkin(_dbapi_connection: object, record: Any) -> None:
    record.info.pop(_QUEUE, None)


def _run(conn: Connection, statement: _Statement, *, rows: bool) -> list[tuple[Any, ...]]:
    """Queue ``statement`` if the transaction defers writes and its result is not wanted; else send it now."""
    queue = conn.info.get(_QUEUE)
    if queue is not None and not rows:
        queue.append(statement)
        return []
    return _send(conn, [statement], rows=rows)


def _send(
    conn: Connection, statements: list[_Statement], *, rows: bool = False, commit: bool = False
) -> list[tuple[Any, ...]]:
    """What is queued, then ``statements``, in one pipeline (one round trip); the rows of the last one."""
    queue = conn.info.get(_QUEUE) or []
    if _QUEUE in conn.info:
        conn.info[_QUEUE] = []
    every = [*queue, *statements]
    import psycopg  # only here: a gateway on SQLite may run without it

    pg: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    sql, params = every[-1] if every else ("COMMIT", ())
    try:
        with pg.pipeline():
            cursor = pg.cursor()
            for sql, params in every:
                cursor = pg.cursor()
                cursor.execute(sql.encode(), params)  # our own constant text, never built from values
            if commit:
                sql, params = "COMMIT", ()
                pg.commit()
        return cursor.fetchall() if rows else []
    except psycopg.Error as err:
        raise DBAPIError.instance(sql, params, err, psycopg.Error, dialect=conn.dialect) from err


def insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Row],
    *,
    skip_conflicts_on: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (dicts with the same keys) in one statement; the ``returning`` columns of those inserted.

    With ``skip_conflicts_on``, a row whose key is taken is skipped (``ON CONFLICT (...) DO NOTHING``).
    """
    if not rows:
        return []
    columns = tuple(rows[0])
    sql, processors = _insert_sql(conn.dialect, table, columns, skip_conflicts_on, returning)
    return _run(conn, (sql, _arrays(rows, columns, processors)), rows=bool(returning))


def insert_skipping_taken(
    conn: Connection, table: Table, rows: Sequence[Row], key: tuple[str, ...]
) -> set[tuple[Any, ...]]:
    """Insert ``rows``, skipping those whose ``key`` is taken; the keys skipped (usually none: nothing to fetch).

    ``RETURNING`` the keys inserted would send every key back, and fetching 500 rows is a good part of a
    batch's time in the client; the keys skipped are the few a redelivery or another gateway brings.
    """
    if not rows:
        return set()
    columns = tuple(rows[0])
    sql, processors = _insert_skipping_sql(conn.dialect, table, columns, key)
    return set(_run(conn, (sql, _arrays(rows, columns, processors)), rows=True))


def update_by_id(conn: Connection, table: Table, values: Mapping[int, Row]) -> None:
    """Set columns of rows by primary key (id → {column: value}, the same columns for every row)."""
    if not values:
        return
    columns = tuple(next(iter(values.values())))
    sql, processors = _update_sql(conn.dialect, table, columns)
    rows = [{"id": row_id, **row} for row_id, row in values.items()]
    _run(conn, (sql, _arrays(rows, ("id", *columns), processors)), rows=False)


def lock_by_id(conn: Connection, table: Table, ids: Sequence[int]) -> None:
    """``SELECT ... FOR UPDATE`` the rows in id order; queued in a transaction that defers writes."""
    sql = f"SELECT id FROM {table.name} WHERE id = ANY(%b::INTEGER[]) ORDER BY id FOR UPDATE"
    _run(conn, (sql, (sorted(ids),)), rows=False)


def machines_locked(conn: Connection, table: Table, keys: Sequence[tuple[str, str]]) -> list[tuple[Any, ...]]:
    """(id, site, name, agent_id) of the machines named, locked in id order; at once, in the pipeline of BEGIN."""
    sql = (
        f"SELECT id, site, name, agent_id FROM {table.name} WHERE (site, name) IN "
        "(SELECT * FROM unnest(%b::VARCHAR[], %b::VARCHAR[])) ORDER BY id FOR UPDATE"
    )
    return _send(conn, [(sql, ([k[0] for k in keys], [k[1] for k in keys]))], rows=True)


def _arrays(rows: Sequence[Row], columns: tuple[str, ...], processors: tuple[_Processor, ...]) -> tuple[list[Any], ...]:
    arrays = []
    for name, process in zip(columns, processors, strict=True):
        values = [row[name] for row in rows]
        arrays.append(values if process is None else [None if v is None else process(v) for v in values])
    return tuple(arrays)


@lru_cache(maxsize=256)
def _insert_sql(
    dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: tuple[str, ...]
) -> tuple[str, tuple[_Processor, ...]]:
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    sql = f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({_params(dialect, table, columns)})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(c) for c in returning)}"
    return sql, _processors(dialect, table, columns)


@lru_cache(maxsize=256)
def _insert_skipping_sql(
    dialect: Dialect, table: Table, columns: tuple[str, ...], key: tuple[str, ...]
) -> tuple[str, tuple[_Processor, ...]]:
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    keys = ", ".join(quote(c) for c in key)
    sql = (
        f"WITH v AS (SELECT * FROM unnest({_params(dialect, table, columns)}) AS v({names})), "
        f"i AS (INSERT INTO {quote(table.name)} ({names}) SELECT * FROM v ON CONFLICT ({keys}) DO NOTHING "
        f"RETURNING {keys}) "
        f"SELECT {', '.join(f'v.{quote(c)}' for c in key)} FROM v LEFT JOIN i ON "
        f"{' AND '.join(f'i.{quote(c)} = v.{quote(c)}' for c in key)} WHERE i.{quote(key[0])} IS NULL"
    )
    return sql, _processors(dialect, table, columns)


@lru_cache(maxsize=256)
def _update_sql(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[_Processor, ...]]:
    quote = dialect.identifier_preparer.quote
    every = ("id", *columns)
    sets = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
    sql = (
        f"UPDATE {quote(table.name)} AS t SET {sets} "
        f"FROM unnest({_params(dialect, table, every)}) AS v({', '.join(quote(c) for c in every)}) "
        "WHERE t.id = v.id"
    )
    return sql, _processors(dialect, table, every)


def _params(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    # Typed arrays, since an array of NULLs has no type of its own; sent in binary (``%b``): no text to
    # quote and parse on either side.
    return ", ".join(f"%b::{_element_type(dialect, table.c[c])}[]" for c in columns)


def _element_type(dialect: Dialect, column: Column[Any]) -> str:
    """The column's type without its modifier: ``VARCHAR(32)`` gives ``VARCHAR``.

    An explicit cast to ``VARCHAR(32)`` would cut a longer string without a word; cast to ``VARCHAR``, the
    value is checked when assigned to the column, as in any insert, and a string too long fails the batch
    (and is then isolated and dead-lettered).
    """
    return re.sub(r"\(.*?\)", "", column.type.dialect_impl(dialect).compile(dialect=dialect))


def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[_Processor, ...]:
    return tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
