"""One machine's task: driver -> tracker -> outbox, reconnecting the driver with back-off.

Each batch is stored before the next one is read, so the driver's pace never
outruns the disk. A driver failure marks the machine UNAVAILABLE (stored like
any other output) from the moment the link was lost (``loss_time``) and the link
is retried, doubling the wait; the agent never needs a restart. When the
outbox cannot store (disk full), the output is kept in memory and retried:
events are never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent import drivers, profiles
from edge_agent.config import MachineConfig
from edge_agent.contract import Availability
from edge_agent.drivers import Batch, Driver, Reading
from edge_agent.errors import DriverError, OutboxError
from edge_agent.outbox import Outbox
from edge_agent.profiles import Profile
from edge_agent.tracker import MachineTracker, TrackerOutput

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts: ``first_s`` doubling to ``max_s``, reset after ``healthy_s`` of good running."""

    first_s: float = 1.0
    max_s: float = 60.0
    healthy_s: float = 60.0

    def next(self, delay_s: float) -> float:
        return min(delay_s * 2, self.max_s)


def utc_now() -> datetime:
    return datetime.now(UTC)


def load_profile(machine: MachineConfig, profiles_dir: Path | None) -> Profile | None:
    """The machine's profile, or None; raises ``tomlconfig.ConfigError`` naming the file."""
    return profiles.load(machine.profile, profiles_dir) if machine.profile else None


def build_driver(machine: MachineConfig, profile: Profile | None, state_dir: Path | None = None) -> Driver:
    """Raises ValueError (unknown driver) or ``tomlconfig.ConfigError`` (bad options).

    Serial drivers get the agent's ``state_dir``: a GRBL machine's control socket lives under it.
    """
    options = profile.merged_options(machine.options) if profile is not None else dict(machine.options)
    if machine.driver == "serial" and state_dir is not None:
        options = {"state_dir": str(state_dir), **options}
    return drivers.build(machine.driver, machine_id=machine.id, options=options, profile=profile)


class Reassertions:
    """Each machine's current state, stated again when the publisher gets back to the broker.

    While the agent is away from the broker, the gateway marks its machines UNAVAILABLE (its Last
    Will). What changed meanwhile waits in the outbox and follows, but a quiet machine has nothing
    to say: without a fresh statement it would stay offline on the gateway until something changed.
    The publisher calls this after its birth message; each machine stores a ``state_changed`` with
    its current state, after whatever the outbox already holds.
    """

    def __init__(self) -> None:
        self._machines: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, machine_id: str, reassert: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._machines[machine_id] = reassert

    def remove(self, machine_id: str) -> None:
        self._machines.pop(machine_id, None)

    def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        for machine_id, reassert in list(self._machines.items()):
            task = loop.create_task(reassert(), name=f"reassert-{machine_id}")
            self._tasks.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)


async def run_machine(
    machine: MachineConfig,
    *,
    profile: Profile | None,
    outbox: Outbox,
    wake: Callable[[], None],
    driver: Driver | None = None,
    backoff: Backoff = Backoff(),
    clock: Clock = utc_now,
    reassertions: Reassertions | None = None,
) -> None:
    """Run until cancelled."""
    driver = driver or build_driver(machine, profile)
    sink = MachineSink(machine, outbox, wake, backoff=Backoff(first_s=backoff.first_s, max_s=30.0))
    tracker = MachineTracker(profile)

    async def reassert() -> None:
        now = clock()
        await sink.store(tracker.reassert(now), now)

    if reassertions is not None:
        reassertions.add(machine.id, reassert)
    try:
        await _run(machine, driver, sink, tracker, backoff=backoff, clock=clock)
    finally:
        if reassertions is not None:
            reassertions.remove(machine.id)


async def _run(
    machine: MachineConfig,
    driver: Driver,
    sink: MachineSink,
    tracker: MachineTracker,
    *,
    backoff: Backoff,
    clock: Clock,
) -> None:
    delay = backoff.first_s
    while True:
        linked_at: float | None = None
        try:
            async for batch in driver.readings():
                first = bool(batch) and linked_at is None
                if first:
                    linked_at = time.monotonic()
                await sink.take(tracker, _announce_link(batch) if first else batch)
            reason = "the driver stopped yielding readings"
        except Exception as err:  # any driver failure means: link lost, retry
            reason = _describe(err)
        if linked_at is not None and time.monotonic() - linked_at >= backoff.healthy_s:
            delay = backoff.first_s
        logger.warning("machine %s: link lost (%s); reconnecting in %.3g s", machine.id, reason, delay)
        lost = loss_time(driver, tracker, clock()) if linked_at is not None else clock()
        await sink.store(tracker.unavailable(lost), lost)
        await asyncio.sleep(delay)
        delay = backoff.next(delay)


