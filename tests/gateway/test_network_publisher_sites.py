"""The publisher on a real broker and SQLite store: a machine first seen today joins the hours of today
already sent at the next round (not at the next full round, up to 6 h later), and a gateway hosting a list
of sites publishes those sites and no other site its store holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from atelier.broker import Broker
from edge_agent import contract
from gateway.config import (
    BrokerSection,
    DatabaseSection,
    GatewaySection,
    GatewaySettings,
    NetworkSection,
    RecordsSection,
)
from gateway.ingest.consumer import MqttConsumer
from gateway.network_publisher import NetworkPublisher
from gateway.store.db import Database, make_engine, session_factory, upgrade
from gateway.store.models import Agent, Machine
from tests.e2e.network_shapes import Tap
from tests.gateway.network_school import at, seed_school

MONDAY_11 = at(11)


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY_11

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'school.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _settings(broker: Broker, engine: Engine, site: str | list[str]) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {
            "gateway": GatewaySection.model_validate({"id": "gw", "site": site}),
            "broker": BrokerSection(host=broker.host, port=broker.port),
            "database": DatabaseSection(url=str(engine.url)),
            "records": RecordsSection(timezone="UTC"),
            "network": NetworkSection(publish=True, republish_days=1),
        }
    )


def _connected(settings: GatewaySettings) -> MqttConsumer:
    consumer = MqttConsumer(settings, lambda _item: None)
    consumer.start()
    deadline = time.monotonic() + 10
    while not consumer.connected.is_set():
        assert time.monotonic() < deadline, "the gateway's session"
        time.sleep(0.05)
    return consumer


def _latest(tap: Tap, site: str, count: int) -> dict[str, contract.NetworkAggregate]:
    """The newest message of each hour of ``site`` (by start, ISO), once ``count`` have arrived."""
    deadline = time.monotonic() + 10
    while len(tap.of(f"{site}/network/aggregate")) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    found: dict[str, contract.NetworkAggregate] = {}
    for seen in tap.of(f"{site}/network/aggregate"):
        message = contract.decode_aggregate(seen.topic, seen.payload)
        if message.period == "hour":
            found[message.start.isoformat()] = message
    return found


def test_a_machine_first_seen_today_joins_the_hours_already_sent(broker: Broker, store: Engine) -> None:
    seed_school(session_factory(store), "lyon")  # mill and lathe, known since Monday 00:00
    settings = _settings(broker, store, "lyon")
    clock = Clock()
    consumer = _connected(settings)
    try:
        publisher = NetworkPublisher(settings, Database(store), lambda: consumer, clock=clock)
        with Tap(broker, contract.network_topic("+")) as tap:
            first = publisher.round()  # the first round sends everything: 12 hours of Monday and Sunday
            assert first == 13
            eight = _latest(tap, "lyon", first)[at(8).isoformat()]
            assert sorted(m.machine for m in eight.machines) == ["lathe", "mill"]

            # A new machine's agent announces it at 11:05; five minutes later, the next (ordinary) round.
            with session_factory(store).begin() as db:
                agent = Agent(site="lyon", name="pc-new", status="online", version="1", last_seen=at(11.1))
                db.add(agent)
                db.flush()
                db.add(Machine(site="lyon", name="drill", agent_id=agent.id, first_seen=at(11.1), last_seen=at(11.1)))
            clock.now = MONDAY_11 + timedelta(minutes=10)
            again = publisher.round()
            hours = _latest(tap, "lyon", first + again)
            assert again >= 12, "the hours of today already sent went again with the new machine"
            assert all("drill" in {m.machine for m in h.machines} for h in hours.values())

            # The machines unchanged since: the next round looks at the last two hours only (the one under way).
            clock.now += timedelta(minutes=5)
            assert publisher.round() <= 2
    finally:
        consumer.stop()


def test_a_pool_hosting_a_list_of_sites_publishes_those_and_no_other(broker: Broker, store: Engine) -> None:
    for site in ("morez", "dole", "lyon"):  # lyon's rows: what a pool that once ingested "+" may still hold
        seed_school(session_factory(store), site)
    settings = _settings(broker, store, ["morez", "dole"])
    consumer = _connected(settings)
    try:
        publisher = NetworkPublisher(settings, Database(store), lambda: consumer, clock=Clock())
        with Tap(broker, contract.network_topic("+")) as tap:
            assert publisher.round() == 2 * 13
            deadline = time.monotonic() + 10
            while len(tap.seen) < 26 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert {contract.parse_topic(s.topic).site for s in tap.seen} == {"morez", "dole"}
    finally:
        consumer.stop()
