"""A row by its id, or the error that says which thing does not exist."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from gateway.errors import NotFoundError
from gateway.store.models import Base

Row = TypeVar("Row", bound=Base)


def get_row(*, db: Session, model: type[Row], row_id: int, label: str) -> Row:
    """The row, or NotFoundError with the code ``{label}_not_found`` (label ``work db``: ``work_session``)."""
    row = db.get(model, row_id)
    if row is None:
        raise NotFoundError(f"{label.lower().replace(' ', '_')}_not_found", id=row_id)
    return row
