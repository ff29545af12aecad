"""The network page's read (``network_repo.weeks`` and ``online_now``, summed by the database) equals the
plain computation over every stored row (the page's earlier code, kept here as the reference), on SQLite
and PostgreSQL, over a seeded store: finished days, today's hours, a day under way whose day message came
with its hours still stored, a day message with no machine, machines with no OEE or no planned time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edge_agent import contract
from gateway.domain.network import day_period, mondays, weighted
from gateway.store.db import make_engine, session_factory, upgrade
from gateway.store.models import NetworkMachineFigures, NetworkPeriod, NetworkPracticeFigures
from gateway.store.network_repo import STOP_COLUMNS, keep, online_now, weeks
from harness.network_year import messages, store

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # a Friday afternoon
ZONE = "Europe/Paris"


@dataclass
class Reference:
    planned_h: float = 0.0
    running_h: float = 0.0
    free_h: float = 0.0
    good: int = 0
    scrap: int = 0
    practice_h: float = 0.0
    stops_h: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STOP_COLUMNS, 0.0))
    pairs: list[tuple[float | None, float]] = field(default_factory=list)


def reference_weeks(db: Session, shown: list[date]) -> dict[str, list[Reference]]:
    """Every row read and added in Python: what the page computed before the database summed for it."""
    first, last = shown[0], shown[-1] + timedelta(days=7)
    index = {monday: i for i, monday in enumerate(shown)}
    periods = list(db.scalars(select(NetworkPeriod).where(NetworkPeriod.day >= first, NetworkPeriod.day < last)))
    with_day = {(p.site, p.day) for p in periods if p.period == "day"}
    chosen = {p.id: p for p in periods if p.period == "day" or (p.site, p.day) not in with_day}
    result = {site: [Reference() for _ in shown] for site in sorted({p.site for p in periods})}

    def week_of(period_id: int) -> Reference:
        period = chosen[period_id]
        return result[period.site][index[period.day - timedelta(days=period.day.weekday())]]

    for m in db.scalars(select(NetworkMachineFigures)):
        if m.period_id in chosen:
            r = week_of(m.period_id)
            r.planned_h += m.planned_h
            r.running_h += m.running_h
            r.free_h += m.free_h
            r.good += m.good
            r.scrap += m.scrap
            r.pairs.append((m.oee, m.planned_h))
            for name, column in STOP_COLUMNS.items():
                r.stops_h[name] += getattr(m, column)
    for p in db.scalars(select(NetworkPracticeFigures)):
        if p.period_id in chosen:
            week_of(p.period_id).practice_h += p.hours
    return result


def reference_online(db: Session) -> dict[str, tuple[int, int, datetime]]:
    latest: dict[str, NetworkPeriod] = {}
    for period in db.scalars(select(NetworkPeriod).where(NetworkPeriod.period == "hour")):
        if period.site not in latest or period.start > latest[period.site].start:
            latest[period.site] = period
    found = {}
    for site, period in latest.items():
        rows = list(
            db.scalars(select(NetworkMachineFigures.online).where(NetworkMachineFigures.period_id == period.id))
        )
        found[site] = (sum(1 for r in rows if r), len(rows), period.version)
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path')}/network.sqlite"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def _seed(sessions: sessionmaker[Session]) -> None:
    store(sessions, messages(sites=4, machines=5, days=70, now=NOW, zone=ZONE, seed=7))
    where = day_period(NOW.date(), ZoneInfo(ZONE))
    with sessions.begin() as db:
        # school-01's day under way signed off early (not final): its hours stay stored, and must not count.
        day = next(messages(sites=1, machines=5, days=1, now=NOW, zone=ZONE, seed=9))
        keep(db=db, message=day.model_copy(update={"site": "school-01", "day": where.day, "start": where.start,
                                                    "end": where.end, "final": False}), received=NOW)  # fmt: skip
        # A school whose last day came with no machine (its hours of that day had stood in for it).
        empty = contract.NetworkAggregate(
            site="school-09", ts=NOW, period="day", day=where.day - timedelta(days=1),
            start=where.start - timedelta(days=1), end=where.start, final=False,
        )  # fmt: skip
        keep(db=db, message=empty, received=NOW)
        hour = next(m for m in messages(sites=1, machines=3, days=0, now=NOW, zone=ZONE, seed=3))
        moved = {"site": "school-09", "day": empty.day, "start": empty.start, "end": empty.start + timedelta(hours=1)}
        keep(db=db, message=hour.model_copy(update=moved), received=NOW)


def test_the_network_page_read_equals_the_sum_of_every_row(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    for shown in (mondays(date(2026, 11, 23), 8), mondays(date(2026, 9, 28), 8), mondays(date(2027, 3, 1), 8)):
        with sessions() as db:
            got, want = weeks(db=db, mondays=shown), reference_weeks(db, shown)
        assert list(got) == list(want)
        for site, expected in want.items():
            for figures, reference in zip(got[site], expected, strict=True):
                assert (figures.good, figures.scrap) == (reference.good, reference.scrap)
                for name in ("planned_h", "running_h", "free_h", "practice_h"):
                    assert getattr(figures, name) == pytest.approx(getattr(reference, name), abs=1e-9), name
                assert figures.stops_h == pytest.approx(reference.stops_h, abs=1e-9)
                oee = weighted(reference.pairs)
                assert figures.oee == (None if oee is None else pytest.approx(oee, abs=1e-9))
                assert figures.utilisation == (
                    None if reference.planned_h <= 0 else pytest.approx(reference.running_h / reference.planned_h)
                )
    with sessions() as db:
        shown = mondays(date(2026, 11, 23), 8)
        assert weeks(db=db, mondays=shown)["school-01"][-1].good > 0
        assert "school-09" in weeks(db=db, mondays=shown)
        online = {s: (o.online, o.machines, o.as_of) for s, o in online_now(db=db).items()}
        assert online == reference_online(db)
        assert set(online) == {"school-00", "school-01", "school-02", "school-03", "school-09"}
