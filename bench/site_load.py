"""The load of a school's machines: wire-contract messages, built and numbered as the edge agent builds them.

A generator stands in for the agents of one or more sites, each agent a workshop
PC serving some machines: a retained birth, then per machine a retained state
snapshot, events for each cycle (state changed, cycle started, then cycle ended,
part counted, state changed, each change followed by its snapshot, in one seq
per agent) and a QoS 0 telemetry sample a second with a sequence of its own. It
answers replay requests from its memory as the agent answers them from its
outbox. ``serve`` runs in a child process spawned by ``bench.sites``, so the
publishing does not share an interpreter lock with the orchestration.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import contract

PROGRAM = "O1000"
# As edge_agent.publisher: a replay repairs gaps, it does not resend a day of history in one go.
MAX_REPLAY = 100_000
# Publishes in flight per site before waiting for an acknowledgement: bounds paho's queue in memory.
WINDOW = 500

Outgoing = tuple[str, bytes, int, bool]  # topic, payload, qos, retain
SiteSpec = tuple[str, list[tuple[str, tuple[str, ...]]]]  # site, [(agent, machines)]


@dataclass
class AgentLoad:
    """One agent's numbering and what it published, kept for replays."""

    site: str
    agent: str
    machines: tuple[str, ...]
    seq: int = 0
    telemetry_seq: int = 0
    cycles: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    started: dict[str, datetime] = field(default_factory=dict)
    sent: dict[int, Outgoing] = field(default_factory=dict)

    def birth(self) -> Outgoing:
        status = contract.AgentStatus(
            agent=self.agent, ts=datetime.now(UTC), status="online", version="bench",
            machines=self.machines, site=self.site,
        )  # fmt: skip
        return contract.agent_topic(self.site, self.agent, "status"), contract.encode(status), 1, True

    def snapshot(self, machine: str, ts: datetime, execution: contract.Execution) -> Outgoing:
        state = contract.MachineState(
            availability=contract.Availability.AVAILABLE, execution=execution, mode=contract.Mode.AUTOMATIC,
            program=PROGRAM, part_count=self.counters.get(machine, 0), tool="T1",
        )  # fmt: skip
        message = contract.StateMessage(agent=self.agent, machine=machine, seq=self._next(), ts=ts, state=state)
        return self._keep(message, "state", retain=True)

    def cycle_start(self, machine: str, ts: datetime) -> list[Outgoing]:
        self.started[machine] = ts
        return [
            self._event(contract.StateChanged(
                agent=self.agent, machine=machine, seq=self._next(), ts=ts,
                availability=contract.Availability.AVAILABLE, execution=contract.Execution.ACTIVE,
                mode=contract.Mode.AUTOMATIC,
            )),
            self._event(contract.CycleStarted(agent=self.agent, machine=machine, seq=self._next(), ts=ts,
                                              program=PROGRAM)),
            self.snapshot(machine, ts, contract.Execution.ACTIVE),
        ]  # fmt: skip

    def cycle_end(self, machine: str, ts: datetime) -> list[Outgoing]:
        started = self.started.pop(machine, ts)
        counter = self.counters[machine] = self.counters.get(machine, 0) + 1
        self.cycles += 1
        return [
            self._event(contract.CycleEnded(
                agent=self.agent, machine=machine, seq=self._next(), ts=ts, program=PROGRAM, started=started,
                duration_s=(ts - started).total_seconds(), held_s=0.0, parts=1,
                outcome=contract.CycleOutcome.COMPLETED,
            )),
            self._event(contract.PartCounted(agent=self.agent, machine=machine, seq=self._next(), ts=ts, count=1,
                                             counter=counter, program=PROGRAM)),
            self._event(contract.StateChanged(
                agent=self.agent, machine=machine, seq=self._next(), ts=ts,
                availability=contract.Availability.AVAILABLE, execution=contract.Execution.READY,
                mode=contract.Mode.AUTOMATIC,
            )),
            self.snapshot(machine, ts, contract.Execution.READY),
        ]  # fmt: skip

    def telemetry(self, machine: str, ts: datetime, rng: random.Random) -> Outgoing:
        self.telemetry_seq += 1
        active = machine in self.started
        sample = contract.Telemetry(
            agent=self.agent, machine=machine, seq=self.telemetry_seq, ts=ts,
            spindle_speed=rng.uniform(2000, 8000) if active else 0.0,
            spindle_load=rng.uniform(5, 60) if active else 0.0,
            feed_rate=rng.uniform(100, 1500) if active else 0.0, feed_override=100.0, spindle_override=100.0,
        )  # fmt: skip
        return contract.machine_topic(self.site, machine, "telemetry"), contract.encode(sample), 0, False

    def replay(self, first: int, last: int) -> list[Outgoing]:
        """What the agent still holds of ``first..last``, never retained (as the agent replays)."""
        last = min(last, first + MAX_REPLAY - 1)
        kept = (self.sent.get(seq) for seq in range(first, last + 1))
        return [(topic, payload, qos, False) for topic, payload, qos, _ in filter(None, kept)]

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _event(self, message: contract.EventMessage) -> Outgoing:
        return self._keep(message, "event", retain=False)

    def _keep(self, message: contract.SequencedMessage, channel: contract.MachineChannel, *, retain: bool) -> Outgoing:
        out = contract.machine_topic(self.site, message.machine, channel), contract.encode(message), 1, retain
        self.sent[message.seq] = out
        return out


