"""The network's gateway collects every school's aggregates, whatever sites it hosts: a central gateway
with ``[gateway] site = "morez"`` (it ingests the hosted school morez only) still stores lyon's day, which
arrives on the bus from lyon's own server (docs/network.md, "A school hosted on the central pool")."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from atelier.broker import Broker
from edge_agent import contract
from gateway.config import BrokerSection, DatabaseSection, GatewaySection, GatewaySettings, NetworkSection
from gateway.network_collector import NetworkCollector
from gateway.store.db import Database, make_engine, upgrade
from harness.probes import publish_once

GOLDEN_DAY = Path(__file__).parent.parent / "contract" / "golden" / "network_day.json"  # site lyon


def test_a_central_gateway_hosting_one_school_collects_every_schools_aggregates(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'centre.sqlite'}"
    upgrade(url)
    settings = GatewaySettings(
        gateway=GatewaySection(id="centre-1", site="morez"),
        broker=BrokerSection(host=broker.host, port=broker.port),
        database=DatabaseSection(url=url),
        network=NetworkSection(collect=True),
    )
    engine = make_engine(url)
    collector = NetworkCollector(settings, Database(engine))
    collector.start()
    try:
        assert collector.subscribed.wait(10), "the collector did not subscribe"
        publish_once(broker, contract.network_topic("lyon"), GOLDEN_DAY.read_bytes(), "test-lyon-gateway")
        deadline = time.monotonic() + 10
        while collector.counts["stored"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        collector.stop()
        engine.dispose()
    with sqlite3.connect(tmp_path / "centre.sqlite") as conn:
        assert conn.execute("SELECT site, period, day FROM network_periods").fetchall() == [
            ("lyon", "day", "2026-11-25")
        ]
