"""Serial fixtures: transcripts recorded from controls, simulators on real pseudo-terminals."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atelier.simulators import GrblSimulator
from edge_agent.drafts import Draft
from edge_agent.drivers import Batch, Driver, Reading
from edge_agent.profiles import Profile
from edge_agent.tracker import MachineTracker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "serial"
TS = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)


def transcript_lines(dialect: str, name: str) -> list[str]:
    text = (FIXTURES / dialect / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.startswith("#")]


def haas_exchanges(name: str) -> list[tuple[str, bytes]]:
    """(request, bytes received) pairs from a Haas transcript with <STX>, <ETB> and \\r\\n written out."""
    lines = transcript_lines("haas", name)
    pairs = []
    for request, received in zip(lines[::2], lines[1::2], strict=True):
        assert request.startswith("> ")
        raw = received.replace("<STX>", "\x02").replace("<ETB>", "\x17").replace("\\r\\n", "\r\n")
        pairs.append((request[2:], raw.encode("ascii")))
    return pairs


def values(batch: Batch | list[Reading]) -> dict[str, object]:
    return {r.key: r.value for r in batch}


async def wait_for(predicate: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def track(profile: Profile, *runs: Collector) -> list[Draft]:
    """Feed the runs' batches through a tracker as the pipeline would: available on the first batch of
    each run, unavailable after a run that ended with an error."""
    tracker = MachineTracker(profile)
    drafts: list[Draft] = []
    for run in runs:
        for index, batch in enumerate(run.batches):
            link = [Reading("availability", "AVAILABLE", batch[0].ts)] if index == 0 else []
            drafts += tracker.feed([*link, *batch]).drafts
        if run.error is not None and run.batches:
            drafts += tracker.unavailable(run.batches[-1][-1].ts).drafts
    return drafts


class Collector:
    """Runs a driver in a task and keeps every batch (or the error that ended it)."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.batches: list[Batch] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for batch in self.driver.readings():
                self.batches.append(batch)
        except Exception as err:  # the test inspects it
            self.error = err

    def latest(self, key: str) -> object:
        for batch in reversed(self.batches):
            for reading in reversed(batch):
                if reading.key == key:
                    return reading.value
        return None

    def seen(self, key: str, value: object) -> bool:
        return any(r.key == key and r.value == value for b in self.batches for r in b)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def collect() -> AsyncIterator[Callable[[Driver], Collector]]:
    made: list[Collector] = []

    def start(driver: Driver) -> Collector:
        made.append(Collector(driver))
        return made[-1]

    yield start
    for collector in made:
        await collector.stop()


@pytest.fixture
def grbl_sim(tmp_path: Path) -> Iterator[GrblSimulator]:
    sim = GrblSimulator(tmp_path / "ttyGRBL", speed=20.0)
    sim.start()
    yield sim
    sim.stop()
