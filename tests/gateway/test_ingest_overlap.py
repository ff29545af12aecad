"""The batch loop hands the next write to the database thread before the live view of the committed batch.

The projector and the live view are recorders here (their real versions are exercised with real stores in
test_ingest.py and test_backlog_batches.py); what is checked is the loop's order: writes one at a time in
batch order, each batch's live view after its own commit, in order, and never held back waiting for a
batch that has not arrived; a failed write retried before any later one; the timeline written when asked.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from gateway.config import GatewaySection, GatewaySettings, IngestSection
from gateway.ingest import service
from gateway.ingest.decoding import Entry
from gateway.ingest.gaps import GapTracker
from gateway.ingest.messages import BatchOutcome, Received
from gateway.ingest.service import Ingest
from gateway.ingest.timeline import ENV


def _received(first: int, n: int) -> list[Received]:
    now = datetime.now(UTC)
    return [Received(f"t/{i}", b"{}", i, 1, False, 1, now) for i in range(first, first + n)]


class Recorder:
    """Stands for the projector and the live view: a log of what happened, in order, from both threads."""

    def __init__(self, fail_first_write_of: int | None = None) -> None:
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._fail = fail_first_write_of
        self.release_first = threading.Event()

    def _note(self, what: str, batch: int) -> None:
        with self._lock:
            self.log.append((what, batch))

    def apply_decoded(self, entries: list[Entry], *, gaps: Any) -> BatchOutcome:
        first = entries[0][0].mid
        self._note("write", first)
        if first == 0:
            self.release_first.wait(5)  # the first write lasts until the test has queued the next batches
        if first == self._fail:
            self._fail = None
            raise OperationalError("INSERT", {}, Exception("the store is unwell"))
        accepted: Any = [first]  # the live view below reads it back
        return BatchOutcome(accepted=accepted)

    def apply(self, accepted: list[int]) -> None:
        first = accepted[0]
        # Blocks the event loop a moment: the next batch's write can only start meanwhile if the loop handed it
        # to the database thread before it came here.
        for _ in range(50):
            if ("write", first + 10) in self.log:
                break
            threading.Event().wait(0.01)
        self._note("live", first)


async def _run(recorder: Recorder, batches: int, *, close: bool) -> Ingest:
    settings = GatewaySettings(gateway=GatewaySection(id="gw"), ingest=IngestSection(batch_size=10, batch_ms=1))
    recorder_: Any = recorder
    ingest = Ingest(settings=settings, projector=recorder_, live=recorder_, tracker=GapTracker(timeout_s=10.0))
    ingest._inbox.bind(asyncio.get_running_loop())
    loop_task = asyncio.create_task(ingest._batch_loop())
    ingest._inbox.put_many(_received(0, 10))
    await asyncio.sleep(0.05)  # the first batch is taken and being written
    for b in range(1, batches):
        ingest._inbox.put_many(_received(b * 10, 10))
    await asyncio.sleep(0.05)  # the second batch is taken and decoded while the first is still being written
    recorder.release_first.set()
    if close:
        ingest._inbox.close()
        await asyncio.wait_for(loop_task, 10)
    else:
        for _ in range(200):
            if ("live", (batches - 1) * 10) in recorder.log:
                break
            await asyncio.sleep(0.01)
        loop_task.cancel()
        await asyncio.gather(loop_task, return_exceptions=True)
    ingest._executor.shutdown(wait=True)
    ingest._decoder.shutdown(wait=True)
    ingest._timeline.close()
    return ingest


def test_the_next_write_goes_before_the_live_view_and_every_live_view_follows_its_commit_in_order() -> None:
    recorder = Recorder()
    ingest = asyncio.run(_run(recorder, 3, close=True))
    writes = [b for what, b in recorder.log if what == "write"]
    lives = [b for what, b in recorder.log if what == "live"]
    assert writes == [0, 10, 20]
    assert lives == [0, 10, 20]
    for b in lives:
        assert recorder.log.index(("write", b)) < recorder.log.index(("live", b))
    # Batch 10 was decoded while batch 0 was written: its write was handed over before batch 0's live view.
    assert recorder.log.index(("write", 10)) < recorder.log.index(("live", 0))
    assert ingest.batches == 3


def test_the_last_batch_s_live_view_does_not_wait_for_a_next_batch() -> None:
    recorder = Recorder()
    asyncio.run(_run(recorder, 2, close=False))  # the inbox stays open and empty after the second batch
    assert ("live", 10) in recorder.log


def test_a_failed_write_is_retried_before_any_later_batch_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RETRY_MIN_S", 0.01)
    recorder = Recorder(fail_first_write_of=10)
    ingest = asyncio.run(_run(recorder, 3, close=True))
    writes = [b for what, b in recorder.log if what == "write"]
    assert writes == [0, 10, 10, 20]
    assert [b for what, b in recorder.log if what == "live"] == [0, 10, 20]
    assert ingest.batches == 3


def test_the_timeline_has_a_line_per_batch_with_its_hand_offs_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "timeline.jsonl"
    monkeypatch.setenv(ENV, str(path))
    asyncio.run(_run(Recorder(), 3, close=True))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["size"] for line in lines] == [10, 10, 10]
    order = ["take_start", "taken", "decode_start", "decoded", "write_start", "committed", "loop_has_commit"]
    for line in lines:
        times = [line[mark] for mark in order]
        assert times == sorted(times)
        assert line["done"] >= line["acks_sent"] >= line["loop_has_commit"]
        assert line["write_cpu"] >= 0
        assert line["decode_cpu"] >= 0
