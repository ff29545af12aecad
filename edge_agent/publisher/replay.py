"""Replay requests from the gateway: the outbox's kept rows for a range of seq, sent again ahead of new ones."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import replace

from edge_agent import contract
from edge_agent.errors import OutboxError
from edge_agent.outbox import Outbox, OutboxItem
from edge_agent.stats import AgentStats

logger = logging.getLogger(__name__)

# A replay is for repairing gaps, not for re-sending a day of history in one go.
MAX_REPLAY = 100_000


class Replays:
    def __init__(self, outbox: Outbox, stats: AgentStats) -> None:
        self.outbox = outbox
        self.stats = stats
        self._queue: deque[OutboxItem] = deque()

    def requested(self, topic: str, payload: bytes) -> bool:
        """Queue what a request on ``topic`` asks for; False if it was ignored (logged)."""
        try:
            _, message = contract.decode(topic, payload)
        except contract.ContractError as err:
            logger.warning("ignored a replay request on %s: %s", topic, err.reason)
            return False
        if not isinstance(message, contract.ReplayRequest) or message.first > message.last:
            logger.warning("ignored a replay request on %s: not a valid range", topic)
            return False
        last = min(message.last, message.first + MAX_REPLAY - 1)
        try:
            items = self.outbox.replay(message.first, last)
        except OutboxError as err:
            logger.error("cannot replay seq %d..%d: %s", message.first, last, err)  # noqa: TRY400 - one line
            return False
        # An old snapshot must not replace the retained current state.
        self._queue.extend(replace(item, retain=contract.RETAIN_WHEN_REPLAYED) for item in items)
        self.stats.replay_requests += 1
        self.stats.replayed += len(items)
        logger.info(
            "replaying seq %d..%d for %s: %d events still kept",
            message.first, last, message.requester or "?", len(items),
        )  # fmt: skip
        return True

    def next(self) -> OutboxItem | None:
        return self._queue.popleft() if self._queue else None
