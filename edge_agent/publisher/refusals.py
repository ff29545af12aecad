"""Topics the broker refused (its ACL denies them): held back for a while, then offered again.

A refused row is never marked sent: it waits in the outbox. mosquitto 2.0.11 also drops the connection on the
packet after a refused one, so retrying at once would loop reconnecting and hold back every other machine of the
agent behind the refused rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from edge_agent.config import BrokerSection
from edge_agent.outbox import OutboxItem
from edge_agent.stats import AgentStats

logger = logging.getLogger(__name__)

REFUSED_RETRY_S = 300.0


class Refusals:
    def __init__(
        self, broker: BrokerSection, stats: AgentStats, *, retry_s: float, wake_in: Callable[[float], None]
    ) -> None:
        self.broker = broker
        self.stats = stats
        self.retry_s = retry_s
        self._wake_in = wake_in
        self._until: dict[str, float] = {}  # topic -> monotonic time it may be published again

    def held(self, topic: str) -> bool:
        return topic in self._until

    def refused(self, item: OutboxItem, reason: str) -> None:
        """One ERROR line per topic, not one per message; its rows stay unsent."""
        self.stats.refused += 1
        host, port = self.broker.host, self.broker.port
        if item.topic in self._until:
            logger.debug("broker %s:%d refused seq %d on %s: %s", host, port, item.seq, item.topic, reason)
            return
        self._until[item.topic] = time.monotonic() + self.retry_s
        self._wake_in(self.retry_s)
        logger.error(
            "broker %s:%d refused a message on %s: %s (user %s); its messages stay unsent in the outbox and are "
            "offered again in %.0f s: fix the broker's access rules for this agent and machine",
            host, port, item.topic, reason, self.broker.username or "(anonymous)", self.retry_s,
        )  # fmt: skip

    def expire(self) -> bool:
        """Offer again the topics whose time is up; True if any was (their rows are behind the drain's cursor)."""
        now = time.monotonic()
        expired = [topic for topic, at in self._until.items() if at <= now]
        for topic in expired:
            del self._until[topic]
        if expired:
            logger.info("offering messages on %s again", ", ".join(expired))
        return bool(expired)
