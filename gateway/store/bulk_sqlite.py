"""SQLite: a batch's rows of one table in one ``executemany`` of plain tuples, past SQLAlchemy's per-row work.

Measured (docs/performance.md, "Issue 21"): with a Core ``insert(table)`` and a list of dicts,
SQLAlchemy builds each row's parameters in Python (``construct_params``) and runs two bind
processors on every time (``UtcDateTime``, then SQLite's ``DATETIME``); that was a third of the
gateway's time on a batch, more than SQLite itself. Here the statement text is built once per
table and set of columns, each value goes through its column's bind processor as before, and times
through ``_utc_text``, which writes the text SQLAlchemy writes (a test holds them equal); sqlite3
runs the rows in its C loop. The caller owns the transaction, as in ``gateway.store.bulk``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from gateway.store.models.base import UtcDateTime

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None


def insert(conn: Connection, table: Table, rows: Sequence[Row], *, skip_conflicts_on: tuple[str, ...] = ()) -> int:
    """Insert ``rows`` (dicts with the same keys); how many were inserted (conflicts skipped with ``skip_...``)."""
    if not rows:
        return 0
    columns = tuple(rows[0])
    sql, processors = _insert_sql(conn.dialect, table, columns, skip_conflicts_on)
    return int(conn.exec_driver_sql(sql, _tuples(rows, columns, processors)).rowcount)


def update_by_id(conn: Connection, table: Table, values: Mapping[int, Row]) -> None:
    """Set columns of rows by primary key (id → {column: value}, the same columns for every row)."""
    if not values:
        return
    columns = tuple(next(iter(values.values())))
    sql, processors = _update_sql(conn.dialect, table, columns)
    rows = [{**row, "id": row_id} for row_id, row in values.items()]
    conn.exec_driver_sql(sql, _tuples(rows, (*columns, "id"), processors))


def _tuples(rows: Sequence[Row], columns: tuple[str, ...], processors: tuple[_Processor, ...]) -> list[tuple[Any, ...]]:
    # Measured (docs/performance.md, issue 21, third round): a function call per value was a quarter of the
    # projector's CPU. ``itemgetter`` picks a row's values in C; only the columns with a bind processor (times,
    # floats, JSON: a few per table) go through Python.
    pick = itemgetter(*columns)
    converted = tuple((i, process) for i, process in enumerate(processors) if process is not None)
    if len(columns) == 1:
        return [_converted((pick(row),), converted) for row in rows]
    if not converted:
        return [pick(row) for row in rows]
    return [_converted(pick(row), converted) for row in rows]


def _converted(values: tuple[Any, ...], converted: tuple[tuple[int, Callable[[Any], Any]], ...]) -> tuple[Any, ...]:
    out = list(values)
    for i, process in converted:
        value = out[i]
        if value is not None:
            out[i] = process(value)
    return tuple(out)


def _utc_text(value: datetime) -> str:
    """What ``UtcDateTime`` then SQLite's ``DATETIME`` make of an aware time: ``2026-11-25 08:00:00.000000`` (UTC)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC times only")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


@lru_cache(maxsize=256)
def _insert_sql(
    dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...]
) -> tuple[str, tuple[_Processor, ...]]:
    quote = dialect.identifier_preparer.quote
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
    sql += f"VALUES ({', '.join('?' for _ in columns)})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
    return sql, _processors(dialect, table, columns)


@lru_cache(maxsize=256)
def _update_sql(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[_Processor, ...]]:
    quote = dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(c)} = ?" for c in columns)
    return f"UPDATE {quote(table.name)} SET {sets} WHERE id = ?", _processors(dialect, table, (*columns, "id"))


def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[_Processor, ...]:
    return tuple(
        _utc_text
        if isinstance(table.c[c].type, UtcDateTime)
        else table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        for c in columns
    )
