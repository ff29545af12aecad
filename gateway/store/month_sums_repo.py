"""Month sums (``machine_months``): each machine's figures per whole local month, the sum of its day rows.

Kept correct by the day summaries' own means (``summaries_repo``): a month is current for a
reader while none of its days is stale (``Pending.stale_days``), and the settling that deletes
stale day rows deletes the months holding them (``drop``). A month is never ``final``: its day
rows are, after retention, and the month is added up again from them. Written only in a
writer's transaction (``summaries_repo.keep_computed``), with the days it was added up from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.orm import Session

from gateway.domain.day_figures import Figures, to_columns
from gateway.domain.month_figures import first_of
from gateway.store.models import MachineMonth
from gateway.store.rows import chunks


def stored(db: Session, machine_ids: Iterable[int], first: date, last: date) -> dict[tuple[int, date], dict[str, Any]]:
    """(machine id, month) → the columns of its row, for the months [first, last] of these machines."""
    table = MachineMonth.__table__
    wanted = sorted(set(machine_ids))
    found: dict[tuple[int, date], dict[str, Any]] = {}
    for chunk in chunks(wanted):
        stmt = select(table).where(table.c.machine_id.in_(chunk), table.c.month >= first, table.c.month <= last)
        result = db.execute(stmt)
        names = list(result.keys())
        machine, month = names.index("machine_id"), names.index("month")
        found.update({(row[machine], row[month]): dict(zip(names, row, strict=True)) for row in result})
    return found


def keep(db: Session, machine_id: int, months: Mapping[date, Figures]) -> None:
    """Store these months of the machine in place of any stored (in the writer's transaction)."""
    if not months:
        return
    db.execute(delete(MachineMonth).where(MachineMonth.machine_id == machine_id, MachineMonth.month.in_(months)))
    rows = [{"machine_id": machine_id, "month": month, **to_columns(f)} for month, f in months.items()]
    db.execute(insert(MachineMonth), rows)


def drop_since(db: Session, machine_id: int, day: date) -> None:
    """The machine's months from the one holding ``day`` on are stale (a late row touched that day)."""
    db.execute(delete(MachineMonth).where(MachineMonth.machine_id == machine_id, MachineMonth.month >= first_of(day)))


def drop(db: Session, *where: Any) -> None:
    """The months ``where`` selects (a mark's: ``summaries_repo``) are stale."""
    db.execute(delete(MachineMonth).where(and_(True, *where)))
