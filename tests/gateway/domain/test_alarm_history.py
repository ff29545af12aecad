"""The alarm history's figures: each alarm's duration (an open one until now), counts and totals per code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.domain.alarm_history import AlarmLine, summarise

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def alarm(machine: str, code: str, start_min: float, minutes: float | None, text: str = "x") -> AlarmLine:
    start = T0 + timedelta(minutes=start_min)
    cleared = None if minutes is None else start + timedelta(minutes=minutes)
    return AlarmLine(machine=machine, code=code, text=text, severity="fault", start=start, cleared=cleared)


def test_counts_totals_and_the_latest_text_per_machine_and_code() -> None:
    now = T0 + timedelta(hours=10)
    lines = [
        alarm("mill", "2041", 70, 15, "Lubrification basse"),
        alarm("mill", "3000", 120, 1, "Porte ouverte"),
        alarm("mill", "2041", 24 * 60 + 30, 2, "Lubrification très basse"),
        alarm("lathe", "700", 9 * 60, None, "Surcharge broche"),  # still raised: one hour until now
    ]
    found = {(s.machine, s.code): s for s in summarise(lines, now)}
    mill = found["mill", "2041"]
    assert (mill.count, mill.total_s, mill.ongoing) == (2, 17 * 60, False)
    assert mill.text == "Lubrification très basse"
    assert mill.last_start == T0 + timedelta(minutes=24 * 60 + 30)
    lathe = found["lathe", "700"]
    assert (lathe.count, lathe.total_s, lathe.ongoing) == (1, 3600, True)
    assert [(s.machine, s.code) for s in summarise(lines, now)] == [
        ("lathe", "700"),
        ("mill", "2041"),
        ("mill", "3000"),
    ]


def test_a_clock_that_cleared_before_it_raised_counts_no_time() -> None:
    line = alarm("mill", "1", 10, -1)
    assert line.duration_s(T0 + timedelta(hours=1)) == 0.0
    assert summarise([], T0) == []
