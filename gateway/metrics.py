"""The gateway's own counters, and the Prometheus text format they are scraped in (written by hand).

Counters are incremented where things happen (ingest, the MQTT consumer, the
Influx sink) and only read at scrape time; what costs a query, such as a
table's row count, is cached for ``TOTALS_TTL_S``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.projection import BatchOutcome

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COMMIT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TOTALS_TTL_S = 15.0

Labels = Mapping[str, str]


@dataclass
class Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(init=False)  # per bucket, not cumulative; the last one is +Inf
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        index = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
        self.counts[index] += 1
        self.total += value
        self.count += 1


@dataclass
class IngestStats:
    """Written by the ingest loop only (one thread), read by the scrape."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0
    replay_requests: int = 0
    commit_seconds: Histogram = field(default_factory=lambda: Histogram(COMMIT_BUCKETS_S))

    def committed(self, outcome: BatchOutcome, seconds: float) -> None:
        self.accepted += len(outcome.accepted)
        self.duplicates += outcome.duplicates
        self.dead_letters += outcome.dead_letters
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


class Exposition:
    """Builds one scrape in the Prometheus text format, version 0.0.4."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def add(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: float | Iterable[tuple[Labels, float]],
    ) -> None:
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")
        if isinstance(samples, int | float):
            samples = [({}, samples)]
        self._lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples)

    def histogram(self, name: str, help_text: str, histogram: Histogram) -> None:
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} histogram")
        cumulative = 0
        for bound, count in zip((*histogram.bounds, math.inf), histogram.counts, strict=True):
            cumulative += count
            self._lines.append(f"{name}_bucket{_labels({'le': _number(bound)})} {cumulative}")
        self._lines.append(f"{name}_sum {_number(histogram.total)}")
        self._lines.append(f"{name}_count {histogram.count}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(value)