@dataclass
class BurstResult:
    published: int
    first_at: float  # wall clock, so that several processes compare
    acked_at: float


class SiteLoad:
    """One site's agents behind one MQTT connection, to the site's broker or (for a baseline) the central one."""

    def __init__(self, site: str, agents: list[AgentLoad], seed: int) -> None:
        self.site = site
        self.agents = {a.agent: a for a in agents}
        self.rng = random.Random(seed)
        self.replay_requests = 0
        self.replayed = 0
        self.telemetry = 0
        self._client: mqtt.Client | None = None

    # --- connection ----------------------------------------------------------------------

    def connect(self, host: str, port: int, *, replays: bool) -> None:
        self.disconnect()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-load-{self.site}", protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(WINDOW)
        client.max_queued_messages_set(0)
        connected = threading.Event()
        client.on_connect = lambda *_args: connected.set()
        client.on_message = self._on_replay
        client.connect(host, port, keepalive=30)
        client.loop_start()
        if not connected.wait(30):
            raise TimeoutError(f"{self.site}: no connection to {host}:{port}")
        if replays:
            client.subscribe(contract.agent_topic(self.site, "+", "replay"), qos=1)
        self._client = client

    def disconnect(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _publish(self, out: Outgoing) -> mqtt.MQTTMessageInfo:
        assert self._client is not None
        topic, payload, qos, retain = out
        # Thread-safe in paho: replays are published from its network thread while the site's thread runs.
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def _publish_all(self, messages: list[Outgoing]) -> None:
        last = None
        for count, out in enumerate(messages, start=1):
            last = self._publish(out)
            if count % WINDOW == 0:
                last.wait_for_publish(300)
        if last is not None:
            last.wait_for_publish(300)

    def _on_replay(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            _, request = contract.decode(message.topic, bytes(message.payload))
        except contract.ContractError:
            return
        agent = self.agents.get(request.agent)
        if not isinstance(request, contract.ReplayRequest) or agent is None:
            return
        self.replay_requests += 1
        for out in agent.replay(request.first, request.last):
            self.replayed += 1
            self._publish(out)

    # --- phases --------------------------------------------------------------------------

    def births(self) -> None:
        """Each agent's retained birth, then every machine's first snapshot, as an agent does at start."""
        now = datetime.now(UTC)
        messages = [a.birth() for a in self.agents.values()]
        messages += [a.snapshot(m, now, contract.Execution.READY) for a in self.agents.values() for m in a.machines]
        self._publish_all(messages)

    def steady(self, seconds: float, cycle_s: float) -> None:
        """Each machine a cycle every ``cycle_s`` (cutting for 80% of it) and a telemetry sample a second."""
        start = time.monotonic()
        deadline = start + seconds
        # (due, order, kind, agent, machine); ``order`` keeps the heap from comparing the rest.
        due: list[tuple[float, int, str, str, str]] = []
        order = 0
        for agent in self.agents.values():
            for machine in agent.machines:
                due.append((start + self.rng.uniform(0, cycle_s), order, "start", agent.agent, machine))
                due.append((start + self.rng.uniform(0, 1), order + 1, "telemetry", agent.agent, machine))
                order += 2
        heapq.heapify(due)
        while due and due[0][0] < deadline:
            at, _, kind, name, machine = heapq.heappop(due)
            time.sleep(max(0.0, at - time.monotonic()))
            agent, now = self.agents[name], datetime.now(UTC)
            if kind == "telemetry":
                self._publish(agent.telemetry(machine, now, self.rng))
                self.telemetry += 1
                next_kind, next_at = "telemetry", at + 1.0
            elif kind == "start":
                for out in agent.cycle_start(machine, now):
                    self._publish(out)
                next_kind, next_at = "end", at + 0.8 * cycle_s
            else:
                for out in agent.cycle_end(machine, now):
                    self._publish(out)
                next_kind, next_at = "start", at + 0.2 * cycle_s
            order += 1
            heapq.heappush(due, (next_at, order, next_kind, name, machine))

    def prepare_burst(self, events: int, *, suffix: str = "") -> list[Outgoing]:
        """``events`` sequenced messages, whole cycles round-robin over the machines, built before the clock runs.

        With a ``suffix`` the messages belong to stand-in agents (``pc-1`` → ``pc-1-bl1``), never retained:
        a baseline measured before the gateways exist must leave nothing on the bus for them.
        """
        agents = list(self.agents.values())
        if suffix:
            agents = [AgentLoad(a.site, f"{a.agent}{suffix}", a.machines) for a in agents]
        messages: list[Outgoing] = []
        ts = datetime.now(UTC) - timedelta(seconds=events // 7 + 2)  # the last cycle ends about now
        k = 0
        while len(messages) < events:
            agent = agents[k % len(agents)]
            machine = agent.machines[(k // len(agents)) % len(agent.machines)]
            messages += agent.cycle_start(machine, ts) + agent.cycle_end(machine, ts + timedelta(seconds=0.5))
            ts += timedelta(seconds=1)
            k += 1
        if suffix:
            messages = [(t, p, q, False) for t, p, q, _ in messages]
        return messages

    def burst(self, messages: list[Outgoing], go_at: float) -> BurstResult:
        time.sleep(max(0.0, go_at - time.time()))
        first = time.time()
        self._publish_all(messages)
        return BurstResult(len(messages), first, time.time())

    def totals(self) -> dict[str, tuple[int, int]]:
        """Per agent: (last seq, cycles ended)."""
        return {a.agent: (a.seq, a.cycles) for a in self.agents.values()}


# --- the child process -----------------------------------------------------------------------


class _Commands:
    """What the orchestrator can ask of a generator process, one method per command, over every site it runs."""

    def __init__(self, sites: list[SiteLoad]) -> None:
        self.sites = sites
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(sites)), thread_name_prefix="site")
        self.bursts: list[list[Outgoing]] = []

    def _each(self, work: Callable[[SiteLoad], Any]) -> list[Any]:
        return list(self.pool.map(work, self.sites))

    def connect(self, host: str, ports: dict[str, int], replays: bool) -> None:
        """To each site's own broker (``ports`` by site) or all to one broker (``ports["*"]``)."""
        self._each(lambda s: s.connect(host, ports.get(s.site, ports.get("*", 0)), replays=replays))

    def births(self) -> None:
        self._each(SiteLoad.births)

    def steady(self, seconds: float, cycle_s: float) -> int:
        self._each(lambda s: s.steady(seconds, cycle_s))
        return sum(s.telemetry for s in self.sites)

    def prepare_burst(self, events: int, suffix: str) -> int:
        self.bursts = self._each(lambda s: s.prepare_burst(events, suffix=suffix))
        return sum(len(b) for b in self.bursts)

    def burst(self, go_at: float) -> list[BurstResult]:
        bursts, self.bursts = self.bursts, []
        return list(self.pool.map(lambda s, b: s.burst(b, go_at), self.sites, bursts))

    def totals(self) -> dict[str, Any]:
        return {
            "agents": {(s.site, agent): t for s in self.sites for agent, t in s.totals().items()},
            "replay_requests": sum(s.replay_requests for s in self.sites),
            "replayed": sum(s.replayed for s in self.sites),
        }

    def stop(self) -> None:
        self._each(SiteLoad.disconnect)


def serve(specs: list[SiteSpec], seed: int, commands: Queue[tuple[str, tuple[Any, ...]]], results: Queue[Any]) -> None:
    """Run commands from the orchestrator until ``stop``; every answer is ("ok", value) or ("error", text)."""
    sites = [
        SiteLoad(site, [AgentLoad(site, agent, machines) for agent, machines in agents], seed + i)
        for i, (site, agents) in enumerate(specs)
    ]
    server = _Commands(sites)
    while True:
        name, args = commands.get()
        handler = None if name.startswith("_") else getattr(server, name, None)
        if handler is None:
            results.put(("error", f"unknown command {name!r}"))
            continue
        try:
            results.put(("ok", handler(*args)))
        except Exception as err:
            results.put(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
        if name == "stop":
            return
