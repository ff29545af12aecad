"""A debug timeline of ingest's batches: when each one crossed each hand-off, to find where a batch waits.

Off unless ``ATELIER_INGEST_TIMELINE`` names a file (the ingest benchmark sets it): then each committed
batch appends one JSON line of wall-clock times (``time.time()``, so that the receiver process's times
compare with the gateway's) at each stage, and ``bench/timeline.py`` prints where the time went. Off, a
mark is one attribute test.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import IO

from gateway.ingest.messages import Received

ENV = "ATELIER_INGEST_TIMELINE"


class Timeline:
    def __init__(self, path: str | None = None) -> None:
        self._path = path if path is not None else os.environ.get(ENV, "")
        self._out: IO[str] | None = None  # opened at the first batch, line-buffered: a killed gateway's lines stay
        self.enabled = bool(self._path)

    def record(self, batch: Sequence[Received], marks: dict[str, float]) -> None:
        """One batch: its first and last message's reception in the child, then ``marks`` (stage: time)."""
        if not self.enabled or not batch:
            return
        if self._out is None:
            self._out = open(self._path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        line = {
            "size": len(batch),
            "received_first": batch[0].received_at.timestamp(),
            "received_last": batch[-1].received_at.timestamp(),
            **marks,
        }
        self._out.write(json.dumps(line) + "\n")

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def now() -> float:
    return time.time()
