"""The Done-when figures of issue 14 on real SQLite and PostgreSQL with a frozen clock: projections through
planned hours, a closed week, a machine left running all night, a week with a change of clocks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.gateway.records.conftest import World, add_cycle, add_state, site_client

PARIS = ZoneInfo("Europe/Paris")
EIGHT_TO_FIVE = ["08:00-17:00"] * 5 + ["", ""]


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def travel(w: World, now: datetime) -> None:
    """Move the frozen clock and log the master in again (a page login lasts 12 h)."""
    w.clock.now = now
    login = {"username": "master", "password": "master-pass"}
    w.tokens["admin"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]


async def school(w: World, **changes: Any) -> None:
    body = {"week": EIGHT_TO_FIVE, "timezone": "Europe/Paris", "public_holidays": "none"} | changes
    await w.ok("PATCH", "/api/calendars/lyon", json=body)


async def week_report(w: World, day: str) -> dict[str, Any]:
    found = await w.ok("GET", "/api/reports/oee", params={"period": "week", "date": day, "machine": "mill"})
    report: dict[str, Any] = found[0]
    return report


async def test_ten_hours_left_on_friday_at_four_finish_on_monday_at_five(world: World) -> None:
    w = world
    await travel(w, paris(2026, 12, 4, 16))  # Friday 16:00
    await school(w)
    # Two parts in the last hour: 30 min a part; 22 ordered, 2 good, 20 left = 10 h of work.
    await w.ok("PATCH", f"/api/orders/{w.ids['order']}", json={"quantity": 22, "due": z(paris(2026, 12, 11, 17))})
    session = {"machine": "mill", "student_id": w.ids["student"], "order_id": w.ids["order"]}
    session |= {"started": z(paris(2026, 12, 4, 15)), "ended": z(paris(2026, 12, 4, 16))}
    await w.ok("POST", "/api/sessions", json=session)
    add_cycle(w.sessions, w.machines["mill"], paris(2026, 12, 4, 15), paris(2026, 12, 4, 15, 30))
    add_cycle(w.sessions, w.machines["mill"], paris(2026, 12, 4, 15, 30), paris(2026, 12, 4, 16))
    progress = await w.ok("GET", f"/api/orders/{w.ids['order']}/progress")
    assert (progress["remaining"], progress["seconds_per_part"]) == (20, 1800)
    assert progress["projected_finish"] == z(paris(2026, 12, 7, 17))  # Monday 17:00, not Saturday 02:00


async def test_a_closed_week_plans_nothing_and_has_no_oee(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await travel(w, paris(2027, 1, 5, 9))
    await school(w)
    closure = {"first": "2026-12-21", "last": "2027-01-01", "label": "Vacances de Noël"}
    await w.ok("POST", "/api/calendars/lyon/closures", json=closure)
    add_state(w.sessions, w.machines["mill"], paris(2026, 12, 22, 9), "AVAILABLE", "ACTIVE")  # someone ran it
    add_state(w.sessions, w.machines["mill"], paris(2026, 12, 22, 10), "AVAILABLE", "READY")
    closed = await week_report(w, "2026-12-23")
    assert (closed["planned_s"], closed["planned_busy_s"], closed["free_s"]) == (0, 0, 0)
    assert (closed["availability"], closed["oee"]) == (None, None)
    assert closed["unplanned_running_s"] == 3600
    async with site_client(databases[backend], w.clock) as client:  # the whole gateway, pages included
        page = await client.get("/utilisation?week=2026-W52", headers=w.as_("admin"))
    assert page.status_code == 200
    row = page.text.split('data-machine="mill"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num oee"><strong>—</strong>' in row
    assert 'id="no-planned"' in page.text


async def test_a_machine_running_all_night_stays_at_most_100_percent(world: World) -> None:
    w = world
    await travel(w, paris(2026, 12, 12, 12))  # the Saturday after
    await school(w)
    # Monday 8:00 it starts and runs without a break until Tuesday 17:00.
    add_state(w.sessions, w.machines["mill"], paris(2026, 12, 7, 8), "AVAILABLE", "ACTIVE")
    add_state(w.sessions, w.machines["mill"], paris(2026, 12, 8, 17), "AVAILABLE", "READY")
    week = await week_report(w, "2026-12-07")
    assert week["planned_s"] == 5 * 9 * 3600
    assert week["actual_production_s"] == 18 * 3600  # Monday and Tuesday, 8:00-17:00
    assert week["unplanned_running_s"] == 15 * 3600  # Monday 17:00 to Tuesday 8:00
    assert week["availability"] == pytest.approx(18 / 45)
    assert week["free_s"] == 27 * 3600


async def test_a_week_with_a_change_of_clocks_counts_its_real_hours(world: World) -> None:
    w = world
    await travel(w, paris(2026, 4, 6, 12))
    # Open on Sundays round the clock: Sunday 29 March 2026 (clocks forward at 2:00) has 23 hours, not 24.
    await school(w, week=["", "", "", "", "", "", "00:00-24:00"])
    add_state(w.sessions, w.machines["mill"], paris(2026, 3, 1), "AVAILABLE", "ACTIVE")
    dst = await week_report(w, "2026-03-25")
    ordinary = await week_report(w, "2026-03-18")
    assert ordinary["planned_s"] == pytest.approx(24 * 3600, abs=0.01)  # 24:00 is a microsecond short of midnight
    assert dst["planned_s"] == pytest.approx(23 * 3600, abs=0.01)
    assert dst["actual_production_s"] == pytest.approx(23 * 3600, abs=0.01)
    assert dst["availability"] == pytest.approx(1)
