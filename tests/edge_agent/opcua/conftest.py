"""Real asyncua servers (the OPC UA simulators) on free loopback ports, a reader of driver batches, and a
tracker fed with them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from atelier.broker import free_port
from atelier.simulators.opcua_cnc import OpcUaCnc
from edge_agent.contract import CycleEnded, MachineState
from edge_agent.drafts import Draft
from edge_agent.drivers import Batch, Driver, Reading
from edge_agent.profiles import Profile
from edge_agent.tracker import MachineTracker

# Short intervals keep the suite fast; deadlines stay generous for a loaded 2-core machine.
FAST = {
    "publishing_interval_ms": 50,
    "sampling_interval_ms": 0,
    "keepalive_count": 5,
    "watchdog_interval_s": 0.3,
    "request_timeout_s": 2.0,
    "connect_timeout_s": 5.0,
    "poll_interval_s": 0.1,
}
DEADLINE_S = 10.0
SINUMERIK = "nsu=SinumerikVarProvider;s="


class Reader:
    """Runs ``driver.readings()`` in a task; keeps every batch and the error that ended it."""

    def __init__(self, driver: Driver) -> None:
        self.batches: list[Batch] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(driver))

    async def _run(self, driver: Driver) -> None:
        try:
            async for batch in driver.readings():
                self.batches.append(batch)
                self._changed.set()
        except Exception as err:  # the test inspects it
            self.error = err
            self._changed.set()

    @property
    def readings(self) -> list[Reading]:
        return [r for batch in self.batches for r in batch]

    async def until(self, condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
        async with asyncio.timeout(deadline_s):
            while not condition():
                if self.error is not None:
                    raise AssertionError(f"driver failed while waiting for {what}: {self.error}")
                self._changed.clear()
                await self._changed.wait()

    async def ended(self, deadline_s: float = DEADLINE_S) -> BaseException:
        async with asyncio.timeout(deadline_s):
            await self._task
        assert self.error is not None, "the driver stopped without an error"
        return self.error

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def values(self, key: str) -> list[Any]:
        return [r.value for r in self.readings if r.key == key]


class Fed:
    """Feeds every driver batch to a MachineTracker, as the pipeline does, and keeps the drafts.

    ``relink`` is what the pipeline does when a session ends: the machine is UNAVAILABLE, and the next
    ``readings()`` call of the same driver feeds the same tracker.
    """

    def __init__(self, reader: Reader, profile: Profile) -> None:
        self.reader = reader
        self.tracker = MachineTracker(profile)
        self.drafts: list[Draft] = []
        self.fed = 0

    def pump(self) -> None:
        for n, batch in enumerate(self.reader.batches[self.fed :], start=self.fed):
            # As the pipeline does: a link's first batch says the machine is there.
            link = [Reading("availability", "AVAILABLE", min(r.ts for r in batch))] if n == 0 else []
            self.drafts.extend(self.tracker.feed([*link, *batch]).drafts)
        self.fed = len(self.reader.batches)

    def relink(self, reader: Reader, ts: datetime) -> None:
        self.pump()
        self.drafts.extend(self.tracker.unavailable(ts).drafts)
        self.reader, self.fed = reader, 0

    async def until(self, condition: Callable[[MachineState], bool], what: str) -> None:
        def check() -> bool:
            self.pump()
            return condition(self.tracker.state)

        await self.reader.until(check, what)

    def ended(self) -> list[Draft]:
        self.pump()
        return [d for d in self.drafts if d.type is CycleEnded]


@pytest.fixture
async def cnc_factory() -> AsyncIterator[Callable[..., Awaitable[OpcUaCnc]]]:
    started: list[OpcUaCnc] = []

    async def make(**kwargs: Any) -> OpcUaCnc:
        kwargs.setdefault("port", free_port())
        kwargs.setdefault("autoplay", False)
        cnc = OpcUaCnc(**kwargs)
        await cnc.start()
        started.append(cnc)
        return cnc

    yield make
    for cnc in started:
        await cnc.close()


@pytest.fixture
async def readers() -> AsyncIterator[Callable[[Driver], Reader]]:
    made: list[Reader] = []

    def make(driver: Driver) -> Reader:
        reader = Reader(driver)
        made.append(reader)
        return reader

    yield make
    for reader in made:
        await reader.close()


def options(endpoint: str, nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "nodes": nodes, **FAST, **extra}
