"""The opening calendar: planned time in the site's zone, holidays, closures, machine exceptions, projections."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.calendar import (
    Calendar,
    Closure,
    Hours,
    MachineException,
    advance,
    closed_because,
    day_hours,
    format_day,
    parse_day,
    planned,
    planned_seconds,
)

PARIS = ZoneInfo("Europe/Paris")
NINE_TO_FIVE = (Hours(time(8), time(17)),)
WEEKDAYS = Calendar(week=(NINE_TO_FIVE,) * 5 + ((), ()), public="none")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def week_hours(calendar: Calendar, monday: date, exceptions: tuple[MachineException, ...] = ()) -> float:
    start = datetime.combine(monday, time(), tzinfo=PARIS)
    return planned_seconds(planned(calendar, start, start + timedelta(days=7), exceptions)) / 3600


def test_the_default_school_week_is_40_hours() -> None:
    assert week_hours(Calendar(public="none"), date(2026, 11, 30)) == 40


def test_ten_hours_left_on_friday_at_four_finish_on_monday_at_five() -> None:
    friday_16 = local(2026, 12, 4, 16)
    assert advance(WEEKDAYS, friday_16, 10 * 3600) == local(2026, 12, 7, 17)


def test_a_projection_from_a_closed_night_starts_at_the_next_opening() -> None:
    assert advance(WEEKDAYS, local(2026, 12, 7, 22), 3600) == local(2026, 12, 8, 9)


def test_a_calendar_never_open_projects_nothing() -> None:
    never = Calendar(week=((),) * 7, public="none")
    assert advance(never, local(2026, 12, 4, 16), 60) is None


def test_the_last_sunday_of_march_is_an_hour_shorter() -> None:
    # Open every day 00:00–23:59: the Sunday the clocks go forward has 22 h 59 of opening, not 23 h 59.
    always = Calendar(week=((Hours(time(0), time(23, 59)),),) * 7, public="none")
    ordinary = week_hours(always, date(2026, 3, 16))
    dst = week_hours(always, date(2026, 3, 23))  # Sunday 29 March 2026: 02:00 → 03:00
    autumn = week_hours(always, date(2026, 10, 19))  # Sunday 25 October 2026: 03:00 → 02:00
    assert ordinary - dst == pytest.approx(1)
    assert autumn - ordinary == pytest.approx(1)


def test_public_holidays_close_the_day_and_alsace_moselle_has_two_more() -> None:
    national = Calendar(public="national")
    alsace = Calendar(public="alsace-moselle")
    assert closed_because(national, date(2026, 5, 1)) == "Fête du Travail"
    assert closed_because(national, date(2026, 4, 3)) is None  # Good Friday
    assert closed_because(alsace, date(2026, 4, 3)) is not None
    assert closed_because(alsace, date(2026, 12, 26)) is not None
    assert closed_because(Calendar(public="none"), date(2026, 5, 1)) is None
    # The week of 1 May 2026 (a Friday) loses 8 hours of the default week.
    assert week_hours(national, date(2026, 4, 27)) == 32


def test_school_holidays_close_only_when_the_school_chooses_its_zone() -> None:
    winter_a = date(2026, 2, 10)  # zone A (Besançon) winter holidays, 7–23 February 2026
    assert closed_because(Calendar(public="none", school_zone="A"), winter_a) is not None
    assert closed_because(Calendar(public="none"), winter_a) is None
    assert week_hours(Calendar(public="none", school_zone="A"), date(2026, 2, 9)) == 0


def test_a_closure_week_plans_nothing() -> None:
    closed = Calendar(public="none", closures=(Closure(date(2026, 12, 21), date(2027, 1, 1), "Noël"),))
    assert week_hours(closed, date(2026, 12, 21)) == 0
    assert closed_because(closed, date(2026, 12, 24)) == "Noël"
    assert week_hours(closed, date(2027, 1, 4)) == 40


def test_machine_exceptions_remove_and_add_hours() -> None:
    monday = date(2026, 11, 30)
    broken = MachineException(monday, monday + timedelta(days=1), "out_of_service", None, "broche")
    morning_off = MachineException(monday, monday, "out_of_service", Hours(time(8), time(10)))
    saturday = MachineException(date(2026, 12, 5), date(2026, 12, 5), "extra", Hours(time(9), time(12)))
    assert week_hours(Calendar(public="none"), monday, (broken,)) == 24
    assert week_hours(Calendar(public="none"), monday, (morning_off,)) == 38
    assert week_hours(Calendar(public="none"), monday, (saturday,)) == 43
    assert day_hours(Calendar(public="none"), monday, (morning_off,)) == [(time(10), time(12)), (time(13), time(17))]


def test_planned_time_is_clipped_to_the_window() -> None:
    found = planned(WEEKDAYS, local(2026, 12, 4, 16, 30), local(2026, 12, 7, 9))
    assert [(i.start, i.end) for i in found] == [
        (local(2026, 12, 4, 16, 30).astimezone(UTC), local(2026, 12, 4, 17).astimezone(UTC)),
        (local(2026, 12, 7, 8).astimezone(UTC), local(2026, 12, 7, 9).astimezone(UTC)),
    ]


def test_an_opening_range_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends after"):
        Hours(time(12), time(8))


@given(
    start=st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 1)),
    work_h=st.floats(0, 200, allow_nan=False),
)
def test_advance_consumes_exactly_the_planned_time(start: datetime, work_h: float) -> None:
    begin = start.replace(tzinfo=PARIS)
    finish = advance(WEEKDAYS, begin, work_h * 3600)
    assert finish is not None
    assert finish >= begin
    assert planned_seconds(planned(WEEKDAYS, begin, finish)) == pytest.approx(work_h * 3600, abs=1e-3)


def test_day_hours_are_read_the_way_masters_type_them() -> None:
    assert parse_day("8h-12h, 13h30-17h") == (Hours(time(8), time(12)), Hours(time(13, 30), time(17)))
    assert parse_day("") == ()
    assert format_day(parse_day("00:00-24:00")) == "00:00-24:00"
    always = Calendar(week=(parse_day("00:00-24:00"),) * 7, public="none")
    assert week_hours(always, date(2026, 11, 30)) == pytest.approx(168)
    for bad in ("8-", "25:00-26:00", "12:00-08:00", "08:00-12:00, 11:00-13:00", "8:5-9", "matin"):
        with pytest.raises(ValueError):
            parse_day(bad)
