"""Order progress, practice log, utilisation and OEE through the API, on hand-computed examples; CSV exports."""

from __future__ import annotations

import csv
import io

import pytest

from gateway.store.models import AlarmRecord
from tests.gateway.records.conftest import World, add_cycle, add_state, at


async def _lea_makes_ten_parts(w: World) -> None:
    """Léa on the mill from 8:00 to 9:00: ten 5-minute cycles (standard 300 s), two parts scrapped."""
    w.clock.now = at(0)
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"]})
    for k in range(10):
        add_cycle(w.sessions, w.machines["mill"], at(6 * k), at(6 * k + 5))
    w.clock.now = at(59)
    scrap = {"order_id": w.ids["order"], "quantity": 2, "reason": "bore oversize", "inspected_by": "M. Roux"}
    await w.ok("POST", "/api/scrap", "kiosk", json=scrap)
    w.clock.now = at(60)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    # The machine: on at 7:00, cutting 8:00-9:00, idle until 10:00, then switched off.
    add_state(w.sessions, w.machines["mill"], at(-60), "AVAILABLE", "READY")
    add_state(w.sessions, w.machines["mill"], at(0), "AVAILABLE", "ACTIVE")
    add_state(w.sessions, w.machines["mill"], at(60), "AVAILABLE", "READY")
    add_state(w.sessions, w.machines["mill"], at(120), "UNAVAILABLE", None)


async def test_order_progress_on_a_hand_computed_example(world: World) -> None:
    w = world
    w.clock.now = at(0)
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"]})
    for start in (1, 10, 20):
        add_cycle(w.sessions, w.machines["mill"], at(start), at(start + 5))
    scrap = {"order_id": w.ids["order"], "quantity": 1, "reason": "burr", "inspected_by": "M. Roux"}
    await w.ok("POST", "/api/scrap", json=scrap)
    w.clock.now = at(30)
    progress = await w.ok("GET", f"/api/orders/{w.ids['order']}/progress")
    # made 3, scrap 1: good 2 of 10, 8 to go; pace = (8:25 - 8:01) / 3 parts = 480 s; 8 x 480 s from 8:30 = 9:34.
    assert (progress["made"], progress["scrap"], progress["good"], progress["remaining"]) == (3, 1, 2, 8)
    assert progress["seconds_per_part"] == pytest.approx(480)
    assert progress["projected_finish"] == at(94).isoformat().replace("+00:00", "Z")
    assert progress["late"] is False
    await w.ok("PATCH", f"/api/orders/{w.ids['order']}", json={"due": at(90).isoformat()})
    assert (await w.ok("GET", f"/api/orders/{w.ids['order']}/progress"))["late"] is True


async def test_oee_per_day_and_week_on_a_hand_computed_example(world: World) -> None:
    w = world
    await _lea_makes_ten_parts(w)
    w.clock.now = at(11 * 60)  # page logins last 12 h
    day = await w.ok("GET", "/api/reports/oee", params={"period": "day", "date": "2026-11-23", "machine": "mill"})
    assert len(day) == 1
    mill = day[0]
    # Counted up to now, 19:00; off 0:00-7:00 and 10:00-19:00 (16 h); on 3 h, of which 1 h cutting.
    assert (mill["window_s"], mill["offline_s"], mill["running_s"], mill["idle_s"]) == (68400, 57600, 3600, 7200)
    # Planned (the default school day, 8:00-12:00 and 13:00-17:00): 8 h, of which 1 h cutting.
    assert (mill["planned_s"], mill["actual_production_s"], mill["unplanned_running_s"]) == (8 * 3600, 3600, 0)
    assert mill["free_s"] == 7 * 3600
    assert mill["availability"] == pytest.approx(1 / 8)
    assert mill["performance"] == pytest.approx(10 * 300 / 3600)  # ten parts at a 300 s standard in 3600 s
    assert mill["quality"] == pytest.approx(8 / 10)
    assert mill["oee"] == pytest.approx(1 / 8 * 5 / 6 * 0.8)
    assert (mill["made"], mill["scrap"], mill["cycles"], mill["period"]) == (10, 2, 10, "2026-11-23")
    week = await w.ok("GET", "/api/reports/oee", params={"period": "week", "date": "2026-11-26", "machine": "mill"})
    assert week[0]["period"] == "2026-W48"
    assert week[0]["window_s"] == 68400  # Monday 0:00 to now: the rest of the week has not happened
    assert week[0]["oee"] == pytest.approx(mill["oee"])
    lathe = await w.ok("GET", "/api/reports/oee", params={"date": "2026-11-23", "machine": "lathe"})
    assert lathe[0]["availability"] == 0  # never switched on in 8 planned hours


