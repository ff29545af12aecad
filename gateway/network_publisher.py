"""A school's gateway publishes its aggregates to the network (``[network] publish = true``).

Every ``interval_s`` it computes, per site it hosts (``[gateway] site``: one, a list, or every one), the
last two hours of today (every hour of today when the site's machines changed: a machine first seen today
joins the hours already sent) and the last ``republish_days`` finished days, and publishes those whose
numbers changed since it last sent them, at QoS 1 on ``contract.network_topic(site)``, through the
gateway's own MQTT session (the path of replay requests). A late event that changes a finished day
changes its numbers, so the day goes again. After every (re)connection, and every ``FULL_EVERY_S`` in any
case, it forgets what it sent and sends everything again: the network's gateway keeps the newest version
of each period, so repeats cost nothing and a school whose link to the network was cut fills its gaps on
its own (docs/network.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select

from edge_agent import contract
from gateway.config import GatewaySettings
from gateway.domain.network import finished_days, hours_of_today
from gateway.store.db import Database
from gateway.store.models import Machine
from gateway.store.network_outbound import aggregate, sites

logger = logging.getLogger(__name__)

FULL_EVERY_S = 6 * 3600.0
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class Link(Protocol):
    """What the publisher needs of an MQTT session: publish, and a count of connections (a change: a reconnect)."""

    connections: int

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> bool: ...


class NetworkPublisher:
    def __init__(
        self,
        settings: GatewaySettings,
        database: Database,
        link: Callable[[], Link | None],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._database = database
        self._link = link
        self._clock = clock
        self._monotonic = monotonic
        self._sent: dict[tuple[str, str, datetime], str] = {}  # (site, period, start) → fingerprint sent
        self._machines: dict[str, frozenset[str]] = {}  # site → its machines at the last round
        self._connections: int | None = None
        self._full_at = 0.0
        self.published = 0

    def round(self) -> int:
        """One pass (blocking: run it off the event loop); how many messages were published."""
        link = self._link()
        if link is None:
            return 0
        full = link.connections != self._connections or self._monotonic() >= self._full_at
        if full:
            self._sent.clear()
            self._connections = link.connections
            self._full_at = self._monotonic() + FULL_EVERY_S
        now = self._clock()
        section = self._settings.network
        zone = self._settings.records.zone()
        today = hours_of_today(now, zone)
        recent = today if full else today[-2:]
        days = finished_days(now, zone, section.republish_days)
        sent = 0
        with self._database.sessions() as db:
            for site in sites(db=db):
                if not self._settings.gateway.hosts(site):
                    continue
                # A machine first seen today is in every hour of today from now on (its planned time, even
                # with no work in it): the hours already sent without it go again, not at the next full round.
                machines = frozenset(db.scalars(select(Machine.name).where(Machine.site == site)))
                joined = self._machines.get(site) != machines
                self._machines[site] = machines
                for period in (today if joined else recent) + days:
                    try:
                        message = aggregate(
                            db=db,
                            site=site,
                            period=period,
                            now=now,
                            zone=self._settings.records.timezone,
                            min_students=section.min_group_students,
                        )
                    except ValueError:  # numbers the contract refuses (a site of more machines than it carries)
                        logger.exception("network aggregate of site=%s start=%s not sent", site, period.start)
                        continue
                    sent += self._offer(link, message)
        return sent

    def _offer(self, link: Link, message: contract.NetworkAggregate) -> int:
        key = (message.site, message.period, message.start)
        # The numbers, not when they were computed: an unchanged day is not sent again.
        fingerprint = hashlib.sha256(contract.encode(message.model_copy(update={"ts": _EPOCH}))).hexdigest()
        if self._sent.get(key) == fingerprint:
            return 0
        delivery = contract.DELIVERY["aggregate"]
        topic = contract.network_topic(message.site)
        if not link.publish(topic, contract.encode(message), qos=delivery.qos, retain=delivery.retain):
            self._connections = None  # not sent: everything goes again once the link is back
            return 0
        self._sent[key] = fingerprint
        self.published += 1
        return 1

    async def run(self) -> None:
        interval = self._settings.network.interval_s
        while True:
            try:
                sent = await asyncio.to_thread(self.round)
                if sent:
                    logger.info("network aggregates published count=%d", sent)
            except Exception:  # a failed round must not end the task: the next one tries again
                logger.exception("network aggregates: the round failed; next in %.0f s", interval)
            await asyncio.sleep(interval)
