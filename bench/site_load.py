"""The load of a school's machines: wire-contract messages, built and numbered as the edge agent builds them.

A generator stands in for the agents of one or more sites, each agent a workshop
PC serving some machines: a retained birth, then per machine a retained state
snapshot, events for each cycle (state changed, cycle started, then cycle ended,
part counted, state changed, each change followed by its snapshot, in one seq
per agent) and a QoS 0 telemetry sample a second with a sequence of its own. It
answers replay requests from its memory as the agent answers them from its
outbox. ``serve`` runs in a child process spawned by ``bench.sites``, so the
publishing does not share an interpreter lock with the orchestration.

With aggregates, each generated school also stands in for its gateway's network publisher
(``gateway/network_publisher.py``): ``contract.NetworkAggregate`` messages on the site's aggregate topic, a
full round first (today's hours and the last ``republish_days`` days, as after a (re)connection), then every
``interval_s`` the last two hours, sent only when their numbers changed; the hours count the parts the
generator's own cycles made. Why a generator and not 35 gateways: see ``bench/sites.py``.
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
from datetime import UTC, date, datetime, timedelta
from multiprocessing.queues import Queue
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import contract
from gateway.domain.network import Period, finished_days, hours_of_today

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


ZONE = ZoneInfo("UTC")  # the generated schools' zone, and the pool's (bench/sites.py sets [records] timezone)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PRACTICE = (("CAP1", "CAP", 21.5), ("BP2", "BAC_PRO", 14.0), ("OTHER", "OTHER", 3.0))  # a finished day's groups


@dataclass(frozen=True)
class AggregateSpec:
    interval_s: float  # the publisher's [network] interval_s
    republish_days: int  # and republish_days


@dataclass
class SiteAggregates:
    """What one school's network publisher would send, from the parts its generated machines make.

    ``log`` keeps, per message sent, its ``ts`` and the school's good parts of the current week that the
    network's page shows once every message so far is stored: what ``bench.sites`` waits to see on it.
    """

    site: str
    machines: tuple[str, ...]
    spec: AggregateSpec
    parts: dict[tuple[datetime, str], int] = field(default_factory=dict)  # (hour start, machine) -> parts
    sent: dict[tuple[str, datetime], tuple[date, int, str]] = field(default_factory=dict)  # -> day, good, print
    log: list[tuple[float, int]] = field(default_factory=list)
    bytes_sent: int = 0

    def part(self, machine: str, ts: datetime) -> None:
        hour = ts.replace(minute=0, second=0, microsecond=0)
        self.parts[(hour, machine)] = self.parts.get((hour, machine), 0) + 1

    def round(self, now: datetime, *, full: bool) -> list[Outgoing]:
        """The messages of one round of the publisher: the changed periods (every period when ``full``)."""
        periods = hours_of_today(now, ZONE, last=None if full else 2)
        periods += finished_days(now, ZONE, self.spec.republish_days)
        out: list[Outgoing] = []
        for period in periods:
            message = self._message(period, now)
            good = sum(m.good for m in message.machines)
            # The numbers, not when they were computed (as the publisher's fingerprint): unchanged, not sent.
            fingerprint = contract.encode(message.model_copy(update={"ts": _EPOCH})).hex()
            key = (period.kind, period.start)
            if not full and key in self.sent and self.sent[key][2] == fingerprint:
                continue
            self.sent[key] = (period.day, good, fingerprint)
            payload = contract.encode(message)
            self.bytes_sent += len(payload)
            delivery = contract.DELIVERY["aggregate"]
            out.append((contract.network_topic(self.site), payload, delivery.qos, delivery.retain))
            self.log.append((now.timestamp(), self.week_good(now)))
        return out

    def week_good(self, now: datetime) -> int:
        """The good parts of the current ISO week (UTC) the network would hold after what was sent so far."""
        week = now.date().isocalendar()[:2]
        return sum(good for day, good, _ in self.sent.values() if day.isocalendar()[:2] == week)

    def _message(self, period: Period, now: datetime) -> contract.NetworkAggregate:
        if period.kind == "day":  # a finished day: a school day's numbers, the same every time
            figures = [self._machine(m, planned=8.0, running=5.25, good=40) for m in self.machines]
            practice = tuple(contract.PracticeHours(class_label=c, track=t, hours=h) for c, t, h in PRACTICE)
        else:  # an hour: what the machines made in it so far
            planned = min(1.0, max(0.0, (min(now, period.end) - period.start).total_seconds() / 3600))
            figures = [
                self._machine(m, planned=planned, running=None, good=self.parts.get((period.start, m), 0))
                for m in self.machines
            ]
            practice = ()
        return contract.NetworkAggregate(
            site=self.site, ts=now, period=period.kind, day=period.day, start=period.start, end=period.end,
            final=period.final(now), machines=tuple(figures), practice=practice,
        )  # fmt: skip

    @staticmethod
    def _machine(machine: str, *, planned: float, running: float | None, good: int) -> contract.MachineAggregate:
        running = min(planned, good * 16 / 3600) if running is None else running  # 16 s of cutting a part
        return contract.MachineAggregate(
            machine=machine, online=True, planned_h=round(planned, 4), running_h=round(running, 4),
            free_h=round(planned - running, 4), good=good, scrap=good // 50,
            oee=round(running / planned, 4) if planned else None,
            stops=contract.StopHours(setup=round(0.1 * planned, 4), unclassified=round(0.05 * planned, 4)),
        )  # fmt: skip


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
        self.aggregates: SiteAggregates | None = None
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

    def steady(self, seconds: float, cycle_s: float, aggregates: AggregateSpec | None = None) -> None:
        """Each machine a cycle every ``cycle_s`` (cutting for 80% of it) and a telemetry sample a second;
        with ``aggregates``, the school's network publisher's rounds too (a full one first)."""
        start = time.monotonic()
        deadline = start + seconds
        # (due, order, kind, agent, machine); ``order`` keeps the heap from comparing the rest.
        due: list[tuple[float, int, str, str, str]] = []
        order = 0
        if aggregates is not None:
            due.append(self._publisher(start, aggregates))
        for agent in self.agents.values():
            for machine in agent.machines:
                due.append((start + self.rng.uniform(0, cycle_s), order, "start", agent.agent, machine))
                due.append((start + self.rng.uniform(0, 1), order + 1, "telemetry", agent.agent, machine))
                order += 2
        heapq.heapify(due)
        while due and due[0][0] < deadline:
            at, _, kind, name, machine = heapq.heappop(due)
            time.sleep(max(0.0, at - time.monotonic()))
            now = datetime.now(UTC)
            if kind in ("full", "round"):
                assert self.aggregates is not None
                for out in self.aggregates.round(now, full=kind == "full"):
                    self._publish(out)
                order += 1
                heapq.heappush(due, (at + self.aggregates.spec.interval_s, order, "round", "", ""))
                continue
            agent = self.agents[name]
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
                if self.aggregates is not None:
                    self.aggregates.part(machine, now)
                next_kind, next_at = "start", at + 0.2 * cycle_s
            order += 1
            heapq.heappush(due, (next_at, order, next_kind, name, machine))

    def _publisher(self, start: float, spec: AggregateSpec) -> tuple[float, int, str, str, str]:
        """The network publisher's first round: a full one when it starts, else the next of its rounds."""
        if self.aggregates is None:
            machines = tuple(m for a in self.agents.values() for m in a.machines)
            self.aggregates = SiteAggregates(self.site, machines, spec)
            return (start + self.rng.uniform(0, 1), -1, "full", "", "")
        return (start + self.rng.uniform(0, spec.interval_s), -1, "round", "", "")

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

    def steady(self, seconds: float, cycle_s: float, aggregates: AggregateSpec | None = None) -> int:
        before = sum(s.telemetry for s in self.sites)
        self._each(lambda s: s.steady(seconds, cycle_s, aggregates))
        return sum(s.telemetry for s in self.sites) - before

    def aggregates(self) -> dict[str, Any]:
        """Per site, (ts, week's good parts) of every aggregate sent; and the messages' total size."""
        kept = [s.aggregates for s in self.sites if s.aggregates is not None]
        return {"log": {a.site: a.log for a in kept}, "bytes": sum(a.bytes_sent for a in kept)}

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
