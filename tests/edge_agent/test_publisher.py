"""The publisher against a real mosquitto: delivery, retained birth and state, Last Will, outages, replay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atelier.broker import Broker
from edge_agent import contract as c
from edge_agent.config import BrokerSection, MachineConfig
from edge_agent.drafts import Draft
from edge_agent.drivers import Reading
from edge_agent.outbox import Outbox
from edge_agent.pipeline import Reassertions, run_machine
from edge_agent.publisher import OVER_BUDGET_ALARM, Publisher
from tests.edge_agent.mqtt_probe import Probe, eventually

SITE, AGENT = "lyon", "pc-1"
TREE = f"{c.TOPIC_ROOT}/{SITE}/#"
TS = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STATUS = c.agent_topic(SITE, AGENT, "status")


def drafts(count: int, start: int = 0) -> list[Draft]:
    return [
        Draft(type=c.CycleStarted, ts=TS + timedelta(seconds=n), fields={"program": f"O{n}"})
        for n in range(start, start + count)
    ]


def settings(broker: Broker, **extra: object) -> BrokerSection:
    return BrokerSection.model_validate(
        {"host": broker.host, "port": broker.port, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5, **extra}
    )


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(
        tmp_path / "outbox.sqlite", agent=AGENT, site=SITE, event_budget=1000, telemetry_budget=100, retention_s=3600
    )
    yield box
    box.close()


@pytest.fixture
def probe(broker: Broker) -> Iterator[Probe]:
    subscriber = Probe(broker, [TREE]).start()
    yield subscriber
    subscriber.stop()


@asynccontextmanager
async def running(publisher: Publisher) -> AsyncIterator[Publisher]:
    task = asyncio.create_task(publisher.run(grace_s=1.0))
    try:
        yield publisher
    finally:
        publisher.stop()
        await asyncio.wait_for(task, 10)


def publisher_for(broker: Broker, outbox: Outbox, **extra: object) -> Publisher:
    return Publisher(settings(broker, **extra), outbox, machines=("mill-1", "lathe-2"), max_inflight=20)


async def test_events_arrive_at_qos1_and_are_marked_sent(broker: Broker, outbox: Outbox, probe: Probe) -> None:
    outbox.put("mill-1", drafts(30), c.MachineState(availability=c.Availability.AVAILABLE))
    outbox.put_telemetry("mill-1", TS, {"spindle_speed": 1200.0})
    async with running(publisher_for(broker, outbox)):
        await eventually(lambda: len(probe.seqs()) >= 31, what="31 messages")
        await eventually(lambda: outbox.stats().unsent_events == 0, what="acknowledgements recorded")
        await eventually(lambda: len(probe.messages("/telemetry")) == 1, what="telemetry")
        await eventually(lambda: outbox.stats().unsent_telemetry == 0, what="telemetry written")
    assert probe.seqs() == list(range(1, 32))
    events = probe.messages("/event")
    assert {m.qos for m in events} == {1}
    assert events[0].data["program"] == "O0"
    (sample,) = probe.messages("/telemetry")
    assert (sample.data["seq"], sample.data["spindle_speed"]) == (1, 1200.0)

    def statuses() -> list[str]:
        return [m.data["status"] for m in probe.messages("/status")]

    await eventually(lambda: statuses()[-1] == "offline", what="a graceful stop says offline explicitly")
    assert statuses()[0] == "online"


async def test_late_subscriber_sees_retained_state_and_birth(broker: Broker, outbox: Outbox) -> None:
    state = c.MachineState(availability=c.Availability.AVAILABLE, program="O42")
    outbox.put("mill-1", drafts(2), state)
    async with running(publisher_for(broker, outbox)):
        await eventually(lambda: outbox.stats().unsent_events == 0, what="acknowledgements")
        late = Probe(broker, [TREE], client_id="late").start()
        try:
            await eventually(lambda: len(late.messages("/status")) == 1 and len(late.messages("/state")) == 1)
            (status,) = late.messages("/status")
            assert status.retain
            assert status.data["status"] == "online"
            assert status.data["machines"] == ["mill-1", "lathe-2"]
            (snapshot,) = late.messages("/state")
            assert snapshot.retain
            assert snapshot.data["state"]["program"] == "O42"
            assert late.messages("/event") == [], "events are not retained"
        finally:
            late.stop()


async def test_broker_restart_mid_run_loses_no_seq(broker: Broker, outbox: Outbox) -> None:
    gateway = Probe(broker, [TREE], client_id="gateway", persistent=True).start()
    try:
        async with running(publisher_for(broker, outbox)) as publisher:

            async def produce(count: int) -> None:
                for n in range(count):
                    outbox.put("mill-1", drafts(1, n))
                    publisher.wake()
                    await asyncio.sleep(0.005)

            await produce(60)
            await asyncio.to_thread(broker.stop)
            await produce(60)  # stored while the broker is down
            await asyncio.to_thread(broker.start)
            await produce(60)
            total = outbox.stats().next_seq - 1
            await eventually(lambda: set(gateway.seqs()) >= set(range(1, total + 1)), 30, "every seq")
            await eventually(lambda: outbox.stats().unsent_events == 0, what="acknowledgements")
    finally:
        gateway.stop()
    received = gateway.seqs()
    assert total == 180
    assert sorted(set(received)) == list(range(1, total + 1)), "no gap"
    duplicates = sum(n - 1 for n in Counter(received).values())
    assert duplicates < total // 3, "only messages in flight at the outage may come twice"


async def test_machines_state_their_state_again_after_a_reconnection_not_at_the_first(
    broker: Broker, outbox: Outbox
) -> None:
    """Issue 14: the gateway marks the machines UNAVAILABLE on the agent's Last Will; a quiet machine has no event
    waiting, so each machine states its state again once the birth of a new connection is out."""
    reassertions = Reassertions()
    machine = MachineConfig(id="mill-1", driver="scripted")
    ready = [Reading("execution", "READY", TS), Reading("mode", "AUTOMATIC", TS)]
    publisher = Publisher(settings(broker), outbox, machines=("mill-1",), max_inflight=20, on_reconnect=reassertions)
    gateway = Probe(broker, [TREE], client_id="gateway", persistent=True).start()
    try:
        async with running(publisher):
            worker = asyncio.create_task(
                run_machine(
                    machine,
                    profile=None,
                    outbox=outbox,
                    wake=publisher.wake,
                    driver=Quiet(ready),
                    reassertions=reassertions,
                )
            )
            try:
                await eventually(lambda: len(changes(gateway)) == 1, 10, "the first state")
                await asyncio.sleep(0.3)
                assert len(changes(gateway)) == 1, "nothing stated again at the first connection"
                await asyncio.to_thread(broker.stop)
                restarted = datetime.now(UTC)
                await asyncio.to_thread(broker.start)
                await eventually(lambda: len(changes(gateway)) == 2, 20, "the state stated again")
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
    finally:
        gateway.stop()
    first, again = changes(gateway)
    assert (again.availability, again.execution, again.mode) == (first.availability, first.execution, first.mode)
    assert again.execution is c.Execution.READY
    assert again.ts >= restarted
    assert again.seq > first.seq


class Quiet:
    """A machine that reports once and then stays quiet on a healthy link."""

    def __init__(self, batch: list[Reading]) -> None:
        self.batch = batch

    async def readings(self) -> AsyncIterator[list[Reading]]:
        yield self.batch
        await asyncio.Event().wait()


def changes(probe: Probe) -> list[c.StateChanged]:
    """The state changes received, once each (QoS 1 may bring one twice across a restart)."""
    found: dict[int, c.StateChanged] = {}
    for received in probe.messages("/event"):
        message = c.decode(received.topic, received.payload)[1]
        if isinstance(message, c.StateChanged):
            found.setdefault(message.seq, message)
    return [found[seq] for seq in sorted(found)]


async def test_replay_request_republishes_retained_events(broker: Broker, outbox: Outbox, probe: Probe) -> None:
    outbox.put("mill-1", drafts(3), c.MachineState(program="O1"))
    outbox.put("mill-1", drafts(2, 3))
    async with running(publisher_for(broker, outbox)) as publisher:
        await eventually(lambda: outbox.stats().unsent_events == 0, what="acknowledgements")
        replay = c.agent_topic(SITE, AGENT, "replay")
        probe.publish(replay, b"not json")
        probe.publish(replay, c.encode(c.ReplayRequest(agent=AGENT, ts=TS, first=5, last=2)))
        probe.publish(replay, c.encode(c.ReplayRequest(agent=AGENT, ts=TS, first=2, last=4, requester="gw")))
        await eventually(lambda: len(probe.seqs()) == 6 + 3, what="replayed events")
        outbox.put("mill-1", drafts(1, 9))
        publisher.wake()
        await eventually(lambda: 7 in probe.seqs(), what="publishing goes on after bad requests")
    replayed = [m for m in probe.messages() if m.topic.endswith(("/state", "/event"))][6:9]
    assert [m.data["seq"] for m in replayed] == [2, 3, 4]
    assert not replayed[2].retain, "a replayed snapshot must not replace the retained state"


async def test_over_budget_raises_an_alarm_on_the_status_topic(
    broker: Broker, tmp_path: Path, probe: Probe, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "small.sqlite", agent=AGENT, site=SITE, event_budget=3, telemetry_budget=10, retention_s=60)
    box.put("mill-1", drafts(5))
    with caplog.at_level(logging.ERROR):
        async with running(publisher_for(broker, box)):
            await eventually(lambda: box.stats().unsent_events == 0, what="drained")
            await eventually(lambda: len(probe.messages("/status")) >= 2, what="alarm cleared")
    box.close()
    alarms = [m.data["alarms"] for m in probe.messages("/status")]
    assert alarms[0] == [OVER_BUDGET_ALARM]
    assert alarms[1] == []
    assert any("over budget" in r.getMessage() for r in caplog.records)


async def test_refused_credentials_are_logged_once_without_traceback(
    tmp_path: Path, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    passwords = tmp_path / "passwd"
    await asyncio.to_thread(
        subprocess.run, ["mosquitto_passwd", "-b", "-c", str(passwords), "pc-1", "right"], check=True
    )
    secured = Broker(tmp_path / "secured", extra_config=f"password_file {passwords}\n")
    secured.start()
    try:
        outbox.put("mill-1", drafts(1))
        with caplog.at_level(logging.DEBUG, logger="edge_agent.publisher"):
            async with running(publisher_for(secured, outbox, username="pc-1", password="wrong")) as publisher:
                await eventually(lambda: len([r for r in caplog.records if "refused" in r.getMessage()]) >= 3)
                assert not publisher.connected
    finally:
        secured.stop()
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals].count(logging.ERROR) == 1
    assert all(r.exc_info is None for r in caplog.records)
    assert outbox.stats().unsent_events == 1


AGENT_SCRIPT = """
import asyncio, sys
from pathlib import Path
from edge_agent.config import BrokerSection
from edge_agent.outbox import Outbox
from edge_agent.publisher import Publisher

box = Outbox(Path(sys.argv[3]), agent="pc-1", site="lyon", event_budget=100, telemetry_budget=10, retention_s=60)
broker = BrokerSection(host=sys.argv[1], port=int(sys.argv[2]))
asyncio.run(Publisher(broker, box, machines=("mill-1",), max_inflight=10).run())
"""


def test_last_will_says_offline_when_the_agent_is_killed(broker: Broker, tmp_path: Path, probe: Probe) -> None:
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT_SCRIPT, broker.host, str(broker.port), str(tmp_path / "outbox.sqlite")],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        probe.wait_for(lambda: [m.data["status"] for m in probe.messages("/status")] == ["online"], 30, "birth")
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        probe.wait_for(lambda: len(probe.messages("/status")) == 2, what="Last Will")
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    will = probe.messages("/status")[-1]
    _, message = c.decode(will.topic, will.payload)
    assert isinstance(message, c.AgentStatus)
    assert (message.status, message.machines) == ("offline", ("mill-1",))
