"""Stop reasons per site, people's classifications of stops, and each machine's classified stops.

A site with no reason stored yet shows the default French list; the first write
(a classification, a new or edited reason) stores that list, so a reason has an
id a classification can point to. Stops are derived (``domain.stops``); only what
a person said about one is stored, keyed by machine and start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.calendar import Interval
from gateway.domain.oee import Span
from gateway.domain.stops import (
    BREAKDOWN,
    DEFAULT_REASONS,
    Classified,
    Reason,
    ReasonCategory,
    Stop,
    classify,
    stops,
)
from gateway.errors import ConflictError, NotFoundError
from gateway.store.audit_log import audited_create, audited_update
from gateway.store.calendar_repo import settings_row
from gateway.store.models import Machine, StopClassification, StopReason
from gateway.store.rows import chunks


def _reason(row: StopReason) -> Reason:
    return Reason(row.code, row.label, cast("ReasonCategory", row.category))


def reason_rows(*, db: Session, site: str) -> list[StopReason]:
    return list(db.scalars(select(StopReason).where(StopReason.site == site).order_by(StopReason.id)))


def reasons(*, db: Session, site: str) -> list[tuple[Reason, bool]]:
    """The site's reasons with whether each is offered (active); the default list when none is stored."""
    rows = reason_rows(db=db, site=site)
    if not rows:
        return [(r, True) for r in DEFAULT_REASONS]
    return [(_reason(r), r.active) for r in rows]


def ensure_reasons(*, db: Session, who: str, now: datetime, site: str) -> list[StopReason]:
    """The site's stored reasons, storing the default list first when it has none."""
    rows = reason_rows(db=db, site=site)
    if rows:
        return rows
    for default in DEFAULT_REASONS:
        row = StopReason(site=site, code=default.code, label=default.label, category=default.category, active=True)
        audited_create(db=db, who=who, row=row, entity="stop_reason", now=now)
    return reason_rows(db=db, site=site)


def add_reason(*, db: Session, who: str, now: datetime, site: str, code: str, label: str, category: str) -> StopReason:
    rows = ensure_reasons(db=db, who=who, now=now, site=site)
    if any(r.code == code for r in rows):
        raise ConflictError("stop_reason_code_taken", code=code)
    row = StopReason(site=site, code=code, label=label, category=category, active=True)
    return audited_create(db=db, who=who, row=row, entity="stop_reason", now=now)


def update_reason(
    *, db: Session, who: str, now: datetime, site: str, code: str, changes: Mapping[str, Any]
) -> StopReason:
    rows = ensure_reasons(db=db, who=who, now=now, site=site)
    row = next((r for r in rows if r.code == code), None)
    if row is None:
        raise NotFoundError("stop_reason_not_found", code=code)
    audited_update(db=db, who=who, row=row, entity="stop_reason", changes=changes, now=now)
    return row


def said_about(*, db: Session, machine_id: int, start: datetime, end: datetime) -> dict[datetime, Reason]:
    """What people said about the stops of the machine starting in [start, end]."""
    # Columns, not ORM objects: a year of a machine is thousands of classified stops.
    stmt = (
        select(StopClassification.started, StopReason.code, StopReason.label, StopReason.category)
        .join(StopReason, StopReason.id == StopClassification.reason_id)
        .where(
            StopClassification.machine_id == machine_id,
            StopClassification.started >= start,
            StopClassification.started <= end,
        )
    )
    reasons: dict[tuple[str, str, str], Reason] = {}  # one Reason per reason, shared by its stops
    found: dict[datetime, Reason] = {}
    for started, code, label, category in db.execute(stmt):
        key = (code, label, category)
        if key not in reasons:
            reasons[key] = Reason(code, label, cast("ReasonCategory", category))
        found[started] = reasons[key]
    return found


