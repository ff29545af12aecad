"""Each site's opening calendar, its closures and its machines' exceptions; audited writes.

A site with no calendar row yet has the default school week (08:00–12:00 and
13:00–17:00, Monday to Friday, national public holidays) in the gateway's time
zone: planned time exists from the first day, and the first save stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.calendar import Calendar, Closure, Hours, MachineException, format_day, parse_day, school_week
from gateway.domain.holiday_dates import PublicHolidays, SchoolZone
from gateway.errors import InvalidError
from gateway.store.audit_log import audited_create, audited_delete, audited_update
from gateway.store.models import CalendarClosure, Machine, MachineCalendarException, SiteCalendar
from gateway.store.rows import chunks, get_row
from gateway.store.summaries_repo import mark

DEFAULT_STOP_THRESHOLD_S = 300


def default_row(site: str, zone: str) -> SiteCalendar:
    return SiteCalendar(
        site=site,
        timezone=zone,
        week=[format_day(day) for day in school_week()],
        public_holidays="national",
        school_zone=None,
        stop_threshold_s=DEFAULT_STOP_THRESHOLD_S,
        alarm_prefills_breakdown=True,
    )


def settings_row(*, db: Session, site: str, zone: str) -> SiteCalendar:
    """The site's stored calendar settings, or the defaults (not stored) when it has none yet."""
    found = db.scalars(select(SiteCalendar).where(SiteCalendar.site == site)).first()
    return found if found is not None else default_row(site, zone)


def closures(*, db: Session, site: str) -> list[CalendarClosure]:
    stmt = select(CalendarClosure).where(CalendarClosure.site == site).order_by(CalendarClosure.first)
    return list(db.scalars(stmt))


def calendar_of(*, db: Session, site: str, zone: str) -> Calendar:
    """The pure calendar of ``site`` (``zone``: the gateway's, for a site with no calendar yet)."""
    row = settings_row(db=db, site=site, zone=zone)
    return Calendar(
        zone=row.timezone,
        week=tuple(parse_day(str(day)) for day in row.week),
        closures=tuple(Closure(c.first, c.last, c.label) for c in closures(db=db, site=site)),
        public=cast("PublicHolidays", row.public_holidays),
        school_zone=cast("SchoolZone | None", row.school_zone),
    )


def exception_rows(*, db: Session, site: str) -> list[MachineCalendarException]:
    stmt = (
        select(MachineCalendarException)
        .join(Machine, Machine.id == MachineCalendarException.machine_id)
        .where(Machine.site == site)
        .order_by(MachineCalendarException.first, MachineCalendarException.id)
    )
    return list(db.scalars(stmt))


def exceptions_of(*, db: Session, machine_id: int) -> list[MachineException]:
    stmt = select(MachineCalendarException).where(MachineCalendarException.machine_id == machine_id)
    return [_exception(row) for row in db.scalars(stmt)]


def exceptions_of_machines(*, db: Session, machine_ids: list[int]) -> dict[int, list[MachineException]]:
    """``exceptions_of`` of each of these machines, in one read (the reports of every machine)."""
    found: dict[int, list[MachineException]] = {}
    for chunk in chunks(machine_ids):
        stmt = (
            select(MachineCalendarException)
            .where(MachineCalendarException.machine_id.in_(chunk))
            .order_by(MachineCalendarException.id)
        )
        for row in db.scalars(stmt):
            found.setdefault(row.machine_id, []).append(_exception(row))
    return found


def _exception(row: MachineCalendarException) -> MachineException:
    hours = None
    if row.start_time is not None and row.end_time is not None:
        hours = Hours(time.fromisoformat(row.start_time), time.fromisoformat(row.end_time))
    return MachineException(row.first, row.last, "extra" if row.kind == "extra" else "out_of_service", hours, row.label)


def sites(*, db: Session) -> list[str]:
    """Every site that has a machine or a calendar, sorted."""
    found = set(db.scalars(select(Machine.site).distinct())) | set(db.scalars(select(SiteCalendar.site)))
    return sorted(found)


