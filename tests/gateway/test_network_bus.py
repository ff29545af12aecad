"""Two schools and the network's gateway on real brokers: each school's broker bridged to the central one
(``atelier bus bridge``'s block), each school's publisher on the gateway's own MQTT session
(``MqttConsumer``, the path of replay requests) over its own SQLite store, and the central collector on
its own store. The page shows both schools; a day published again is stored once; a school whose link was
cut sends the day it missed once it is back, exactly once; and nothing the centre stored names a student.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from atelier.bridge import bridge_block
from atelier.broker import Broker
from edge_agent import contract
from gateway import auth
from gateway.config import (
    BrokerSection,
    DatabaseSection,
    GatewaySection,
    GatewaySettings,
    NetworkSection,
    RecordsSection,
)
from gateway.ingest.consumer import MqttConsumer
from gateway.live import LiveView
from gateway.network_collector import NetworkCollector
from gateway.network_publisher import NetworkPublisher
from gateway.store.db import Database, make_engine, session_factory, upgrade
from gateway.web.app import create_app
from gateway.web.services import Services
from harness import wait_for_bridges
from harness.probes import publish_once
from tests.gateway.network_school import DAY, Seeded, at, run_mill, seed_school

pytestmark = pytest.mark.slow  # three brokers, two bridges and a link cut: about 7 s

SITES = ("lyon", "nantes")
TUESDAY_10 = at(24 + 10)


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {condition()}")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class School:
    site: str
    broker: Broker
    engine: Engine
    seeded: Seeded
    consumer: MqttConsumer
    publisher: NetworkPublisher


@dataclass
class Centre:
    url: str
    path: Path
    collector: NetworkCollector

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql).fetchall()

    def days(self) -> list[tuple[object, ...]]:
        return self.rows(
            "SELECT p.site, p.day, count(f.id), sum(f.good) FROM network_periods p "
            "JOIN network_machine_figures f ON f.period_id = p.id WHERE p.period = 'day' GROUP BY p.site, p.day "
            "ORDER BY p.site, p.day"
        )


def _settings(site: str, broker: Broker, url: str, **network: object) -> GatewaySettings:
    return GatewaySettings(
        gateway=GatewaySection(id=f"gw-{site}", site="+" if site == "centre" else site),
        broker=BrokerSection(host=broker.host, port=broker.port),
        database=DatabaseSection(url=url),
        records=RecordsSection(timezone="UTC"),
        network=NetworkSection.model_validate(network),
    )


@pytest.fixture
def network(broker: Broker, tmp_path: Path) -> Iterator[tuple[dict[str, School], Centre, Clock]]:
    clock = Clock(TUESDAY_10)
    schools: dict[str, School] = {}
    centre_path = tmp_path / "centre.sqlite"
    centre_url = f"sqlite:///{centre_path}"
    upgrade(centre_url)
    centre_settings = _settings("centre", broker, centre_url, collect=True)
    centre_engine = make_engine(centre_url)
    collector = NetworkCollector(centre_settings, Database(centre_engine))
    try:
        for site in SITES:
            school_broker = Broker(data_dir=tmp_path / site)
            school_broker.extra_config = bridge_block(site, broker.host, broker.port, restart_timeout="1 2")
            school_broker.start()
            url = f"sqlite:///{tmp_path / site}.sqlite"
            upgrade(url)
            engine = make_engine(url)
            seeded = seed_school(session_factory(engine), site, parts=10 if site == "lyon" else 20)
            settings = _settings(site, school_broker, url, publish=True, republish_days=2)
            consumer = MqttConsumer(settings, lambda _item: None)
            publisher = NetworkPublisher(settings, Database(engine), _link(consumer), clock=clock)
            schools[site] = School(site, school_broker, engine, seeded, consumer, publisher)
        wait_for_bridges(broker, list(SITES), timeout_s=20)
        collector.start()
        _wait(collector.subscribed.is_set, "the collector's subscription")
        for school in schools.values():
            school.consumer.start()
            _wait(school.consumer.connected.is_set, f"{school.site}'s gateway session")
        yield schools, Centre(centre_url, centre_path, collector), clock
    finally:
        collector.stop()
        centre_engine.dispose()
        for school in schools.values():
            school.consumer.stop()
            school.engine.dispose()
            school.broker.stop()


def _link(consumer: MqttConsumer) -> Callable[[], MqttConsumer]:
    return lambda: consumer


MONDAY, SUNDAY = str(DAY.date()), str((DAY - timedelta(days=1)).date())


async def _page(centre: Centre, clock: Clock) -> str:
    settings = GatewaySettings(
        gateway=GatewaySection(id="centre"), database=DatabaseSection(url=centre.url), records=RecordsSection()
    )
    app = create_app(settings, Services(live=LiveView()))
    app.state.records.clock = clock
    with app.state.records.transaction(None) as db:
        auth.create_user(
            db=db, who="t", now=clock(), username="net", password="net-pass-1", role="admin", student_id=None
        )
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://centre") as client:
            login = await client.post("/api/auth/login", json={"username": "net", "password": "net-pass-1"})
            token = login.json()["token"]
            page = await client.get("/network?week=2026-W48", headers={"Authorization": f"Bearer {token}"})
            assert page.status_code == 200
            return page.text
    finally:
        app.state.records.close()


async def test_two_schools_publish_the_centre_keeps_each_day_once_and_no_name(
    network: tuple[dict[str, School], Centre, Clock],
) -> None:
    schools, centre, clock = network
    for school in schools.values():
        assert school.publisher.round() == 13  # eleven hours of Tuesday, Monday and Sunday
    expected = [("lyon", SUNDAY, 2, 0), ("lyon", MONDAY, 2, 10), ("nantes", SUNDAY, 2, 0), ("nantes", MONDAY, 2, 20)]
    _wait(lambda: centre.days() == expected, "both schools' days at the centre")
    page = await _page(centre, clock)
    assert 'data-site="lyon"' in page
    assert 'data-site="nantes"' in page

    # Published again, by a gateway that restarted (it remembers nothing) an hour later: replaced, not added.
    clock.now += timedelta(hours=1)
    again = NetworkPublisher(
        schools["lyon"].publisher._settings,
        Database(schools["lyon"].engine),
        lambda: schools["lyon"].consumer,
        clock=clock,
    )
    assert again.round() > 0
    _wait(lambda: centre.collector.counts["replaced"] >= 2, "the republished days")
    assert centre.days() == expected
    assert centre.rows("SELECT count(*) FROM network_periods WHERE period = 'day'") == [(4,)]

    # Nantes' link is cut (its broker down) over Tuesday; Wednesday morning it is back and sends Tuesday once.
    nantes = schools["nantes"]
    nantes.broker.stop()
    _wait(lambda: not nantes.consumer.connected.is_set(), "nantes cut off")
    run_mill(session_factory(nantes.engine), "nantes", DAY + timedelta(days=1), parts=7)
    clock.now = TUESDAY_10 + timedelta(days=1)
    assert nantes.publisher.round() == 0  # nothing can leave while the link is down
    nantes.broker.start()
    _wait(nantes.consumer.connected.is_set, "nantes back")
    assert nantes.publisher.round() > 0
    tuesday = str((DAY + timedelta(days=1)).date())
    _wait(lambda: ("nantes", tuesday, 2, 7) in centre.days(), "nantes' Tuesday at the centre")
    time.sleep(0.5)  # noqa: ASYNC251 - anything doubled would arrive meanwhile
    nantes_days = [d for d in centre.days() if d[0] == "nantes"]
    assert nantes_days == [("nantes", SUNDAY, 2, 0), ("nantes", MONDAY, 2, 20), ("nantes", tuesday, 2, 7)]

    # A malformed aggregate on the bus is dead-lettered at the centre, not stored.
    _publish(schools["lyon"].broker, contract.network_topic("lyon"), b'{"schema": 1, "site": "lyon", "student": "x"}')
    _wait(lambda: centre.collector.counts["dead"] == 1, "the dead letter")
    assert centre.rows("SELECT count(*) FROM dead_letters WHERE topic LIKE '%/network/aggregate'") == [(1,)]

    # Everything the centre stored, every table and column: no student's name, badge or id.
    with sqlite3.connect(centre.path) as conn:
        dump = "\n".join(conn.iterdump())
        assert conn.execute("SELECT count(*) FROM students").fetchone() == (0,)
        columns = [
            row[1].lower()
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'network%' AND type='table'")
            for row in conn.execute(f"PRAGMA table_info({table})")
        ]
    for school in schools.values():
        for secret in school.seeded.secrets:
            assert secret not in dump, f"{secret!r} reached the centre"
    assert not [c for c in columns if "student" in c or "badge" in c or "name" in c]


def _publish(broker: Broker, topic: str, payload: bytes) -> None:
    publish_once(broker, topic, payload, "test-hostile")
