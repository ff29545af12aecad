"""Issue 17's done-when: three schools, two with their own server and one hosted at the centre.

lyon and nantes each run their own mosquitto, bridged to the central broker with ``atelier bus bridge``'s
block, and their own gateway on SQLite that publishes the school's aggregates (``[network] publish``);
lyon has a real edge agent with simulated machines at work. morez and dole are small schools hosted at the
centre: each one's mosquitto is bridged to the centre, their edge agents publish into it, and they have no
gateway of their own. At the centre a pool of two gateways on PostgreSQL (one shared subscription per hosted
site) ingests morez's and dole's events and nobody else's (``gateway.site = ["morez", "dole"]``: lyon's
machine events, which lyon's bridge carries to the centre too, are not the pool's), publishes morez's and
dole's aggregates and collects every school's (``[network] collect``).

lyon's internet link (a relay between its bridge and the central broker) is cut for a while: lyon's pages
keep answering and its gateway keeps ingesting; once the link is back, what lyon published meanwhile
arrives, and each period is stored once with the figures lyon computes itself. The centre's /network page
and CSV show the three schools with their figures, and nothing the centre stored, nor anything that left
lyon or nantes, names, numbers or badges one of their students.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from atelier.bridge import bridge_block
from atelier.broker import Broker, free_port, wait_for_port
from edge_agent import contract
from gateway.domain.network import Period
from gateway.store.db import make_engine, session_factory
from gateway.store.models import NetworkMachineFigures, NetworkPeriod, NetworkPracticeFigures
from gateway.store.network_outbound import aggregate
from harness import Daemon, edge_toml, gateway_toml, health, sim_options, wait_for_bridges, wait_until
from tests.e2e.network_shapes import CuttableLink, Tap, Web, make_master, postgres_tables, sqlite_text
from tests.gateway.network_school import Seeded, seed_school

pytestmark = [pytest.mark.e2e, pytest.mark.fault]

OWN_SERVER = ("lyon", "nantes")
HOSTED_SITES = ("morez", "dole")
HOSTED = HOSTED_SITES[0]  # the hosted school whose master logs in at the centre
SITES = (*OWN_SERVER, *HOSTED_SITES)
SEEDED_PARTS = {"lyon": 10, "nantes": 20, "morez": 15, "dole": 25}  # yesterday's, in each school's store
# Machines and cycles of the agents.
LIVE = {"lyon": (("cnc-01", "cnc-02"), 30), "morez": (("cnc-01",), 10), "dole": (("cnc-07",), 5)}
# A round every 5 s, the smallest interval_s allowed, so that the cut sees a few; yesterday and the day before.
NETWORK: dict[str, object] = {"publish": True, "interval_s": 5.0, "republish_days": 2}
PASSWORD = "master-pass-1"
POOL = ("centre-1", "centre-2")
ZONE = "UTC"


@dataclass
class School:
    site: str
    broker: Broker
    seeded: Seeded
    url: str  # its store: its own SQLite, or the centre's PostgreSQL for a hosted school
    records: Path  # the simulators' own record of the cycles they made: the truth
    port: int | None = None  # its own gateway's HTTP port; None for a hosted school
    link: CuttableLink | None = None

    def made(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for path in self.records.glob("*.jsonl") for line in path.read_text().splitlines() if line
        ]

    def parts_made(self) -> int:
        return sum(int(record["parts"]) for record in self.made())

    def cycles_made(self) -> int:
        return len(self.made())


@dataclass
class Network:
    root: Path
    central: Broker
    centre_url: str
    schools: dict[str, School]
    pool_ports: list[int]
    daemons: list[Daemon]
    tap: Tap  # everything that reaches the central broker

    def wait(self, condition: Callable[[], object], timeout_s: float, what: str) -> None:
        wait_until(condition, timeout_s, what, 0.2, daemons=self.daemons)


def _yesterday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


@pytest.fixture
def network(tmp_path: Path, broker: Broker, postgres_url: str) -> Iterator[Network]:
    yesterday = _yesterday()
    daemons: list[Daemon] = []
    schools: dict[str, School] = {}
    with ExitStack() as stack:
        stack.callback(_stop_all, daemons)
        tap = stack.enter_context(Tap(broker, f"{contract.TOPIC_ROOT}/#"))
        for site in SITES:
            link = CuttableLink(broker) if site == "lyon" else None
            host, port = (broker.host, broker.port)
            if link is not None:
                stack.callback(link.cut)
                host, port = link.host, link.port
            school_broker = Broker(data_dir=tmp_path / site / "mosquitto")
            school_broker.extra_config = bridge_block(site, host, port, restart_timeout="1 2")
            school_broker.start()
            stack.callback(school_broker.stop)
            schools[site] = School(site, school_broker, _seed_later(), "", tmp_path / site / "records", link=link)
        wait_for_bridges(broker, list(SITES), timeout_s=20)

        # Each school with its own server: a gateway on SQLite, its master, yesterday's work in its store.
        for site in OWN_SERVER:
            school = schools[site]
            school.url, school.port = f"sqlite:///{tmp_path / site / 'gateway.sqlite'}", free_port()
            config = gateway_toml(
                tmp_path / site / "gateway.toml", gateway_id=f"gw-{site}", site=site, broker=school.broker,
                database_url=school.url, http_port=school.port, timezone=ZONE, network=NETWORK,
            )  # fmt: skip
            make_master(config, f"{site}-master", PASSWORD)  # creates the schema too
            school.seeded = _seed(school.url, site, yesterday)
            daemons.append(_start(f"gw-{site}", config, tmp_path / site))

        # The centre: two gateways on one PostgreSQL, hosting morez and dole, collecting every school's aggregates.
        pool_ports = [free_port() for _ in POOL]
        configs = [
            gateway_toml(
                tmp_path / f"{name}.toml", gateway_id=name, site=HOSTED_SITES, broker=broker, database_url=postgres_url,
                http_port=port, shared_group="pool", timezone=ZONE, network={**NETWORK, "collect": True},
            )
            for name, port in zip(POOL, pool_ports, strict=True)
        ]  # fmt: skip
        make_master(configs[0], "network", PASSWORD)  # the network's account (a network role comes with sites)
        for site in HOSTED_SITES:
            schools[site].url, schools[site].seeded = postgres_url, _seed(postgres_url, site, yesterday)
        daemons += [_start(name, config, tmp_path) for name, config in zip(POOL, configs, strict=True)]

        for port in [*(p for s in OWN_SERVER if (p := schools[s].port) is not None), *pool_ports]:
            wait_for_port("127.0.0.1", port, timeout_s=60)
            wait_until(_subscribed(port), 60, f"gateway :{port}", 0.2, daemons=daemons)
        for site, (machines, cycles) in LIVE.items():
            daemons.append(_agent(schools[site], tmp_path / site, machines, cycles))
        yield Network(tmp_path, broker, postgres_url, schools, pool_ports, daemons, tap)


def _stop_all(daemons: list[Daemon]) -> None:
    for daemon in reversed(daemons):
        daemon.stop()


def _subscribed(port: int) -> Callable[[], bool]:
    return lambda: health(port).get("subscribed") is True


def _seed_later() -> Seeded:
    return Seeded("", (), ())


def _seed(url: str, site: str, day: datetime) -> Seeded:
    """Yesterday's work (``seed_school``). The live agents' machines are first seen today, as a new machine
    is: the publisher sends the hours of today again with them (they are in the figures checked below)."""
    engine = make_engine(url)
    try:
        return seed_school(session_factory(engine), site, parts=SEEDED_PARTS[site], day=day)
    finally:
        engine.dispose()


def _start(name: str, config: Path, folder: Path) -> Daemon:
    daemon = Daemon(name, ["gateway", "run", "-c", str(config)], folder / f"{name}.log")
    daemon.start()
    return daemon


def _agent(school: School, folder: Path, machines: tuple[str, ...], cycles: int) -> Daemon:
    options = {
        m: sim_options(seed, cycles, cycle_s=0.3, record_path=str(school.records / f"{m}.jsonl"))
        for seed, m in enumerate(machines, start=1)
    }
    config = edge_toml(
        folder / "edge.toml", agent=f"{school.site}-pc", site=school.site, broker=school.broker,
        state_dir=folder / "edge", machines=options,
    )  # fmt: skip
    agent = Daemon(f"{school.site} agent", ["edge", "run", "-c", str(config)], folder / "edge.log")
    agent.start()
    return agent


Browser = Callable[[int, str], Web]  # a person logged in on the gateway at this port


@pytest.fixture
def browser() -> Iterator[Browser]:
    opened: list[Web] = []

    def open_as(port: int, username: str) -> Web:
        opened.append(Web(port, username, PASSWORD))
        return opened[-1]

    yield open_as
    for web in opened:
        web.close()


def hosted_master(net: Network, browser: Browser) -> Web:
    """The hosted school's master, on the centre's pages: a master of morez only (the pool hosts dole too)."""
    make_master(net.root / f"{POOL[0]}.toml", f"{HOSTED}-master", PASSWORD, sites=[HOSTED])
    return browser(net.pool_ports[0], f"{HOSTED}-master")


# --- what the centre holds, and what each school computes itself ---------------------------------------

Figures = dict[tuple[str, datetime], tuple[Any, ...]]  # (period, start) -> version, machines, groups


def _stored(url: str, site: str) -> Figures:
    """The centre's periods of ``site``, each with its version and figures (machines, practice groups)."""
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            periods = db.scalars(select(NetworkPeriod).where(NetworkPeriod.site == site)).all()
            machines = db.scalars(select(NetworkMachineFigures)).all()
            groups = db.scalars(select(NetworkPracticeFigures)).all()
            return {
                (p.period, p.start): (
                    Period(p.period, p.day, p.start, p.end),  # type: ignore[arg-type]
                    p.version,
                    sorted(_machine(m) for m in machines if m.period_id == p.id),
                    sorted((g.class_label, g.track, round(g.hours, 6)) for g in groups if g.period_id == p.id),
                )
                for p in periods
            }
    finally:
        engine.dispose()


