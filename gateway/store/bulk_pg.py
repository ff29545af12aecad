"""PostgreSQL: a batch's rows of one table in one statement, its columns sent as arrays and unnested.

Measured (docs/performance.md, "Issue 21"): a batch written with ``executemany`` spent most of
its time in the client, not the server. For ``messages`` SQLAlchemy builds one multi-row
``INSERT ... VALUES`` with six parameters per row, a text psycopg cannot cache (too long) and so
re-parses with regular expressions for every batch; the other tables went row by row through
psycopg's pipeline, one Bind/Execute per row. Here every statement has one parameter per
column, whatever the number of rows::

    INSERT INTO cycles (machine_id, ...) SELECT * FROM unnest($1::integer[], ...)

so its text is the same for every batch (psycopg prepares it once on the server), the values
travel as arrays psycopg adapts in C, and the server plans it once for the whole batch. The rows
are the same dicts ``gateway.store.ingest_rows`` builds for SQLite; each value goes through its
column's own bind processing (UTC times, JSON), as in an ORM or Core insert.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.engine import Dialect

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None


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
    result = conn.exec_driver_sql(sql, _arrays(rows, columns, processors))
    return [tuple(row) for row in result] if returning else []


def update_by_id(conn: Connection, table: Table, values: Mapping[int, Row]) -> None:
    """Set columns of rows by primary key (id → {column: value}, the same columns for every row)."""
    if not values:
        return
    columns = tuple(next(iter(values.values())))
    sql, processors = _update_sql(conn.dialect, table, columns)
    rows = [{"id": row_id, **row} for row_id, row in values.items()]
    conn.exec_driver_sql(sql, _arrays(rows, ("id", *columns), processors))


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
