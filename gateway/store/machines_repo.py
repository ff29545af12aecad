"""Machines as the records side reads them: by name for a request, by id for a page, named for a message.

The rows are ingest's (a machine appears when its agent first reports); nothing here writes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, Named, NotFoundError
from gateway.store.models import Machine


def machine_key(machine: Machine) -> str:
    """How the domain names a machine: unique across sites, readable in reports."""
    return f"{machine.site}/{machine.name}"


def machine_named(machine: Machine) -> Named:
    return Named(machine_key(machine), machine.name)


def find_machine(*, db: Session, name: str, site: str | None = None) -> Machine:
    stmt = select(Machine).where(Machine.name == name)
    if site is not None:
        stmt = stmt.where(Machine.site == site)
    found = list(db.scalars(stmt))
    if not found:
        raise NotFoundError("machine_unknown", machine=name, site=site)
    if len(found) > 1:
        raise ConflictError("machine_ambiguous", machine=name, sites=", ".join(sorted(m.site for m in found)))
    return found[0]


def machine_by_id(*, db: Session, machine_id: int) -> Machine | None:
    return db.get(Machine, machine_id)


def find_machine_by_id(*, db: Session, machine_id: int) -> Machine:
    """The machine, or ``machine_unknown`` (a form posted an id no machine has)."""
    machine = db.get(Machine, machine_id)
    if machine is None:
        raise NotFoundError("machine_unknown", machine=f"#{machine_id}")
    return machine


def all_machines(*, db: Session, name: str | None = None) -> list[Machine]:
    """Every machine (or those called ``name``, on any site), by site then name."""
    stmt = select(Machine).order_by(Machine.site, Machine.name)
    if name is not None:
        stmt = stmt.where(Machine.name == name)
    return list(db.scalars(stmt))


def machine_keys(*, db: Session, ids: Iterable[int]) -> dict[int, str]:
    """Machine id → site/name, how the API names a machine."""
    return {m.id: machine_key(m) for m in _machines(db, ids)}


def machine_labels(*, db: Session, ids: Iterable[int]) -> dict[int, str]:
    """Machine id → its name, how people in the workshop name it."""
    return {m.id: m.name for m in _machines(db, ids)}


def _machines(db: Session, ids: Iterable[int]) -> list[Machine]:
    wanted = set(ids)
    if not wanted:
        return []
    return list(db.scalars(select(Machine).where(Machine.id.in_(wanted))))