def _machine(m: NetworkMachineFigures) -> tuple[Any, ...]:
    hours = (m.planned_h, m.running_h, m.free_h, m.setup_h, m.organisation_h, m.technical_h, m.planned_stop_h)
    return _row((m.machine, m.online, m.good, m.scrap), m.oee, (*hours, m.unclassified_h))


def _row(counts: tuple[str, bool, int, int], oee: float | None, hours: tuple[float, ...]) -> tuple[Any, ...]:
    """One machine's figures (name, online, good, scrap; OEE; hours), floats rounded past the JSON's noise."""
    return (*counts, None if oee is None else round(oee, 6), *(round(h, 6) for h in hours))


def _own(school: School, stored: Figures) -> Figures:
    """What the school's own store gives for each period the centre holds, computed at that version's time."""
    engine = make_engine(school.url)
    own: Figures = {}
    try:
        sessions: sessionmaker[Session] = session_factory(engine)
        with sessions() as db:
            for key, (period, version, _, _) in stored.items():
                message = aggregate(db=db, site=school.site, period=period, now=version, zone=ZONE, min_students=3)
                message = contract.decode_aggregate(contract.network_topic(school.site), contract.encode(message))
                machines = sorted(
                    _row((m.machine, m.online, m.good, m.scrap), m.oee, (
                        m.planned_h, m.running_h, m.free_h, m.stops.setup, m.stops.organisation, m.stops.technical,
                        m.stops.planned, m.stops.unclassified,
                    ))
                    for m in message.machines
                )  # fmt: skip
                groups = sorted((g.class_label, g.track, round(g.hours, 6)) for g in message.practice)
                own[key] = (period, version, machines, groups)
    finally:
        engine.dispose()
    return own


