"""Request and response bodies of ``/api/calendars``: a site's opening calendar, closures, machine exceptions."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from gateway.web.schemas import InputModel, Name, PublicModel, Short, _Update

DayHours = Annotated[str, Field(max_length=120, description='local ranges, e.g. "08:00-12:00, 13:00-17:00"; "" closed')]
Label = Annotated[str, Field(max_length=200)]
PublicHolidaysChoice = Literal["none", "national", "alsace-moselle"]
Zone = Literal["A", "B", "C"]


class CalendarUpdate(_Update):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"school_zone"})

    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    week: Annotated[list[DayHours], Field(min_length=7, max_length=7, description="Monday first")] | None = None
    public_holidays: PublicHolidaysChoice | None = None
    school_zone: Zone | None = Field(default=None, description="closed during this zone's school holidays; null: open")
    stop_threshold_s: Annotated[int, Field(ge=60, le=4 * 3600)] | None = None
    alarm_prefills_breakdown: bool | None = None


class ClosurePublic(PublicModel):
    id: int
    first: date
    last: date
    label: str


class ClosureCreate(InputModel):
    first: date
    last: date
    label: Name


class ExceptionPublic(PublicModel):
    id: int
    machine: str
    first: date
    last: date
    kind: Literal["out_of_service", "extra"]
    start_time: str | None
    end_time: str | None
    label: str


class ExceptionCreate(InputModel):
    machine: Short
    first: date
    last: date
    kind: Literal["out_of_service", "extra"]
    start_time: time | None = Field(default=None, description="with end_time: only these hours; none: the whole day")
    end_time: time | None = None
    label: Label = ""


class CalendarPublic(PublicModel):
    site: str
    timezone: str
    week: list[str] = Field(description="Monday first: each day's local opening ranges")
    public_holidays: PublicHolidaysChoice
    school_zone: Zone | None
    stop_threshold_s: int
    alarm_prefills_breakdown: bool
    closures: list[ClosurePublic]
    exceptions: list[ExceptionPublic]
    planned_week_s: float = Field(description="planned time of the current week (ISO week, site time zone)")
