"""A built-in simulated CNC for demos and tests: seeded, deterministic, in real or virtual time.

``SimulatorDriver`` plays a ``SimulatorScript`` against an injected clock and sleep,
yields the batches with canonical keys (no profile needed), and keeps a truth
record of each cycle it completed or aborted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from edge_agent.contract import utc_iso
from edge_agent.drivers import Batch, Reading
from edge_agent.drivers.simulator.script import CycleEnd, SimulatorOptions, SimulatorScript
from edge_agent.errors import DriverError
from edge_agent.profiles import Profile
from plumbing import tomlconfig

__all__ = ["SimulatorDriver", "SimulatorOptions", "build"]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class _Record:
    """The simulator's truth: one flushed JSON line per cycle, so a SIGKILL keeps every line written."""

    def __init__(self, path: Path, machine: str) -> None:
        self._machine = machine
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO = path.open("a", encoding="utf-8")
        except OSError as err:
            raise DriverError(f"cannot open the simulator record {path}: {err}") from err

    def write(self, end: CycleEnd, started: datetime, ended: datetime, held: timedelta) -> None:
        line = {
            "machine": self._machine,
            "program": end.program,
            "started": utc_iso(started),
            "ended": utc_iso(ended),
            "duration_s": (ended - started).total_seconds(),
            "held_s": held.total_seconds(),
            "parts": end.parts,
            "outcome": end.outcome.value,
        }
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatorDriver:
    def __init__(
        self, *, machine_id: str, options: SimulatorOptions, clock: Clock = _utc_now, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.machine_id = machine_id
        self.options = options
        self._clock = clock
        self._sleep = sleep

    async def readings(self) -> AsyncGenerator[Batch, None]:
        record = _Record(self.options.record_path, self.machine_id) if self.options.record_path else None
        started = self._clock()
        held = timedelta(0)
        hold_ts = started
        try:
            for step in SimulatorScript(self.options).steps():
                if step.delay_s > 0:
                    await self._sleep(step.delay_s)
                ts = self._clock()
                yield [Reading(key, value, ts) for key, value in step.values.items()]
                # Only now has the consumer taken the batch (the agent stores it before asking
                # for the next), so a recorded cycle is always one the agent has stored.
                match step.mark:
                    case "start":
                        started, held = ts, timedelta(0)
                    case "hold":
                        hold_ts = ts
                    case "resume":
                        held += ts - hold_ts
                    case CycleEnd() if record is not None:
                        record.write(step.mark, started, ts, held)
            while True:
                await self._sleep(3600.0)
        finally:
            if record is not None:
                record.close()


def build(*, machine_id: str, options: dict[str, Any], profile: Profile | None) -> SimulatorDriver:
    merged = profile.merged_options(options) if profile is not None else dict(options)
    parsed = tomlconfig.validate(
        SimulatorOptions, merged, file="edge configuration", prefix=f"machines.{machine_id}.options"
    )
    profile_max = profile.counter_max if profile is not None else None
    if parsed.counter_max is None and profile_max is not None:
        parsed = parsed.model_copy(update={"counter_max": profile_max})
    elif parsed.counter and parsed.counter_max is not None and parsed.counter_max != profile_max:
        logger.warning(
            "machine %s: the simulator's counter rolls over after %d but the profile's counter_max is %s; "
            "parts at the roll-over will be miscounted",
            machine_id,
            parsed.counter_max,
            profile_max,
        )
    return SimulatorDriver(machine_id=machine_id, options=parsed)
