"""Sessions left open are ended by the calendar: at the day's closing hour, or at midnight when it has none."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.calendar import Calendar, Closure, Hours, MachineException
from gateway.domain.closing_time import closing_end, due_end

PARIS = ZoneInfo("Europe/Paris")
SCHOOL = Calendar(public="national")  # 08:00–12:00 and 13:00–17:00, Monday to Friday
EVERY_DAY = Calendar(week=((Hours(time(8), time(17)),),) * 7, public="none")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


@pytest.mark.parametrize(
    ("started", "expected", "why"),
    [
        (local(2026, 12, 4, 9), local(2026, 12, 4, 17), "in the morning range: the day's closing, not 12:00"),
        (local(2026, 12, 4, 12, 30), local(2026, 12, 4, 17), "in the lunch break"),
        (local(2026, 12, 4, 7, 40), local(2026, 12, 4, 17), "before opening"),
        (local(2026, 12, 4, 16, 59), local(2026, 12, 4, 17), "a minute before closing"),
        (local(2026, 12, 4, 17), local(2026, 12, 5), "at closing: the day has no closing left, midnight"),
        (local(2026, 12, 4, 19), local(2026, 12, 5), "an evening without extra hours"),
        (local(2026, 12, 5, 10), local(2026, 12, 6), "a Saturday: closed, midnight"),
        (local(2026, 12, 25, 10), local(2026, 12, 26), "Christmas, a public holiday"),
    ],
)
def test_the_end_the_calendar_gives(started: datetime, expected: datetime, why: str) -> None:
    assert due_end(SCHOOL, started) == expected, why


def test_nothing_is_ended_before_its_end_has_passed() -> None:
    started = local(2026, 12, 4, 9)
    assert closing_end(SCHOOL, started, local(2026, 12, 4, 16, 59)) is None
    assert closing_end(SCHOOL, started, local(2026, 12, 4, 17)) == local(2026, 12, 4, 17)
    # Days later (a gateway that was down): still that day's closing hour, never "now".
    assert closing_end(SCHOOL, started, local(2026, 12, 9, 10)) == local(2026, 12, 4, 17)


def test_a_closure_day_has_no_closing_hour() -> None:
    closed = Calendar(closures=(Closure(date(2026, 12, 3), date(2026, 12, 4), "pont"),), public="none")
    assert due_end(closed, local(2026, 12, 4, 9)) == local(2026, 12, 5)
    assert due_end(closed, local(2026, 12, 2, 9)) == local(2026, 12, 2, 17)


def test_a_machines_extra_evening_closes_at_its_end() -> None:
    evening = MachineException(date(2026, 12, 4), date(2026, 12, 4), "extra", Hours(time(18), time(21)))
    assert due_end(SCHOOL, local(2026, 12, 4, 18, 30), [evening]) == local(2026, 12, 4, 21)
    # The whole day closes with the extra evening: a morning session left open runs to 21:00 as well.
    assert due_end(SCHOOL, local(2026, 12, 4, 9), [evening]) == local(2026, 12, 4, 21)
    # An extra Saturday morning.
    saturday = MachineException(date(2026, 12, 5), date(2026, 12, 5), "extra", Hours(time(8), time(12)))
    assert due_end(SCHOOL, local(2026, 12, 5, 8, 5), [saturday]) == local(2026, 12, 5, 12)


def test_a_machine_out_of_service_for_the_afternoon_closes_at_noon() -> None:
    afternoon = MachineException(date(2026, 12, 4), date(2026, 12, 4), "out_of_service", Hours(time(12), time(17)))
    assert due_end(SCHOOL, local(2026, 12, 4, 9), [afternoon]) == local(2026, 12, 4, 12)
    whole = MachineException(date(2026, 12, 4), date(2026, 12, 4), "out_of_service")
    assert due_end(SCHOOL, local(2026, 12, 4, 9), [whole]) == local(2026, 12, 5)


def test_closing_hour_across_the_changes_of_clocks() -> None:
    # 29 March 2026, clocks go forward: 17:00 local is 15:00 UTC, not 16:00 as the day before.
    assert due_end(EVERY_DAY, local(2026, 3, 28, 9)) == datetime(2026, 3, 28, 16, tzinfo=UTC)
    assert due_end(EVERY_DAY, local(2026, 3, 29, 9)) == datetime(2026, 3, 29, 15, tzinfo=UTC)
    # 25 October 2026, clocks go back: midnight after an evening session is 23:00 UTC (the day had 25 h).
    assert due_end(EVERY_DAY, local(2026, 10, 25, 20)) == datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert due_end(EVERY_DAY, local(2026, 10, 24, 20)) == datetime(2026, 10, 24, 22, tzinfo=UTC)


def test_open_until_midnight_ends_at_midnight() -> None:
    late = Calendar(week=((Hours(time(8), time.max),),) * 7, public="none")
    assert due_end(late, local(2026, 12, 4, 22)) == datetime(2026, 12, 4, 22, 59, 59, 999999, tzinfo=UTC)


@given(
    minutes=st.integers(min_value=0, max_value=366 * 24 * 60),
    zone=st.sampled_from(["Europe/Paris", "America/Cayenne", "Indian/Reunion", "Pacific/Noumea"]),
)
def test_a_session_is_ended_after_its_start_and_never_on_a_later_local_day(minutes: int, zone: str) -> None:
    calendar = Calendar(zone=zone, public="national")
    started = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    end = due_end(calendar, started)
    assert end > started
    day = started.astimezone(ZoneInfo(zone)).date()
    assert end <= datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(zone))
