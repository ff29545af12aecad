"""The network's gateway: the schools' aggregates kept idempotently, and read back for the network page.

A message is one site's period (a day or an hour). It replaces what is stored for that period when it is
newer (its ``ts``) and is ignored otherwise, so a day published twice, or again after a cut link, is stored
once; a final day also drops that day's hours, which only stood in for it while it was under way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.domain.network import weighted
from gateway.store.ingest_rows import dead_letter_row
from gateway.store.models import DeadLetter, NetworkMachineFigures, NetworkPeriod, NetworkPracticeFigures

Kept = Literal["stored", "replaced", "unchanged", "older"]
STOP_COLUMNS = {
    "setup": "setup_h",
    "organisation": "organisation_h",
    "technical": "technical_h",
    "planned": "planned_stop_h",
    "unclassified": "unclassified_h",
}


def keep(*, db: Session, message: contract.NetworkAggregate, received: datetime) -> Kept:
    """Store ``message`` unless the same period is already stored at its version or a newer one."""
    try:
        with db.begin_nested():
            return _keep(db, message, received)
    except IntegrityError:  # another gateway of the pool stored the same period meanwhile: decide again
        with db.begin_nested():
            return _keep(db, message, received)


def _keep(db: Session, message: contract.NetworkAggregate, received: datetime) -> Kept:
    stmt = (
        select(NetworkPeriod)
        .where(
            NetworkPeriod.site == message.site,
            NetworkPeriod.period == message.period,
            NetworkPeriod.start == message.start,
        )
        .with_for_update()
    )
    row = db.scalar(stmt)
    if row is not None and row.version >= message.ts:
        return "unchanged" if row.version == message.ts else "older"
    outcome: Kept = "stored" if row is None else "replaced"
    if row is None:
        row = NetworkPeriod(site=message.site, period=message.period, start=message.start)
        db.add(row)
    else:
        db.execute(delete(NetworkMachineFigures).where(NetworkMachineFigures.period_id == row.id))
        db.execute(delete(NetworkPracticeFigures).where(NetworkPracticeFigures.period_id == row.id))
    row.end, row.day, row.final = message.end, message.day, message.final
    row.version, row.received = message.ts, received
    db.flush()
    db.add_all(_machine_rows(row.id, message))
    db.add_all(
        NetworkPracticeFigures(period_id=row.id, class_label=p.class_label, track=p.track, hours=p.hours)
        for p in message.practice
    )
    if message.period == "day" and message.final:
        _drop_hours(db, message.site, message.day)
    return outcome


def _machine_rows(period_id: int, message: contract.NetworkAggregate) -> list[NetworkMachineFigures]:
    return [
        NetworkMachineFigures(
            period_id=period_id,
            machine=m.machine,
            online=m.online,
            planned_h=m.planned_h,
            running_h=m.running_h,
            free_h=m.free_h,
            good=m.good,
            scrap=m.scrap,
            oee=m.oee,
            **{column: getattr(m.stops, name) for name, column in STOP_COLUMNS.items()},
        )
        for m in message.machines
    ]


def _drop_hours(db: Session, site: str, day: date) -> None:
    hours = select(NetworkPeriod.id).where(
        NetworkPeriod.site == site, NetworkPeriod.period == "hour", NetworkPeriod.day == day
    )
    ids = list(db.scalars(hours))
    if ids:
        db.execute(delete(NetworkMachineFigures).where(NetworkMachineFigures.period_id.in_(ids)))
        db.execute(delete(NetworkPracticeFigures).where(NetworkPracticeFigures.period_id.in_(ids)))
        db.execute(delete(NetworkPeriod).where(NetworkPeriod.id.in_(ids)))


def dead_letter(*, db: Session, topic: str, payload: bytes, reason: str, received: datetime) -> None:
    """A refused aggregate, in the same bounded dead letters as ingest's."""
    db.execute(insert(DeadLetter), [dead_letter_row(topic=topic, payload=payload, reason=reason, received_at=received)])


# --- the network page --------------------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    """One site over some days: sums, and the OEE weighted by planned hours."""

    planned_h: float = 0.0
    running_h: float = 0.0
    free_h: float = 0.0
    good: int = 0
    scrap: int = 0
    practice_h: float = 0.0
    stops_h: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STOP_COLUMNS, 0.0))
    _oee: list[tuple[float | None, float]] = field(default_factory=list)

    @property
    def utilisation(self) -> float | None:
        return self.running_h / self.planned_h if self.planned_h > 0 else None

    @property
    def oee(self) -> float | None:
        return weighted(self._oee)


@dataclass(frozen=True, slots=True)
class Online:
    online: int
    machines: int
    as_of: datetime


def weeks(*, db: Session, mondays: list[date]) -> dict[str, list[Figures]]:
    """Per site, one ``Figures`` per week starting on each of ``mondays``: finished days from their day
    message, a day still under way (or whose day message has not come) from its hours."""
    first, last = mondays[0], mondays[-1] + timedelta(days=7)
    index = {monday: i for i, monday in enumerate(mondays)}
    periods = list(db.scalars(select(NetworkPeriod).where(NetworkPeriod.day >= first, NetworkPeriod.day < last)))
    with_day = {(p.site, p.day) for p in periods if p.period == "day"}
    chosen = {p.id: p for p in periods if p.period == "day" or (p.site, p.day) not in with_day}
    result: dict[str, list[Figures]] = defaultdict(lambda: [Figures() for _ in mondays])
    for site in sorted({p.site for p in periods}):
        result[site]
    if not chosen:
        return dict(result)

    def week_of(period_id: int) -> Figures:
        period = chosen[period_id]
        return result[period.site][index[period.day - timedelta(days=period.day.weekday())]]

    machines = select(NetworkMachineFigures).where(NetworkMachineFigures.period_id.in_(list(chosen)))
    for m in db.scalars(machines):
        figures = week_of(m.period_id)
        figures.planned_h += m.planned_h
        figures.running_h += m.running_h
        figures.free_h += m.free_h
        figures.good += m.good
        figures.scrap += m.scrap
        figures._oee.append((m.oee, m.planned_h))
        for name, column in STOP_COLUMNS.items():
            figures.stops_h[name] += getattr(m, column)
    practice = select(NetworkPracticeFigures).where(NetworkPracticeFigures.period_id.in_(list(chosen)))
    for p in db.scalars(practice):
        week_of(p.period_id).practice_h += p.hours
    return dict(result)


def online_now(*, db: Session) -> dict[str, Online]:
    """Per site, its machines online in the latest hour it published."""
    latest: dict[str, NetworkPeriod] = {}
    for period in db.scalars(select(NetworkPeriod).where(NetworkPeriod.period == "hour")):
        seen = latest.get(period.site)
        if seen is None or period.start > seen.start:
            latest[period.site] = period
    found: dict[str, Online] = {}
    for site, period in latest.items():
        rows = list(
            db.scalars(select(NetworkMachineFigures.online).where(NetworkMachineFigures.period_id == period.id))
        )
        found[site] = Online(sum(1 for r in rows if r), len(rows), period.version)
    return found
