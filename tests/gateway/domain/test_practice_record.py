"""The diploma record's period and its order lines against the standard: pure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.domain.practice_record import (
    Period,
    PeriodError,
    SessionFacts,
    Step,
    order_lines,
    parse_day,
    period_of,
    school_year_start,
)

TODAY = date(2026, 12, 4)


def test_a_period_of_two_days_included_in_the_schools_zone() -> None:
    period = period_of(date(2026, 9, 1), date(2026, 12, 4), today=TODAY)
    assert period.start("Europe/Paris") == datetime(2026, 8, 31, 22, tzinfo=UTC)  # summer time
    assert period.end("Europe/Paris") == datetime(2026, 12, 4, 23, tzinfo=UTC)  # midnight after the 4th, winter
    assert period.covers(datetime(2026, 12, 4, 22, 59, tzinfo=UTC), "Europe/Paris")
    assert not period.covers(datetime(2026, 12, 4, 23, tzinfo=UTC), "Europe/Paris")
    assert period.chosen


@pytest.mark.parametrize(
    ("first", "last", "earliest", "expected"),
    [
        (None, None, date(2025, 9, 8), Period(date(2025, 9, 8), TODAY, chosen=False)),  # the whole log
        (None, None, None, Period(date(2026, 9, 1), TODAY, chosen=False)),  # nothing yet: this school year
        (date(2026, 10, 1), None, date(2025, 9, 8), Period(date(2026, 10, 1), TODAY)),
        (None, date(2026, 6, 30), date(2025, 9, 8), Period(date(2025, 9, 8), date(2026, 6, 30))),
        # Only an end before the first session: from that end to itself, an empty record rather than a refusal.
        (None, date(2025, 1, 31), date(2025, 9, 8), Period(date(2025, 1, 31), date(2025, 1, 31))),
        (date(2027, 1, 4), None, None, Period(date(2027, 1, 4), date(2027, 1, 4))),  # a future start
        (date(2026, 12, 4), date(2026, 12, 4), None, Period(TODAY, TODAY)),  # one day
    ],
)
def test_defaults(first: date | None, last: date | None, earliest: date | None, expected: Period) -> None:
    assert period_of(first, last, today=TODAY, earliest=earliest) == expected


@pytest.mark.parametrize(
    ("first", "last", "code"),
    [
        (date(2026, 12, 5), date(2026, 12, 4), "period_order"),
        (date(1999, 12, 31), None, "period_range"),
        (None, date(2101, 1, 1), "period_range"),
        (date(1, 1, 1), date(9999, 12, 31), "period_range"),
    ],
)
def test_refused_periods(first: date | None, last: date | None, code: str) -> None:
    with pytest.raises(PeriodError) as refused:
        period_of(first, last, today=TODAY)
    assert refused.value.code == code


@pytest.mark.parametrize(
    "typed", ["2026-13-01", "2026-02-30", "01/09/2026", "2026-9-1", "x" * 100_000, "2026-09-01\x00"]
)
def test_unreadable_dates(typed: str) -> None:
    with pytest.raises(PeriodError) as refused:
        parse_day(typed)
    assert refused.value.code == "period_date"


def test_readable_dates() -> None:
    assert parse_day(" 2026-09-01 ") == date(2026, 9, 1)
    assert parse_day("") is None
    assert parse_day(None) is None


@pytest.mark.parametrize(
    ("day", "start"),
    [(date(2026, 9, 1), date(2026, 9, 1)), (date(2026, 8, 31), date(2025, 9, 1)), (date(2027, 1, 5), date(2026, 9, 1))],
)
def test_school_year_start(day: date, start: date) -> None:
    assert school_year_start(day) == start


def test_order_lines_sum_sessions_and_compare_the_mean_cycle_to_the_standard() -> None:
    sessions = [
        SessionFacts(order_id=7, session_s=3600, setup_s=600, cycles=4, completed_s=1200, parts=4),
        SessionFacts(order_id=7, session_s=1800, setup_s=0, cycles=2, completed_s=720, parts=2),
        SessionFacts(order_id=None, session_s=900, setup_s=300, cycles=1, completed_s=100, parts=1),  # practice
        SessionFacts(order_id=3, session_s=600, setup_s=600, cycles=0, completed_s=0, parts=0),  # setup only
    ]
    lines = order_lines(
        sessions, references={7: "PO-7", 3: "PO-3"}, standards={7: 300.0, 3: None}, customers={7: "Acme"}
    )
    assert [line.reference for line in lines] == ["PO-3", "PO-7"]
    setup_only, po7 = lines
    assert (po7.sessions, po7.session_s, po7.setup_s, po7.cycles, po7.parts) == (2, 5400, 600, 6, 6)
    assert po7.mean_cycle_s == 320
    assert po7.vs_standard == pytest.approx(320 / 300)
    assert po7.customer == "Acme"
    assert po7.operation is None  # sessions recorded without an operation
    assert (setup_only.mean_cycle_s, setup_only.vs_standard, setup_only.customer) == (None, None, None)


def test_order_lines_hide_every_customer() -> None:
    sessions = [SessionFacts(order_id=7, session_s=60, setup_s=0, cycles=1, completed_s=60, parts=1)]
    (line,) = order_lines(sessions, references={7: "PO-7"}, standards={7: 0.0}, customers=None)
    assert line.customer is None
    assert line.vs_standard is None  # a standard of 0 is no standard


def test_order_lines_per_operation_against_the_operations_standards() -> None:
    """Operation 10 turned, operation 20 milled: a line each, each against its own standard times."""
    sessions = [
        SessionFacts(order_id=7, operation_id=71, session_s=3600, setup_s=900, cycles=2, completed_s=500, parts=2),
        SessionFacts(order_id=7, operation_id=72, session_s=1800, setup_s=300, cycles=3, completed_s=360, parts=3),
        SessionFacts(order_id=7, operation_id=72, session_s=600, setup_s=0, cycles=1, completed_s=120, parts=1),
    ]
    steps = {71: Step(10, 240.0, 600.0), 72: Step(20, None, 300.0)}
    lines = order_lines(sessions, references={7: "PO-7"}, standards={7: 100.0}, customers=None, steps=steps)
    assert [(line.operation, line.sessions, line.parts) for line in lines] == [("10", 1, 2), ("20", 2, 4)]
    turned, milled = lines
    assert (turned.standard_cycle_s, turned.standard_setup_s, turned.vs_standard) == (240.0, 600.0, 250 / 240)
    assert (milled.standard_cycle_s, milled.standard_setup_s) == (100.0, 300.0)  # no cycle standard: the order's
    assert milled.mean_cycle_s == 120
