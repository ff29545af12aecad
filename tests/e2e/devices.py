"""Simulated controls run by the test process itself, next to the agent and gateway subprocesses.

The OPC UA simulator is an asyncio server: it gets its own event loop in a
background thread so the test can stop and restart it between blocking waits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from asyncua import ua

from atelier.simulators.opcua_cnc import OpcUaCnc

T = TypeVar("T")


class LoopThread:
    """An event loop in a daemon thread; ``run`` executes a coroutine there and returns its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="sim-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        self.loop.close()


class RestartableCnc(OpcUaCnc):
    """The OPC UA CNC simulator, served with the machine itself still switched off until ``switch_on``.

    So a test can let the agent (re)connect before production goes on. ``fresh`` builds a
    new asyncua server (no session or subscription of the old one can survive) holding the
    values the control had, as a rebooted control does.
    """

    async def serve(self, *, fresh: bool = False) -> None:
        if fresh and self._server is not None:
            kept = {point: await node.read_data_value() for point, node in self._nodes.items()}
            self._server = server = await self._build()
            for point, value in kept.items():
                await server.write_attribute_value(self._nodes[point].nodeid, _as_written(value))
        await self.start()
        self._machine_on.clear()  # no await since start() set it: the script cannot move in between

    async def switch_on(self) -> None:
        self._machine_on.set()


def _as_written(value: ua.DataValue) -> ua.DataValue:
    return ua.DataValue(value.Value, SourceTimestamp=value.SourceTimestamp, ServerTimestamp=value.ServerTimestamp)
