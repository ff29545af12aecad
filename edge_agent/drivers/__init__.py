"""Drivers speak one protocol each and yield raw readings; they know nothing of MQTT.

A driver is built from the machine's ``options`` table and its profile, and its
``readings()`` async generator yields batches of readings that the control
reported together (one OPC UA notification, one GRBL status report). Batches
matter: a counter step and PROGRAM_COMPLETED reported together are one change.
It opens its own connection, closes it in ``finally``, and lets connection
errors propagate as ``DriverError`` to the machine's task
(``pipeline.run_machine``), which marks the machine UNAVAILABLE and reconnects
with back-off.

A driver that knows when it last heard from the machine (any byte on a serial line)
says so in a ``last_heard`` attribute (UTC, ``None`` before the first): the pipeline
then starts the outage there rather than when the silence was noticed, so a cycle cut
by the loss ends there too (``pipeline.loss_time``).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from edge_agent.profiles import Profile


@dataclass(frozen=True, slots=True)
class Reading:
    """One observed value: ``key`` is the driver's signal name, ``ts`` the source time (UTC)."""

    key: str
    value: Any
    ts: datetime


Batch = Sequence[Reading]

# Transient markers a driver may report besides state signals (keys the profile can map to).
PROGRAM_END = "program_end"  # M30/M2 seen, GRBL [MSG:Pgm End]
CONTROL_RESET = "control_reset"  # control rebooted or reset (GRBL welcome banner)


class Driver(Protocol):
    def readings(self) -> AsyncIterator[Batch]: ...


class DriverFactory(Protocol):
    def __call__(self, *, machine_id: str, options: dict[str, Any], profile: Profile | None) -> Driver: ...


# Import paths rather than classes: the agent imports asyncua only when a machine needs it.
DRIVERS: dict[str, str] = {
    "simulator": "edge_agent.drivers.simulator.driver:build",
    "opcua": "edge_agent.drivers.opcua.driver:build",
    "serial": "edge_agent.drivers.serial.driver:build",
}


def build(kind: str, *, machine_id: str, options: dict[str, Any], profile: Profile | None) -> Driver:
    try:
        target = DRIVERS[kind]
    except KeyError as err:
        raise ValueError(f"unknown driver {kind!r}; known: {', '.join(sorted(DRIVERS))}") from err
    module_name, _, attr = target.partition(":")
    factory: DriverFactory = getattr(importlib.import_module(module_name), attr)
    return factory(machine_id=machine_id, options=options, profile=profile)