class MachineSink:
    """Stores one machine's tracker outputs: events and state in the outbox, telemetry sampled."""

    def __init__(self, machine: MachineConfig, outbox: Outbox, wake: Callable[[], None], *, backoff: Backoff) -> None:
        self.machine = machine
        self.outbox = outbox
        self.wake = wake
        self.backoff = backoff
        self._telemetry: dict[str, float] = {}
        self._telemetry_sent_at: float | None = None

    async def take(self, tracker: MachineTracker, batch: Batch) -> None:
        if not batch:
            return
        ts = max(reading.ts for reading in batch)
        try:
            output = tracker.feed(batch)
        except Exception as err:  # one bad batch must not stop the machine
            _log_error("machine %s: cannot interpret a batch of %d readings: %s", self.machine.id, len(batch), err)
            return
        await self.store(output, ts)

    async def store(self, output: TrackerOutput, ts: datetime) -> None:
        if output.drafts or output.state_changed:
            await self._store_events(output, ts)
        if output.telemetry:
            self._sample(output.telemetry, ts)
        self.wake()

    async def _store_events(self, output: TrackerOutput, ts: datetime) -> None:
        state = output.state if output.state_changed else None
        delay, attempts = self.backoff.first_s, 0
        while True:
            try:
                self.outbox.put(self.machine.id, output.drafts, state, ts=ts)
            except OutboxError as err:
                attempts += 1
                self.wake()  # the publisher raises the alarm on the status topic
                if attempts == 1:
                    _log_error(
                        "machine %s: %s; keeping %d events in memory and retrying",
                        self.machine.id, err, len(output.drafts) + (state is not None),
                    )  # fmt: skip
                await asyncio.sleep(delay)
                delay = self.backoff.next(delay)
            except ValueError as err:
                _log_error("machine %s: events do not fit the contract, not stored: %s", self.machine.id, err)
                return
            else:
                if attempts:
                    logger.warning("machine %s: events stored after %d failed attempts", self.machine.id, attempts)
                return

    def _sample(self, values: dict[str, float], ts: datetime) -> None:
        # At most one sample per interval, carrying the latest value of every field.
        self._telemetry.update(values)
        now = time.monotonic()
        if self._telemetry_sent_at is not None and now - self._telemetry_sent_at < self.machine.telemetry_interval_s:
            return
        try:
            self.outbox.put_telemetry(self.machine.id, ts, self._telemetry)
        except OutboxError as err:
            logger.warning("machine %s: telemetry sample dropped: %s", self.machine.id, err)
        self._telemetry = {}
        self._telemetry_sent_at = now


def loss_time(driver: object, tracker: MachineTracker, detected: datetime) -> datetime:
    """When the link was lost: the last time the driver heard from the machine, else ``detected``.

    A silent line is noticed only after its read timeout (5 to 10 s), a cycle would run on and the
    outage start late by that much; the last byte in is the last moment the machine was known to be
    there. A driver that cannot say (an OPC UA subscription hears nothing from a quiet machine between
    keep-alives) leaves it to the detection time, later by at most its watchdog interval. Never before
    the tracker's last observation: the timeline stays in order.
    """
    heard: datetime | None = getattr(driver, "last_heard", None)
    if heard is None or heard > detected:
        return detected
    last = tracker.ts
    return heard if last is None else min(max(heard, last), detected)


def _announce_link(batch: Batch) -> Batch:
    # Drivers report signals, not their link: the first batch of a link says the machine is there.
    if any(reading.key == "availability" for reading in batch):
        return batch
    ts = min(reading.ts for reading in batch)
    return [Reading("availability", Availability.AVAILABLE.value, ts), *batch]


def _describe(err: Exception) -> str:
    text = str(err) or "no details"
    if isinstance(err, TimeoutError):
        return f"timed out {text}" if str(err) else "timed out"
    if isinstance(err, DriverError | OSError):
        return text
    return f"{type(err).__name__}: {text}"


def _log_error(message: str, *args: object) -> None:
    # An expected failure gets one line; a traceback would only bury the message.
    logger.error(message, *args)
