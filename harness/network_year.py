"""Believable network aggregates: what S schools of M machines publish over some days and today's hours,
as ``contract.NetworkAggregate`` messages, stored through the network gateway's own ``network_repo.keep``.
The network page's benchmark (``bench/network_page.py``) and its equality test share it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from edge_agent import contract
from gateway.domain.network import Period, day_period, hours_of_today
from gateway.store.network_repo import keep

GROUPS = (("CAP1", "CAP"), ("CAP2", "CAP"), ("BP1", "BAC_PRO"), ("BP2", "BAC_PRO"))


def _machines(rng: random.Random, names: list[str], length_h: float) -> tuple[contract.MachineAggregate, ...]:
    found = []
    for name in names:
        planned = 0.0 if rng.random() < 0.05 else round(min(length_h, 8.0) * rng.uniform(0.3, 1.0), 4)
        running = round(planned * rng.uniform(0.0, 0.9), 4)
        stops = planned - running
        found.append(
            contract.MachineAggregate(
                machine=name,
                online=rng.random() < 0.9,
                planned_h=planned,
                running_h=running,
                free_h=round(planned - running, 4),
                good=rng.randrange(0, 200),
                scrap=rng.randrange(0, 5),
                oee=None if planned == 0 or rng.random() < 0.1 else round(rng.uniform(0.1, 1.1), 4),
                stops=contract.StopHours(
                    setup=round(stops * 0.3, 4), technical=round(stops * 0.2, 4), unclassified=round(stops * 0.5, 4)
                ),
            )
        )
    return tuple(found)


def messages(
    *, sites: int, machines: int, days: int, now: datetime, zone: str, seed: int = 1
) -> Iterator[contract.NetworkAggregate]:
    """Per site: ``days`` finished days before ``now``'s day, then the hours of today up to ``now``."""
    rng = random.Random(seed)  # noqa: S311 - believable numbers, the same at every run
    where = ZoneInfo(zone)
    today = now.astimezone(where).date()
    names = [f"m{i:02d}" for i in range(machines)]
    for s in range(sites):
        site = f"school-{s:02d}"
        for back in range(days, 0, -1):
            period = day_period(today - timedelta(days=back), where)
            yield _message(rng, site, names, period, final=True, now=now)
        for hour in hours_of_today(now, where):
            yield _message(rng, site, names, hour, final=False, now=now)


def _message(
    rng: random.Random,
    site: str,
    names: list[str],
    period: Period,
    *,
    final: bool,
    now: datetime,
) -> contract.NetworkAggregate:
    kind, day, start, end = period.kind, period.day, period.start, period.end
    length_h = (end - start).total_seconds() / 3600
    practice = tuple(
        contract.PracticeHours(class_label=label, track=track, hours=round(rng.uniform(0, 40 * length_h / 24), 4))
        for label, track in GROUPS
        if rng.random() < 0.8
    )
    return contract.NetworkAggregate(
        site=site,
        ts=min(now, end).astimezone(UTC),
        period=kind,
        day=day,
        start=start,
        end=end,
        final=final,
        machines=_machines(rng, names, length_h),
        practice=practice,
    )


def store(sessions: sessionmaker[Session], stream: Iterator[contract.NetworkAggregate], *, batch: int = 500) -> int:
    """Keep every message (``network_repo.keep``), ``batch`` to a transaction; how many."""
    count = 0
    while True:
        with sessions.begin() as db:
            for _ in range(batch):
                message = next(stream, None)
                if message is None:
                    return count
                keep(db=db, message=message, received=message.ts)
                count += 1
