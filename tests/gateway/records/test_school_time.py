"""The school's time zone is the default (Europe/Paris), for the pages, the live "today" and the demo."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from atelier.broker import Broker
from atelier.demo import gateway_config
from edge_agent import contract as c
from gateway.config import GatewaySettings, RecordsSection
from gateway.live import LiveView, MachineView, apply_message
from tests.gateway.records.conftest import World, site_client


def test_the_default_zone_is_the_schools_not_the_hosts() -> None:
    assert RecordsSection().zone() == ZoneInfo("Europe/Paris")
    assert RecordsSection(timezone="America/Cayenne").zone() == ZoneInfo("America/Cayenne")


def test_the_demo_runs_in_the_schools_zone(tmp_path: Path) -> None:
    text = gateway_config(tmp_path, Broker(data_dir=tmp_path / "broker"), 8000)
    settings = GatewaySettings.model_validate(tomllib.loads(text))
    assert settings.records.zone() == ZoneInfo("Europe/Paris")


async def test_a_due_time_of_17_00_in_paris_shows_as_17_00(
    world: World, databases: dict[str, str], backend: str
) -> None:
    due = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 17:00 in Paris (winter time)
    await world.ok("PATCH", f"/api/orders/{world.ids['order']}", json={"due": due.isoformat()})
    async with site_client(databases[backend], world.clock) as client:  # default [records] settings
        page = await client.get(f"/orders/{world.ids['order']}", headers=world.as_("admin"))
    assert page.status_code == 200
    assert "03/12 17:00" in page.text
    assert "16:00" not in page.text


def test_parts_today_counts_the_schools_day() -> None:
    # 23:30 UTC on 2 December is 00:30 on 3 December in Paris: a part of the new day.
    now = datetime(2026, 12, 2, 23, 45, tzinfo=UTC)
    live = LiveView(clock=lambda: now)
    view = MachineView("lyon", "mill")
    part = c.PartCounted(
        agent="pc",
        machine="mill",
        seq=1,
        ts=datetime(2026, 12, 2, 22, 30, tzinfo=UTC),
        count=2,
        counter=None,
        program=None,
    )
    late = part.model_copy(update={"seq": 2, "ts": datetime(2026, 12, 2, 23, 30, tzinfo=UTC), "count": 3})
    apply_message(view, part, received_at=now)
    apply_message(view, late, received_at=now)
    live.load([view])
    assert live.machines()[0]["parts_today"] == 3
