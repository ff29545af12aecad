"""Summaries the read side keeps (``store.summaries_repo``): each machine's figures per local day, the marks
that say which days a change of records made stale, and how far the raw tables have been accounted for."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base, Int64, UtcDateTime
from gateway.store.models.ingest import ID_LENGTH


class FigureColumns:
    """The sums a machine's day and month rows both hold (``domain.day_figures.Figures``, less its stops)."""

    window_s: Mapped[float] = mapped_column(Float)
    running_s: Mapped[float] = mapped_column(Float)
    held_s: Mapped[float] = mapped_column(Float)
    alarm_s: Mapped[float] = mapped_column(Float)
    idle_s: Mapped[float] = mapped_column(Float)
    offline_s: Mapped[float] = mapped_column(Float)
    calendar_s: Mapped[float] = mapped_column(Float)
    planned_running_s: Mapped[float] = mapped_column(Float)
    unplanned_running_s: Mapped[float] = mapped_column(Float)
    planned_held_s: Mapped[float] = mapped_column(Float)
    planned_alarm_s: Mapped[float] = mapped_column(Float)
    planned_idle_s: Mapped[float] = mapped_column(Float)
    planned_offline_s: Mapped[float] = mapped_column(Float)
    cycles: Mapped[int] = mapped_column(Int64)
    made: Mapped[int] = mapped_column(Int64)


class MachineDay(FigureColumns, Base):
    """A machine's figures over one local day (``domain.day_figures.Figures``), computed from raw rows."""

    __tablename__ = "machine_days"

    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stops: Mapped[list[Any]] = mapped_column(JSON)  # [start, end, alarm, ongoing] per stop
    paced: Mapped[list[Any]] = mapped_column(JSON)  # [work session, cycles, parts] ended in planned time
    # The raw rows of the day were purged (retention): the summary is all that is left, never recomputed.
    final: Mapped[bool] = mapped_column(Boolean, default=False)


class MachineMonth(FigureColumns, Base):
    """A machine's figures over one local month: the sum of its day rows (``domain.month_figures``), stale
    with any of its days (``summaries_repo``), deleted then rather than kept ``final``: its day rows stay."""

    __tablename__ = "machine_months"

    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    stops: Mapped[list[Any]] = mapped_column(JSON)  # joined across its days; short ones only at its edges
    paced: Mapped[list[Any]] = mapped_column(JSON)  # [work session, cycles, parts] summed over its days


class SessionCycles(Base):
    """What attribution gives a finished work session: its cycles and its parts counted, for its practice log.
    Stale with the days of its machine it spans, a day either side (``summaries_repo``)."""

    __tablename__ = "session_cycles"

    session_id: Mapped[int] = mapped_column(ForeignKey("work_sessions.id", ondelete="CASCADE"), primary_key=True)
    machine_id: Mapped[int] = mapped_column(Integer)
    first: Mapped[date] = mapped_column(Date)  # UTC dates: the session's, a day either side
    last: Mapped[date] = mapped_column(Date)
    parts: Mapped[int] = mapped_column(Int64)
    # The stops that began in it, computed over whole days of its machine ([start, end, alarm, ongoing]);
    # None: not stored (its days were not over, or stored before 0020).
    stops: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    # Its order's first good cycle on its machine, when it started before the session ended (else None:
    # the same setup time); valid while the order's first session there started at ``order_since``.
    first_good: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    order_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Its totals (``domain.session_totals.SessionTotals``, field by field), what its practice log line needs
    # without decoding ``cycles``; None in a row stored before 0021 (completed from ``cycles`` when read).
    cycle_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed: Mapped[int | None] = mapped_column(Int64, nullable=True)
    completed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    indexed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    paces: Mapped[int | None] = mapped_column(Int64, nullable=True)
    pace_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    indexed_pace_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_id: Mapped[int | None] = mapped_column(Int64, nullable=True)
    first_started: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    first_ended: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    first_parts: Mapped[int | None] = mapped_column(Int64, nullable=True)
    last_id: Mapped[int | None] = mapped_column(Int64, nullable=True)
    last_ended: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    earliest_started: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Last (0023): a row's columns are read in order, and these JSON lists of every cycle overflow their page.
    cycles: Mapped[list[Any]] = mapped_column(JSON)  # [id, started, ended, duration_s, parts, outcome, held_s, program]


class SummaryMark(Base):
    """A change of records that makes days stale: of one machine, or of every machine of a site, over
    [first, last] (``last`` None: onward; ``first`` None: from the beginning)."""

    __tablename__ = "summary_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    machine_id: Mapped[int | None] = mapped_column(Integer)
    first: Mapped[date | None] = mapped_column(Date)
    last: Mapped[date | None] = mapped_column(Date)
    at: Mapped[datetime]


class SummaryWatermark(Base):
    """Per source (a raw table, or ``summary_marks``): its rows with id above ``low`` may not be accounted for
    in the summaries yet. ``high`` and ``moved`` pace ``low`` on PostgreSQL (see ``summaries_repo``)."""

    __tablename__ = "summary_watermarks"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    low: Mapped[int] = mapped_column(Int64)
    high: Mapped[int] = mapped_column(Int64)
    moved: Mapped[datetime]
