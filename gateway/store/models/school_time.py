"""Tables of the school's time: each site's opening calendar, its closures, machine exceptions, stop reasons
and the stops people classified.

A stop itself is not stored: it is derived at read time from the state timeline
and the calendar, so late events and a corrected calendar change it with no
re-processing. Only what a person said about a stop is stored, keyed by the
machine and the stop's start (``stop_classifications``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base
from gateway.store.models.ingest import ID_LENGTH

LABEL = 200
SHORT = 64


class SiteCalendar(Base):
    __tablename__ = "site_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    timezone: Mapped[str] = mapped_column(String(SHORT))
    # Seven lists (Monday first) of [start, end] local times as "HH:MM".
    week: Mapped[list[Any]] = mapped_column(JSON)
    public_holidays: Mapped[str] = mapped_column(String(16))  # none, national, alsace-moselle
    school_zone: Mapped[str | None] = mapped_column(String(1))  # closed during that zone's school holidays
    stop_threshold_s: Mapped[int] = mapped_column(Integer)
    alarm_prefills_breakdown: Mapped[bool] = mapped_column(Boolean)


class CalendarClosure(Base):
    __tablename__ = "calendar_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    first: Mapped[date] = mapped_column(Date)
    last: Mapped[date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(LABEL))


class MachineCalendarException(Base):
    __tablename__ = "machine_calendar_exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)
    first: Mapped[date] = mapped_column(Date)
    last: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # out_of_service, extra
    start_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM"; none with end_time: the whole day
    end_time: Mapped[str | None] = mapped_column(String(5))
    label: Mapped[str] = mapped_column(String(LABEL), default="")


class StopReason(Base):
    __tablename__ = "stop_reasons"
    __table_args__ = (UniqueConstraint("site", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH))
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(LABEL))
    category: Mapped[str] = mapped_column(String(16))  # setup, organisation, technical, planned
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StopClassification(Base):
    __tablename__ = "stop_classifications"
    __table_args__ = (UniqueConstraint("machine_id", "started"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    started: Mapped[datetime]
    reason_id: Mapped[int] = mapped_column(ForeignKey("stop_reasons.id"), index=True)
    by: Mapped[str] = mapped_column(String(SHORT))
    at: Mapped[datetime]
