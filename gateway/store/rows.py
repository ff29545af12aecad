"""A row by its id, or the error that says which thing does not exist; many ids in runs a statement can bind."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from gateway.errors import NotFoundError
from gateway.store.models import Base

Row = TypeVar("Row", bound=Base)
CHUNK = 500  # stay under SQLite's bound-parameter limit


def chunks(values: list[int]) -> list[list[int]]:
    """``values`` in runs short enough for one ``IN (...)`` (SQLite bounds the parameters of a statement)."""
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def get_row(*, db: Session, model: type[Row], row_id: int, label: str) -> Row:
    """The row, or NotFoundError with the code ``{label}_not_found`` (label ``work db``: ``work_session``)."""
    row = db.get(model, row_id)
    if row is None:
        raise NotFoundError(f"{label.lower().replace(' ', '_')}_not_found", id=row_id)
    return row
