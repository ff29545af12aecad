"""A school's aggregates computed from its records, and the network's store keeping them: a republished day
replaces, never doubles; an older version never overwrites a newer one; a final day drops its hours."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from edge_agent import contract
from gateway.config import GatewaySection, GatewaySettings
from gateway.domain.network import day_period, hours_of_today
from gateway.network_collector import NetworkCollector
from gateway.store import db as store_db
from gateway.store.db import Database
from gateway.store.models import DeadLetter, NetworkMachineFigures, NetworkPeriod, NetworkPracticeFigures
from gateway.store.network_outbound import aggregate
from gateway.store.network_repo import keep, online_now, weeks
from tests.gateway.network_school import DAY, at, seed_school

UTC_ZONE = ZoneInfo("UTC")


def _day(sessions: sessionmaker[Session], site: str, hours_later: float = 30) -> contract.NetworkAggregate:
    with sessions() as db:
        return aggregate(
            db=db, site=site, period=day_period(DAY.date(), UTC_ZONE), now=at(hours_later), zone="UTC", min_students=3
        )


def _count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_a_day_is_computed_from_the_schools_records(engine: Engine) -> None:
    sessions = store_db.session_factory(engine)
    seed_school(sessions, "lyon")
    day = _day(sessions, "lyon")
    assert (day.site, day.period, day.final) == ("lyon", "day", True)
    mill = next(m for m in day.machines if m.machine == "mill")
    lathe = next(m for m in day.machines if m.machine == "lathe")
    assert (mill.planned_h, mill.running_h, mill.free_h, mill.good) == (8.0, 2.0, 6.0, 12)
    assert mill.online
    assert not lathe.online
    assert lathe.running_h == 0.0
    # Three CAP1 students for 2 h each; the lone Bac Pro student is merged into OTHER, so no group is one child.
    assert {(p.class_label, p.track, p.hours) for p in day.practice} == {("CAP1", "CAP", 6.0), ("OTHER", "OTHER", 1.0)}


def test_a_republished_day_replaces_and_an_older_one_is_ignored(engine: Engine) -> None:
    sessions = store_db.session_factory(engine)
    seed_school(sessions, "lyon")
    first = _day(sessions, "lyon")
    with sessions.begin() as db:
        assert keep(db=db, message=first, received=at(30)) == "stored"
    with sessions.begin() as db:
        assert keep(db=db, message=first, received=at(31)) == "unchanged"
    later = first.model_copy(update={"ts": first.ts + timedelta(hours=1), "machines": first.machines[:1]})
    with sessions.begin() as db:
        assert keep(db=db, message=later, received=at(32)) == "replaced"
    with sessions.begin() as db:
        assert keep(db=db, message=first, received=at(33)) == "older"
    assert _count(sessions, NetworkPeriod) == 1
    assert _count(sessions, NetworkMachineFigures) == len(later.machines)
    assert _count(sessions, NetworkPracticeFigures) == len(later.practice)


def test_the_hours_of_a_day_stand_in_for_it_until_the_day_arrives(engine: Engine) -> None:
    sessions = store_db.session_factory(engine)
    seed_school(sessions, "lyon")
    now = at(11.5)
    with sessions() as db:
        hours = [
            aggregate(db=db, site="lyon", period=p, now=now, zone="UTC", min_students=3)
            for p in hours_of_today(now, UTC_ZONE)
        ]
    with sessions.begin() as db:
        for hour in hours:
            keep(db=db, message=hour, received=now)
    monday = DAY.date()
    with sessions() as db:
        live = weeks(db=db, mondays=[monday])["lyon"][0]
        online = online_now(db=db)["lyon"]
    assert (live.running_h, live.good) == (2.0, 12)
    assert (online.online, online.machines) == (1, 2)
    with sessions.begin() as db:
        keep(db=db, message=_day(sessions, "lyon"), received=at(30))
    with sessions() as db:
        whole = weeks(db=db, mondays=[monday])["lyon"][0]
    assert (whole.planned_h, whole.running_h, whole.good) == (16.0, 2.0, 12)
    assert _count(sessions, NetworkPeriod) == 1  # the day's hours went when the day came


HOSTILE = [
    (contract.network_topic("lyon"), b"{not json"),
    (contract.network_topic("lyon"), b"[" * 5000),
    (contract.network_topic("lyon"), b'{"schema": 1, "site": "lyon", "student": "L\\u00e9a"}'),
    (contract.network_topic("grenoble"), b""),  # replaced below by lyon's valid day: a site that is not the topic's
    (
        contract.machine_topic("lyon", "mill", "event"),
        contract.encode(contract.CycleStarted(agent="pc", machine="mill", seq=1, ts=DAY, program=None)),
    ),
    ("atelier/v1/lyon/network/aggregate/extra", b"{}"),
    (contract.network_topic("lyon"), b"x" * (contract.MAX_PAYLOAD_BYTES + 1)),
    ("\udcff/network", b"{}"),
]


def test_the_collector_dead_letters_whatever_is_not_an_aggregate(engine: Engine) -> None:
    sessions = store_db.session_factory(engine)
    seed_school(sessions, "lyon")
    valid = contract.encode(_day(sessions, "lyon"))
    settings = GatewaySettings(gateway=GatewaySection(id="centre"))
    collector = NetworkCollector(settings, Database(engine), clock=lambda: at(40))
    for topic, payload in HOSTILE:
        assert collector.take(topic, payload or valid) is None, topic
    assert collector.take(contract.network_topic("lyon"), valid) == "stored"
    assert _count(sessions, DeadLetter) == len(HOSTILE)
    assert _count(sessions, NetworkPeriod) == 1
    with sessions() as db:
        reasons = [d.reason for d in db.scalars(select(DeadLetter))]
    assert any("does not match topic" in r for r in reasons)
    assert any("not the network's aggregates" in r for r in reasons)
    assert any("exceeds the limit" in r for r in reasons)
