"""The network's jobs inside a running gateway (``serve``): with ``[network] publish`` and ``collect`` on one
gateway and one broker, it publishes its school's aggregates through its own MQTT session and collects them
back into its store, as a school's gateway and the network's would between them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import GatewaySettings, NetworkSection
from gateway.store.db import make_engine, session_factory, upgrade
from tests.gateway.conftest import RunningGateway
from tests.gateway.network_school import seed_school

pytestmark = pytest.mark.slow  # the first round may find the session not yet up: the next is interval_s later


async def test_a_gateway_publishes_and_collects_its_aggregates(
    make_settings: Callable[..., GatewaySettings],
    gateway_factory: Callable[[GatewaySettings], object],
    tmp_path: Path,
) -> None:
    settings = make_settings()
    settings = settings.model_copy(update={"network": NetworkSection(publish=True, collect=True, interval_s=5)})
    db_path = tmp_path / "gateway.db"
    upgrade(f"sqlite:///{db_path}")
    engine = make_engine(f"sqlite:///{db_path}")
    seed_school(session_factory(engine), "lyon")
    engine.dispose()
    running = await gateway_factory(settings)  # type: ignore[misc]
    assert isinstance(running, RunningGateway)

    def periods() -> dict[str, int]:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as conn:
            return dict(
                conn.execute("SELECT period, count(*) FROM network_periods WHERE site = 'lyon' GROUP BY period")
            )

    for _ in range(300):
        found = periods()
        if found.get("day") == settings.network.republish_days and found.get("hour", 0) >= 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the gateway's aggregates did not come back: {periods()}")
