"""The gateway's own counters, scraped at ``/metrics`` in the Prometheus text format (``plumbing.prometheus``).

Counters are incremented where things happen (ingest, the MQTT consumer, the
Influx sink) and only read at scrape time; what costs a query, such as a
table's row count, is cached for ``TOTALS_TTL_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plumbing.prometheus import Histogram

if TYPE_CHECKING:
    from gateway.ingest.messages import BatchOutcome

COMMIT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TOTALS_TTL_S = 15.0


@dataclass
class IngestStats:
    """Written by the ingest loop only (one thread), read by the scrape."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0
    replay_requests: int = 0
    ownership_refusals: int = 0  # machine messages and status claims refused: not the machine's owner
    replayed_batches: int = 0  # written again message by message after a failure
    split_batches: int = 0  # split in halves to isolate the message at fault
    stalls: int = 0
    dead_letters_purged: int = 0
    commit_seconds: Histogram = field(default_factory=lambda: Histogram(COMMIT_BUCKETS_S))

    def committed(self, outcome: BatchOutcome, seconds: float) -> None:
        self.accepted += len(outcome.accepted)
        self.duplicates += outcome.duplicates
        self.dead_letters += outcome.dead_letters
        self.ownership_refusals += outcome.foreign + outcome.claims_refused
        self.replayed_batches += outcome.replays
        self.split_batches += outcome.splits
        self.batches += 1
        self.commit_seconds.observe(seconds)


class CachedTotal:
    """A value that costs a query, refreshed at most every ``ttl_s``."""

    def __init__(self, ttl_s: float = TOTALS_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._value: int | None = None
        self._at = 0.0

    def fresh(self) -> int | None:
        if self._value is None or self._clock() - self._at > self._ttl_s:
            return None
        return self._value

    def set(self, value: int) -> None:
        self._value, self._at = value, self._clock()
