"""The network's gateway: the schools' aggregates kept idempotently, and read back for the network page.

A message is one site's period (a day or an hour). It replaces what is stored for that period when it is
newer (its ``ts``) and is ignored otherwise, so a day published twice, or again after a cut link, is stored
once; a final day also drops that day's hours, which only stood in for it while it was under way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edge_agent import contract
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
    oee_h: float = 0.0  # OEE × planned hours of the machines that have an OEE
    oee_weight_h: float = 0.0  # their planned hours

    @property
    def utilisation(self) -> float | None:
        return self.running_h / self.planned_h if self.planned_h > 0 else None

    @property
    def oee(self) -> float | None:
        """The machines' OEE weighted by their planned hours (``domain.network.weighted``, summed in SQL)."""
        return self.oee_h / self.oee_weight_h if self.oee_weight_h > 0 else None

    def add(self, sums: Sequence[Any]) -> None:
        """Add one row of ``_SUMS`` (what one site's day, or its hours of a day, add up to)."""
        planned, running, free, good, scrap, oee_h, weight, *stops = sums
        self.planned_h += float(planned or 0.0)
        self.running_h += float(running or 0.0)
        self.free_h += float(free or 0.0)
        self.good += int(good or 0)
        self.scrap += int(scrap or 0)
        self.oee_h += float(oee_h or 0.0)
        self.oee_weight_h += float(weight or 0.0)
        for name, value in zip(STOP_COLUMNS, stops, strict=True):
            self.stops_h[name] += float(value or 0.0)


@dataclass(frozen=True, slots=True)
class Online:
    online: int
    machines: int
    as_of: datetime


_M = NetworkMachineFigures
_WITH_OEE = and_(_M.oee.is_not(None), _M.planned_h > 0)  # what ``domain.network.weighted`` counts
_SUMS = (
    func.sum(_M.planned_h),
    func.sum(_M.running_h),
    func.sum(_M.free_h),
    func.sum(_M.good),
    func.sum(_M.scrap),
    func.sum(case((_WITH_OEE, _M.oee * _M.planned_h), else_=0.0)),
    func.sum(case((_WITH_OEE, _M.planned_h), else_=0.0)),
    *(func.sum(getattr(_M, column)) for column in STOP_COLUMNS.values()),
)


def weeks(*, db: Session, mondays: list[date]) -> dict[str, list[Figures]]:
    """Per site, one ``Figures`` per week starting on each of ``mondays``: finished days from their day
    message, a day still under way (or whose day message has not come) from its hours.

    The database adds up each site's day (and each site's hours of a day): three grouped queries whose
    answers have a row per site and day, whatever the machines and hours behind them, so the page costs
    the same at 35 schools × 20 machines as at one (docs/performance.md, issue 18)."""
    first, last = mondays[0], mondays[-1] + timedelta(days=7)
    index = {monday: i for i, monday in enumerate(mondays)}
    in_range = and_(NetworkPeriod.day >= first, NetworkPeriod.day < last)
    kinds = db.execute(select(NetworkPeriod.site, NetworkPeriod.day, NetworkPeriod.period).where(in_range).distinct())
    with_day: set[tuple[str, date]] = set()
    result: dict[str, list[Figures]] = {}
    for site, day, period in kinds:
        result.setdefault(site, [Figures() for _ in mondays])
        if period == "day":
            with_day.add((site, day))

    def week_of(site: str, day: date, period: str) -> Figures | None:
        if period != "day" and (site, day) in with_day:
            return None  # hours only stood in for a day whose day message has come
        return result[site][index[day - timedelta(days=day.weekday())]]

    keys = (NetworkPeriod.site, NetworkPeriod.day, NetworkPeriod.period)
    machines = select(*keys, *_SUMS).join(NetworkPeriod, _M.period_id == NetworkPeriod.id).where(in_range)
    for row in db.execute(machines.group_by(*keys)):
        figures = week_of(row[0], row[1], row[2])
        if figures is not None:
            figures.add(row[3:])
    practice = (
        select(*keys, func.sum(NetworkPracticeFigures.hours))
        .join(NetworkPeriod, NetworkPracticeFigures.period_id == NetworkPeriod.id)
        .where(in_range)
        .group_by(*keys)
    )
    for site, day, period, hours in db.execute(practice):
        figures = week_of(site, day, period)
        if figures is not None:
            figures.practice_h += float(hours or 0.0)
    return dict(sorted(result.items()))


def online_now(*, db: Session) -> dict[str, Online]:
    """Per site, its machines online in the latest hour it published (one grouped query)."""
    hours = NetworkPeriod.period == "hour"
    latest = (
        select(NetworkPeriod.site, func.max(NetworkPeriod.start).label("start"))
        .where(hours)
        .group_by(NetworkPeriod.site)
        .subquery()
    )
    stmt = (
        select(
            NetworkPeriod.site,
            NetworkPeriod.version,
            func.count(_M.id),
            func.sum(case((_M.online, 1), else_=0)),
        )
        .join(latest, and_(latest.c.site == NetworkPeriod.site, latest.c.start == NetworkPeriod.start))
        .outerjoin(_M, _M.period_id == NetworkPeriod.id)
        .where(hours)
        .group_by(NetworkPeriod.id, NetworkPeriod.site, NetworkPeriod.version)
    )
    return {site: Online(int(online or 0), int(count), version) for site, version, count, online in db.execute(stmt)}
