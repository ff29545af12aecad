"""While a backlog waits, ingest takes longer batches (up to four times ``batch_size``); otherwise ``batch_size``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from gateway.config import GatewaySection, GatewaySettings, IngestSection
from gateway.ingest.gaps import GapTracker
from gateway.ingest.inbox import DRAIN_BATCHES
from gateway.ingest.messages import Received
from gateway.ingest.service import Ingest


def _received(n: int) -> list[Received]:
    now = datetime.now(UTC)
    return [Received(f"t/{i}", b"{}", i, 1, False, 1, now) for i in range(n)]


def _sizes(queued: int, batch_size: int) -> list[int]:
    """The sizes of the batches ingest takes from ``queued`` messages waiting in its inbox."""

    async def take() -> list[int]:
        settings = GatewaySettings(gateway=GatewaySection(id="gw"), ingest=IngestSection(batch_size=batch_size))
        none: Any = None  # the projector and live view are not reached: only batches are taken here
        ingest = Ingest(settings=settings, projector=none, live=none, tracker=GapTracker(timeout_s=10.0))
        ingest._inbox.bind(asyncio.get_running_loop())
        ingest._inbox.put_many(_received(queued))
        ingest._inbox.close()
        sizes, done = [], False
        while not done:
            batch, done = await ingest._next_batch()
            sizes.append(len(batch))
        return sizes

    return asyncio.run(take())


def test_a_backlog_is_taken_in_longer_batches_and_its_tail_in_normal_ones() -> None:
    assert DRAIN_BATCHES == 4
    # 2,600 waiting: 2,000 (four batches' worth), then 600 left is not two batches: 500, then 100.
    assert _sizes(2600, 500) == [2000, 500, 100]


def test_two_batches_waiting_are_a_backlog_and_less_is_not() -> None:
    assert _sizes(1000, 500) == [1000]
    assert _sizes(999, 500) == [500, 499]