def _good_at_centre(net: Network, site: str) -> int:
    return sum(m[2] for _, _, machines, _ in _stored(net.centre_url, site).values() for m in machines)


def _the_same(net: Network, school: School, timeout_s: float) -> None:
    """Until every period the centre holds of ``school`` has the figures the school computes itself."""
    deadline = time.monotonic() + timeout_s
    while True:
        stored = _stored(net.centre_url, school.site)
        own = _own(school, stored)
        if (stored and stored == own) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert stored, f"nothing of {school.site} at the centre"
    assert {k: v for k, v in stored.items() if own[k] != v} == {k: v for k, v in own.items() if stored[k] != v}


def _csv_good(web: Web) -> dict[str, int]:
    answer = web.get("/network.csv?format=raw")
    assert answer.status_code == 200, answer.text
    good: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(answer.text)):
        good[row["site"]] = good.get(row["site"], 0) + int(row["good"])
    return good


# --- the test -------------------------------------------------------------------------------------------


def test_three_schools_two_shapes_a_cut_link_and_no_name_at_the_centre(network: Network, browser: Browser) -> None:
    net = network
    lyon = net.schools["lyon"]
    assert lyon.port is not None
    assert lyon.link is not None
    lyon_web = browser(lyon.port, "lyon-master")

    def cycles() -> int:
        return _count(lyon.url, "SELECT count(*) FROM cycles c JOIN machines m ON m.id = c.machine_id "
                      "WHERE m.name LIKE 'cnc-%'")  # fmt: skip

    net.wait(lambda: cycles() >= 4, 30, "lyon's first cycles in lyon's store")
    net.wait(lambda: _good_at_centre(net, "lyon") > SEEDED_PARTS["lyon"], 30, "lyon's live hour at the centre")

    # lyon's link is down: lyon's shop goes on, its pages answer, what it publishes waits in its bridge's queue.
    with Tap(lyon.broker, contract.network_topic("lyon")) as published:
        lyon.link.cut()
        cut_at = time.time()
        before = cycles()
        at_centre = len(net.tap.of("lyon/network/aggregate"))
        net.wait(lambda: cycles() >= before + 6, 30, "lyon ingesting with its link down")
        net.wait(lambda: [s for s in published.seen if s.at > cut_at + 0.5], 15, "lyon publishing, link down")
        for path in ("/", "/orders", "/api/machines", "/utilisation"):
            page = lyon_web.get(path)
            assert page.status_code == 200, f"lyon's {path} with the link down: {page.status_code}"
        assert {"cnc-01", "cnc-02"} <= {m["id"] for m in lyon_web.get("/api/machines").json()}
        assert len(net.tap.of("lyon/network/aggregate")) == at_centre, "lyon's aggregates crossed a cut link"
        during_cut = [s.payload for s in published.seen if s.at > cut_at]
        lyon.link.restore()
        restored_at = time.time()

    # Back: what lyon published during the cut arrives, and every period is stored once, as lyon computes it.
    machines, per_machine = LIVE["lyon"]
    net.wait(lambda: lyon.cycles_made() >= len(machines) * per_machine, 60, "lyon's simulators to finish")
    net.wait(lambda: cycles() >= lyon.cycles_made(), 30, "every lyon cycle in lyon's store")
    net.wait(lambda: set(during_cut) <= {s.payload for s in net.tap.of("lyon/network/aggregate")}, 30,
             "lyon's aggregates of the cut period at the centre")  # fmt: skip
    arrived = {s.payload for s in net.tap.of("lyon/network/aggregate") if s.at >= restored_at}
    assert set(during_cut) <= arrived, "the cut period's aggregates came after the link was back"
    for site in SITES:
        _the_same(net, net.schools[site], timeout_s=30)
    doubled = _rows(net.centre_url, "SELECT site, period, start, count(*) FROM network_periods "
                    "GROUP BY site, period, start HAVING count(*) > 1")  # fmt: skip
    assert not doubled, f"periods stored twice: {doubled}"
    today = datetime.now(UTC).date()
    lyon_hours = _rows(net.centre_url, f"SELECT count(*) FROM network_periods WHERE site = 'lyon' AND period = 'hour' "
                       f"AND day = '{today}'")  # fmt: skip
    assert lyon_hours[0][0] >= 1

    # The network page and its CSV: three schools, each with its parts (yesterday's and today's).
    network_web = browser(net.pool_ports[1], "network")  # either member of the pool serves the pages
    page = network_web.get("/network")
    assert page.status_code == 200
    for site in SITES:
        assert f'data-site="{site}"' in page.text, f"{site} missing from /network"
    expected = {site: SEEDED_PARTS[site] + net.schools[site].parts_made() for site in SITES}
    assert net.schools["lyon"].parts_made() > 0
    assert all(net.schools[site].parts_made() > 0 for site in HOSTED_SITES)
    net.wait(lambda: _csv_good(network_web) == expected, 20, f"the CSV's good parts to be {expected}")

    # The hosted schools: their events ingested by the pool (the two members shared them), their pages there.
    morez = hosted_master(net, browser)
    hosted_machines = {(m["site"], m["id"]) for m in morez.get("/api/machines").json()}
    assert {("morez", "cnc-01"), ("morez", "mill"), ("morez", "lathe")} <= hosted_machines
    assert {site for site, _ in hosted_machines} == {HOSTED}, "morez's master sees another school's machines"
    ingested = _rows(net.centre_url, "SELECT site, name FROM machines WHERE name LIKE 'cnc-%' ORDER BY site")
    assert ingested == [("dole", "cnc-07"), ("morez", "cnc-01")]  # both hosted schools' live machines
    # lyon's machine events reached the central broker (its bridge carries its whole tree) and the pool took
    # none of them: no machine, agent or dead letter of lyon's in its store, only lyon's aggregates.
    lyon_events = [s for s in net.tap.seen if s.topic.startswith(f"{contract.TOPIC_ROOT}/lyon/cnc-")]
    assert lyon_events, "lyon's machine events did not reach the centre"
    assert net.tap.of("/lyon/agent/lyon-pc/status"), "lyon's agent birth did not reach the centre"
    hosted_rows = sorted((s,) for s in HOSTED_SITES)
    assert _rows(net.centre_url, "SELECT DISTINCT site FROM machines ORDER BY site") == hosted_rows, "another site"
    assert _rows(net.centre_url, "SELECT DISTINCT site FROM agents ORDER BY site") == hosted_rows
    assert not _rows(net.centre_url, "SELECT topic FROM dead_letters WHERE topic LIKE '%/lyon/%'")
    for name in POOL:
        log = (net.root / f"{name}.log").read_text()
        assert all(f"$share/pool/atelier/v1/{site}/+/event" in log for site in HOSTED_SITES)
        assert "atelier/v1/+/+/event" not in log

    # Nothing of a lyon or nantes student at the centre, nor on what left those schools; morez's students
    # live at the centre (hosted) but not in the network's tables.
    tables = postgres_tables(net.centre_url)
    everything = "\n".join(tables.values())
    for site in OWN_SERVER:
        for secret in net.schools[site].seeded.secrets:
            assert secret not in everything, f"{site}'s {secret!r} reached the centre's store"
    centre_badges = _rows(net.centre_url, "SELECT badge FROM students ORDER BY badge")
    hosted_secrets = [s for site in HOSTED_SITES for s in net.schools[site].seeded.secrets]
    assert [b for (b,) in centre_badges] == sorted(s for s in hosted_secrets if "BADGE" in s)
    network_tables = "\n".join(text for name, text in tables.items() if name.startswith("network_"))
    for secret in hosted_secrets:
        assert secret in everything  # the search finds what is there ...
        assert secret not in network_tables, f"a hosted school's {secret!r} in the network's tables"  # ... and not here
    columns = _rows(net.centre_url, "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name LIKE 'network_%'")  # fmt: skip
    assert not [c for (c,) in columns if any(word in c for word in ("student", "badge", "name"))]
    for site in OWN_SERVER:
        left = [s for s in net.tap.seen if s.topic.startswith(f"{contract.TOPIC_ROOT}/{site}/")]
        assert any(s.topic.endswith("/network/aggregate") for s in left), f"nothing of {site}'s reached the centre"
        for secret in net.schools[site].seeded.secrets:
            assert not [s.topic for s in left if secret.encode() in s.payload], f"{secret!r} left {site}"
        store = sqlite_text(Path(net.schools[site].url.removeprefix("sqlite:///")))
        assert all(secret in store for secret in net.schools[site].seeded.secrets)  # at home, where they belong


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _count(url: str, sql: str) -> int:
    return int(_rows(url, sql)[0][0])
