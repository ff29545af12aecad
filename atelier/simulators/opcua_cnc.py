"""A simulated CNC behind a real asyncua OPC UA server, for ``atelier demo``, tests and benchmarks.

The machine's behaviour is the built-in simulator's seeded script
(``edge_agent.drivers.simulator.SimulatorScript``); this module writes each step
into a SINUMERIK-shaped or an OPC 40501 MachineTool-shaped address space, with
the step's time as the source timestamp (the MachineTool's alarms as condition
events from Notification/Messages), and keeps a record of every cycle it
completed or aborted (the truth a test compares the agent's cycles against).
The server can be stopped and started again on the same port, optionally with
the machine itself paused ("switched off"), for fault tests. The MachineTool
shape comes as the umati reference servers show it: with or without a channel
(``channel``), a fixed job or a plan whose jobs come and go (``job_every_s``,
with or without model change events), and ConditionRefresh answered, missing,
or refused on a subscription that mixes data changes and events
(``refresh_refuses_mixed``, as open62541 does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from asyncua import Node, Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from atelier.simulators.opcua_alarms import Messages
from atelier.simulators.opcua_jobs import JobPlan
from atelier.simulators.opcua_spaces import (
    MACHINE_TOOL_URI,
    Translate,
    build_machine_tool,
    build_sinumerik,
    machine_tool_raw,
    sinumerik_raw,
)
from edge_agent.contract import CycleOutcome, Execution, utc_iso
from edge_agent.drivers.simulator.script import CycleEnd, ProgramSpec, SimulatorOptions, SimulatorScript

logger = logging.getLogger(__name__)

Shape = Literal["sinumerik", "machine_tool"]
# The counter is written before the execution state, so a control that reports them in two
# notifications still shows "counter stepped" no later than "program ended".
_WRITE_ORDER = {"part_count": 0, "execution": 2}
SECURE_POLICIES = (
    ua.SecurityPolicyType.Basic256Sha256_Sign,
    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
    ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
)


class _Users:
    """asyncua user manager: the configured users only (no anonymous access)."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class OpcUaCnc:
    def __init__(
        self,
        port: int,
        seed: int = 0,
        cycle_s: float = 20.0,
        *,
        shape: Shape = "sinumerik",
        host: str = "127.0.0.1",
        idle_s: float | None = None,
        cycles: int | None = None,
        script: SimulatorOptions | None = None,
        autoplay: bool = True,
        record_path: Path | None = None,
        certificate: Path | None = None,
        private_key: Path | None = None,
        users: Mapping[str, str] | None = None,
        machine_name: str = "SimMill",
        condition_refresh: bool = True,
        refresh_refuses_mixed: bool = False,
        channel: bool = True,
        operation_mode: bool = True,
        job_every_s: float | None = None,
        model_change_events: bool = True,
    ) -> None:
        self.port = port
        self.host = host
        self.shape: Shape = shape
        self.machine_name = machine_name
        self.script = script or default_script(seed, cycle_s, idle_s if idle_s is not None else cycle_s / 4, cycles)
        self.autoplay = autoplay
        self.record: list[dict[str, Any]] = []
        self.record_path = record_path
        self._certificate, self._private_key = certificate, private_key
        self._users = users
        self._server: Server | None = None
        self._nodes: dict[str, Node] = {}
        self._condition_refresh = condition_refresh
        self._refresh_refuses_mixed = refresh_refuses_mixed
        self._channel = channel
        self._operation_mode = operation_mode
        self._job_every_s = job_every_s
        self._model_change_events = model_change_events
        self.jobs: JobPlan | None = None  # the plan whose jobs come and go (``job_every_s``)
        self._jobs_task: asyncio.Task[None] | None = None
        self._part_count = 0
        self.messages: Messages | None = None  # the MachineTool's alarms (events); the SINUMERIK has variables
        self._translate: Translate = sinumerik_raw if shape == "sinumerik" else machine_tool_raw
        self._machine_on = asyncio.Event()
        self._play_task: asyncio.Task[None] | None = None
        self._started = datetime.now(UTC)
        self._held = timedelta(0)
        self._hold_ts = self._started
        self._in_cycle = False

    @property
    def cycle_started(self) -> datetime | None:
        """When the cycle under way started (it is in ``record`` once it ends); None between cycles."""
        return self._started if self._in_cycle else None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Start serving (building the server the first time); the machine runs while the server is up."""
        if self._server is None:
            self._server = await self._build()
        await self._server.start()
        self._machine_on.set()
        if self.autoplay:
            self.play()
        if self._job_every_s is not None and self._jobs_task is None:
            self._jobs_task = asyncio.create_task(self._replace_jobs(self._job_every_s), name=f"opcua-jobs-{self.port}")
        logger.info("simulated %s OPC UA control on %s", self.shape, self.endpoint)

    def play(self) -> None:
        """Run the machine's script from now on (at start with ``autoplay``; a test may connect first)."""
        if self._play_task is None:
            self._play_task = asyncio.create_task(self._play(), name=f"opcua-cnc-{self.port}")

    async def stop(self, *, machine_off: bool = False) -> None:
        """Stop serving. ``machine_off`` also pauses the machine until the next ``start()``."""
        if machine_off:
            self._machine_on.clear()
        if self._server is not None:
            await self.drop_subscriptions()  # a real control forgets them when it restarts
            await self._stop_clock()
            await self._server.stop()

    async def _stop_clock(self) -> None:
        # asyncua's stop() waits up to a second for its CurrentTime loop to wake up, and then
        # never restarts it; cancelling it here makes stop fast and start() begin a new one.
        assert self._server is not None
        iserver = self._server.iserver
        task, iserver.time_task = iserver.time_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drop_subscriptions(self) -> int:
        """Forget every subscription without telling the clients (a server that lost its state)."""
        if self._server is None:
            return 0
        service = self._server.iserver.subscription_service
        ids = list(service.subscriptions)
        await service.delete_subscriptions(ids)
        return len(ids)

    async def close(self) -> None:
        """Stop serving and end the simulated machine for good."""
        for task in (self._play_task, self._jobs_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._play_task = self._jobs_task = None
        await self.stop()

    async def apply(self, values: Mapping[str, Any], ts: datetime | None = None) -> None:
        """Write canonical values (``execution``, ``part_count``...) as the control's raw variables."""
        if self._server is None:
            raise RuntimeError("start() the simulator first")
        stamp = ts or datetime.now(UTC)
        for key in sorted(values, key=lambda k: _WRITE_ORDER.get(k, 1)):
            if key == "alarms" and self.messages is not None:
                await self.messages.show(values[key], stamp)
            if key == "part_count" and values[key] is not None:
                self._part_count = int(values[key])
                if self.jobs is not None:
                    await self.jobs.count(self._part_count, stamp)
            for point, raw, kind in self._translate(key, values[key]):
                if point not in self._nodes:  # a point this shape of control lacks
                    continue
                value = ua.DataValue(ua.Variant(raw, kind), SourceTimestamp=stamp, ServerTimestamp=stamp)
                await self._server.write_attribute_value(self._nodes[point].nodeid, value)

    async def _build(self) -> Server:
        server = Server(user_manager=_Users(self._users) if self._users is not None else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"Atelier simulated {self.shape} ({self.machine_name})")
        if self._certificate is not None and self._private_key is not None:
            await server.load_certificate(str(self._certificate))
            await server.load_private_key(str(self._private_key))
            server.set_security_policy(list(SECURE_POLICIES))
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.shape == "sinumerik":
            self._nodes = await build_sinumerik(server)
        else:
            space = await build_machine_tool(
                server,
                self.machine_name,
                channel=self._channel,
                operation_mode=self._operation_mode,
                fixed_job=self._job_every_s is None,
            )
            self._nodes = space.variables
            tool_ns = await server.get_namespace_index(MACHINE_TOOL_URI)
            self.messages = await Messages.create(
                server,
                space.messages,
                tool_ns,
                condition_refresh=self._condition_refresh,
                refuse_mixed=self._refresh_refuses_mixed,
            )
            if self._job_every_s is not None:
                self.jobs = JobPlan(
                    server, space.plan, space.own_ns, tool_ns, model_change_events=self._model_change_events
                )
                await self.jobs.replace(0)
        self._server = server
        await self.apply(SimulatorScript(self.script).steps().__next__().values)
        return server

    async def _play(self) -> None:
        steps = SimulatorScript(self.script).steps()
        next(steps)  # the initial state was written when the server was built
        for step in steps:
            if step.delay_s > 0:
                await asyncio.sleep(step.delay_s)
            await self._machine_on.wait()
            ts = datetime.now(UTC)
            await self.apply(self._ending(step.values, step.mark), ts)
            self._mark(step.mark, ts)

    def _ending(self, values: dict[str, Any], mark: object) -> dict[str, Any]:
        """An OPC 40501 program that is aborted shows Aborted (STOPPED), not Initializing (READY)."""
        aborted = isinstance(mark, CycleEnd) and mark.outcome is CycleOutcome.ABORTED
        if self.shape == "machine_tool" and aborted:
            return {**values, "execution": Execution.STOPPED.value}
        return values

    async def _replace_jobs(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            await self._machine_on.wait()
            if self.jobs is not None:
                await self.jobs.replace(self._part_count)

    def _mark(self, mark: object, ts: datetime) -> None:
        if mark == "start":
            self._started, self._held, self._in_cycle = ts, timedelta(0), True
        elif mark == "hold":
            self._hold_ts = ts
        elif mark == "resume":
            self._held += ts - self._hold_ts
        elif isinstance(mark, CycleEnd):
            self._in_cycle = False
            self._write_record(mark, ts)

    def _write_record(self, end: CycleEnd, ts: datetime) -> None:
        line = {
            "machine": self.machine_name,
            "program": end.program,
            "started": utc_iso(self._started),
            "ended": utc_iso(ts),
            "duration_s": (ts - self._started).total_seconds(),
            "held_s": self._held.total_seconds(),
            "parts": end.parts,
            "outcome": end.outcome.value,
        }
        self.record.append(line)
        if self.record_path is not None:
            self.record_path.parent.mkdir(parents=True, exist_ok=True)
            with self.record_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")


def default_script(seed: int, cycle_s: float, idle_s: float, cycles: int | None) -> SimulatorOptions:
    """Two programs, occasional feed holds, alarms and aborts; SINUMERIK-style program names."""
    programs = (
        ProgramSpec(name="BRIDE_A12.MPF", cycle_s=cycle_s, tool=("T12", "T4")),
        ProgramSpec(name="PLATINE_C3.MPF", cycle_s=cycle_s * 1.5, parts_per_cycle=2, tool="T7"),
    )
    return SimulatorOptions(
        seed=seed,
        programs=programs,
        idle_s=idle_s,
        feed_hold_s=cycle_s / 5,
        alarm_s=cycle_s / 3,
        setup_s=cycle_s / 2,
        telemetry_interval_s=max(cycle_s / 10, 0.05),
        cycles=cycles,
    )
