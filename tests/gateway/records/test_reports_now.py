"""Reports stop at now: the current period is counted up to now, a past one up to its end, a future one not at all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gateway.config import RecordsSection
from tests.gateway.records.conftest import World, add_cycle, add_state, at, site_client


async def _day(w: World, date: str, period: str = "day") -> dict[str, Any]:
    found = await w.ok("GET", "/api/reports/oee", params={"period": period, "date": date, "machine": "mill"})
    assert len(found) == 1
    report: dict[str, Any] = found[0]
    return report


async def test_the_current_day_is_counted_up_to_now(world: World) -> None:
    w = world
    add_state(w.sessions, w.machines["mill"], at(-60), "AVAILABLE", "READY")  # on at 7:00
    add_state(w.sessions, w.machines["mill"], at(0), "AVAILABLE", "ACTIVE")  # cutting since 8:00, still at it
    w.clock.now = at(50)  # Monday 8:50
    mill = await _day(w, "2026-11-23")
    # 0:00-7:00 off, 7:00-8:00 idle, 8:00-8:50 running; nothing after 8:50 has happened yet.
    assert (mill["window_s"], mill["offline_s"], mill["idle_s"], mill["running_s"]) == (31800, 25200, 3600, 3000)
    # Planned so far: 8:00-8:50 (the school day opens at 8:00), all of it cutting.
    assert (mill["planned_s"], mill["actual_production_s"], mill["free_s"]) == (3000, 3000, 0)
    assert mill["availability"] == pytest.approx(1)
    assert (mill["status"], mill["until"]) == ("current", at(50).isoformat().replace("+00:00", "Z"))
    # Ten seconds later the figures grow by ten seconds of running, they do not flip.
    w.clock.now = at(50) + timedelta(seconds=10)
    again = await _day(w, "2026-11-23")
    assert (again["running_s"], again["idle_s"]) == (3010, 3600)


async def test_the_current_week_stops_at_now_and_the_next_week_is_empty(world: World) -> None:
    w = world
    add_state(w.sessions, w.machines["mill"], at(0), "AVAILABLE", "ACTIVE")
    add_cycle(w.sessions, w.machines["mill"], at(1), at(6))
    w.clock.now = at(50)
    week = await _day(w, "2026-11-25", "week")
    assert (week["window_s"], week["running_s"], week["status"]) == (8 * 3600 + 50 * 60, 50 * 60, "current")
    assert week["made"] == 1
    following = await _day(w, "2026-12-02", "week")
    assert following["status"] == "future"
    assert (following["window_s"], following["running_s"], following["free_s"], following["made"]) == (0, 0, 0, 0)
    assert following["availability"] is None
    assert following["until"] == following["start"]


async def test_a_past_day_stops_at_its_end(world: World) -> None:
    w = world
    add_state(w.sessions, w.machines["mill"], at(-24 * 60), "AVAILABLE", "ACTIVE")  # Sunday 8:00, never stopped
    sunday = await _day(w, "2026-11-22")
    assert (sunday["window_s"], sunday["running_s"], sunday["offline_s"], sunday["status"]) == (
        86400,
        57600,
        28800,
        "past",
    )


async def test_the_utilisation_page_counts_up_to_now_and_says_a_future_week_is_empty(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    add_state(w.sessions, w.machines["mill"], at(0), "AVAILABLE", "ACTIVE")
    w.clock.now = at(50)
    async with site_client(databases[backend], w.clock, RecordsSection(timezone="UTC")) as client:
        current = await client.get("/utilisation", params={"week": "2026-W48"}, headers=w.as_("admin"))
        future = await client.get("/utilisation", params={"week": "2026-W49"}, headers=w.as_("admin"))
    assert current.status_code == future.status_code == 200
    row = current.text.split('data-machine="mill"')[1]
    assert '<td class="num running">0:50</td>' in row  # 50 minutes, not 160 hours
    assert "23/11 08:50" in current.text
    assert "pas commencé" in future.text
    assert '<td class="num running">0:00</td>' in future.text.split('data-machine="mill"')[1]