async def test_a_fault_alarm_counts_as_alarm_time_not_running(world: World) -> None:
    w = world
    add_state(w.sessions, w.machines["lathe"], at(0), "AVAILABLE", "ACTIVE")
    add_state(w.sessions, w.machines["lathe"], at(60), "UNAVAILABLE", None)
    with w.sessions.begin() as session:
        session.add(
            AlarmRecord(
                machine_id=w.machines["lathe"],
                ts=at(10),
                code="1000",
                message="coolant",
                severity="fault",
                cleared=at(25),
            )
        )
        session.add(
            AlarmRecord(
                machine_id=w.machines["lathe"], ts=at(30), code="2", message="oil low", severity="warning", cleared=None
            )
        )
    w.clock.now = at(120)
    report = (await w.ok("GET", "/api/reports/oee", params={"date": "2026-11-23", "machine": "lathe"}))[0]
    assert (report["running_s"], report["alarm_s"]) == (45 * 60, 15 * 60)


async def test_practice_log_of_a_student(world: World) -> None:
    w = world
    await _lea_makes_ten_parts(w)
    log = await w.ok("GET", f"/api/students/{w.ids['student']}/practice-log", "student")
    assert log["display_name"] == "Léa M."  # as the pages, the kiosk and the messages name her
    await w.ok("PATCH", f"/api/students/{w.ids['student']}", json={"last_initial": "M."})
    again = await w.ok("GET", f"/api/students/{w.ids['student']}/practice-log", "student")
    assert again["display_name"] == "Léa M."  # an initial stored with its period gets one, not two
    assert (log["session_s"], log["cycle_s"], log["cycles"], log["parts_made"]) == (3600, 3000, 10, 10)
    assert (log["scrap"], log["good"], log["mean_cycle_s"], log["best_cycle_s"]) == (2, 8, 300, 300)
    assert log["mean_vs_standard"] == pytest.approx(1.0)
    assert log["trend_word"] == "steady"
    assert log["machines"] == [
        {"machine": "lyon/mill", "sessions": 1, "session_s": 3600, "cycle_s": 3000, "cycles": 10, "parts": 10}
    ]


async def test_csv_exports(world: World) -> None:
    w = world
    await _lea_makes_ten_parts(w)
    orders = list(
        csv.DictReader(io.StringIO((await w.ok("GET", "/api/reports/orders.csv", params={"format": "raw"})).text))
    )
    assert [(o["reference"], o["made"], o["scrap"], o["good"], o["remaining"]) for o in orders] == [
        ("PO-1", "10", "2", "8", "2")
    ]
    logs = list(
        csv.DictReader(
            io.StringIO((await w.ok("GET", "/api/reports/practice-logs.csv", params={"format": "raw"})).text)
        )
    )
    assert [(r["name"], r["cycles"], r["parts_made"], r["session_h"]) for r in logs] == [("Léa M.", "10", "10", "1.0")]
    mine = await w.ok("GET", f"/api/students/{w.ids['student']}/practice-log.csv", "student", params={"format": "raw"})
    assert mine.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(mine.text)))
    assert [(r["machine"], r["cycles"], r["parts"]) for r in rows] == [("lyon/mill", "10", "10")]