def save_settings(
    *, db: Session, who: str, now: datetime, site: str, zone: str, changes: Mapping[str, Any]
) -> SiteCalendar:
    """Store the site's calendar settings (creating its row from the defaults on the first save)."""
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidError("time_zone_unknown", zone=changes["timezone"]) from None
    if "week" in changes:
        week = list(changes["week"])
        for index, text in enumerate(week):
            try:
                week[index] = format_day(parse_day(text))
            except ValueError:
                raise InvalidError("opening_hours_invalid", day=index + 1, text=text) from None
        changes = {**changes, "week": week}
    mark(db=db, now=now, site=site)  # hours, holidays, zone or stop threshold: every day of the site
    row = db.scalars(select(SiteCalendar).where(SiteCalendar.site == site)).first()
    if row is None:
        row = default_row(site, zone)
        for key, value in changes.items():
            setattr(row, key, value)
        return audited_create(db=db, who=who, row=row, entity="site_calendar", now=now)
    audited_update(db=db, who=who, row=row, entity="site_calendar", changes=changes, now=now)
    return row


def _ordered(first: date, last: date) -> None:
    if last < first:
        raise InvalidError("dates_reversed", first=first.isoformat(), last=last.isoformat())


def add_closure(
    *, db: Session, who: str, now: datetime, site: str, first: date, last: date, label: str
) -> CalendarClosure:
    _ordered(first, last)
    row = CalendarClosure(site=site, first=first, last=last, label=label)
    mark(db=db, now=now, site=site, first=first, last=last)
    return audited_create(db=db, who=who, row=row, entity="calendar_closure", now=now)


def delete_closure(*, db: Session, who: str, now: datetime, closure_id: int) -> None:
    row = get_row(db=db, model=CalendarClosure, row_id=closure_id, label="calendar_closure")
    mark(db=db, now=now, site=row.site, first=row.first, last=row.last)
    audited_delete(db=db, who=who, row=row, entity="calendar_closure", now=now)


def add_exception(
    *,
    db: Session,
    who: str,
    now: datetime,
    machine_id: int,
    first: date,
    last: date,
    kind: str,
    start_time: time | None,
    end_time: time | None,
    label: str,
) -> MachineCalendarException:
    _ordered(first, last)
    if (start_time is None) != (end_time is None) or (kind == "extra" and start_time is None):
        raise InvalidError("exception_hours_needed")
    if start_time is not None and end_time is not None and not start_time < end_time:
        raise InvalidError("opening_hours_invalid", day=first.isoformat(), text=f"{start_time}-{end_time}")
    mark(db=db, now=now, machine_id=machine_id, first=first, last=last)
    row = MachineCalendarException(
        machine_id=machine_id,
        first=first,
        last=last,
        kind=kind,
        start_time=None if start_time is None else f"{start_time:%H:%M}",
        end_time=None if end_time is None else f"{end_time:%H:%M}",
        label=label,
    )
    return audited_create(db=db, who=who, row=row, entity="calendar_exception", now=now)


def delete_exception(*, db: Session, who: str, now: datetime, exception_id: int) -> None:
    row = get_row(db=db, model=MachineCalendarException, row_id=exception_id, label="calendar_exception")
    mark(db=db, now=now, machine_id=row.machine_id, first=row.first, last=row.last)
    audited_delete(db=db, who=who, row=row, entity="calendar_exception", now=now)


@dataclass(frozen=True, slots=True)
class CalendarView:
    """What the calendar page and API show of a site: its settings, closures and machines' exceptions."""

    row: SiteCalendar
    calendar: Calendar
    closures: list[CalendarClosure]
    exceptions: list[tuple[MachineCalendarException, str]]  # with the machine's bus name


def calendar_view(*, db: Session, site: str, zone: str) -> CalendarView:
    exceptions = exception_rows(db=db, site=site)
    names: dict[int, str] = dict(db.execute(select(Machine.id, Machine.name).where(Machine.site == site)).all())
    return CalendarView(
        row=settings_row(db=db, site=site, zone=zone),
        calendar=calendar_of(db=db, site=site, zone=zone),
        closures=closures(db=db, site=site),
        exceptions=[(e, names[e.machine_id]) for e in exceptions],
    )