def said_about_machines(*, db: Session, found: Mapping[int, Sequence[Stop]]) -> dict[int, dict[datetime, Reason]]:
    """``said_about`` of each machine's stops ``found`` (in time order), in one read for every machine: from
    the earliest first stop to the latest last one (a stop is looked up by its start: the wider range only
    reads classifications no stop asks for)."""
    ranges = {machine_id: (stops[0].start, stops[-1].start) for machine_id, stops in found.items() if stops}
    if not ranges:
        return {}
    ids = sorted(ranges)
    low, high = min(lo for lo, _ in ranges.values()), max(hi for _, hi in ranges.values())
    reasons: dict[tuple[str, str, str], Reason] = {}  # one Reason per reason, shared by its stops
    said: dict[int, dict[datetime, Reason]] = {machine_id: {} for machine_id in ids}
    for chunk in chunks(ids):
        stmt = (
            select(StopClassification.machine_id, StopClassification.started, StopReason.code, StopReason.label,
                   StopReason.category)
            .join(StopReason, StopReason.id == StopClassification.reason_id)
            .where(
                StopClassification.machine_id.in_(chunk),
                StopClassification.started >= low,
                StopClassification.started <= high,
            )
        )  # fmt: skip
        for machine_id, started, code, label, category in db.execute(stmt):
            key = (code, label, category)
            if key not in reasons:
                reasons[key] = Reason(code, label, cast("ReasonCategory", category))
            said[machine_id][started] = reasons[key]
    return said


def said_about_starts(*, db: Session, machine_id: int, starts: Sequence[datetime]) -> dict[datetime, Reason]:
    """What people said about the machine's stops starting at these instants: scattered stops (a practice
    log's, over years) are read by their start, not by a range that holds every stop in between."""
    wanted = sorted(set(starts))
    found: dict[datetime, Reason] = {}
    for i in range(0, len(wanted), 500):  # SQLite bounds a statement's parameters
        stmt = (
            select(StopClassification, StopReason)
            .join(StopReason, StopReason.id == StopClassification.reason_id)
            .where(StopClassification.machine_id == machine_id, StopClassification.started.in_(wanted[i : i + 500]))
        )
        found.update({c.started: _reason(r) for c, r in db.execute(stmt).all()})
    return found


@dataclass(frozen=True, slots=True)
class SiteStops:
    """What classifying a site's stops reads besides the stops: read once for many days (a practice log)."""

    threshold_s: float
    alarm_is_breakdown: bool
    breakdown: Reason | None


def site_stops(*, db: Session, site: str, zone: str) -> SiteStops:
    settings = settings_row(db=db, site=site, zone=zone)
    known = {r.code: r for r, _ in reasons(db=db, site=site)}
    return SiteStops(settings.stop_threshold_s, settings.alarm_prefills_breakdown, known.get(BREAKDOWN))


def classified_stops(
    *,
    db: Session,
    machine: Machine,
    spans: Sequence[Span],
    planned: Sequence[Interval],
    until: datetime,
    zone: str,
    site: SiteStops | None = None,
) -> list[Classified]:
    """The machine's stops over the timeline ``spans`` (counted up to ``until``), each with its reason
    (``site``: ``site_stops`` of the machine's site, if already read)."""
    site = site or site_stops(db=db, site=machine.site, zone=zone)
    found = stops(spans, planned, threshold_s=site.threshold_s, counted_until=until)
    return classified(db=db, machine_id=machine.id, found=found, site=site)


def classified(*, db: Session, machine_id: int, found: Sequence[Stop], site: SiteStops) -> list[Classified]:
    """The stops ``found`` (in time order) with what people said about them, read now: a reclassification
    never makes a day summary stale."""
    if not found:
        return []
    said = said_about(db=db, machine_id=machine_id, start=found[0].start, end=found[-1].start)
    return classify(found, said, alarm_is_breakdown=site.alarm_is_breakdown, breakdown=site.breakdown)


def save_classification(
    *, db: Session, who: str, now: datetime, machine: Machine, started: datetime, code: str
) -> StopClassification:
    """Store (or replace) what ``who`` says about the machine's stop that starts at ``started``; audited."""
    rows = ensure_reasons(db=db, who=who, now=now, site=machine.site)
    reason = next((r for r in rows if r.code == code and r.active), None)
    if reason is None:
        raise NotFoundError("stop_reason_not_found", code=code)
    stmt = select(StopClassification).where(
        StopClassification.machine_id == machine.id, StopClassification.started == started
    )
    row = db.scalars(stmt).first()
    if row is None:
        row = StopClassification(machine_id=machine.id, started=started, reason_id=reason.id, by=who, at=now)
        return audited_create(db=db, who=who, row=row, entity="stop_classification", now=now)
    changes = {"reason_id": reason.id, "by": who, "at": now}
    audited_update(db=db, who=who, row=row, entity="stop_classification", changes=changes, now=now)
    return row
