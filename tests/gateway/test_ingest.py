"""Ingest against the real broker: an in-process gateway (``serve``) and a plain paho publisher."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from websockets.asyncio.client import connect

from atelier.broker import Broker
from edge_agent import contract as c
from tests.gateway.conftest import RunningGateway
from tests.gateway.helpers import (
    AGENT,
    MACHINE,
    SITE,
    AgentProcess,
    Publisher,
    birth,
    count,
    rows,
    state,
    subscribed,
    until,
)


def now_part(seq: int, *, counter: int) -> c.PartCounted:
    return c.PartCounted(
        agent=AGENT, machine=MACHINE, seq=seq, ts=datetime.now(UTC), count=1, counter=counter, program="P1"
    )


def now_cycle(seq: int) -> c.CycleEnded:
    ended = datetime.now(UTC)
    return c.CycleEnded(
        agent=AGENT,
        machine=MACHINE,
        seq=seq,
        ts=ended,
        program="P1",
        started=ended - timedelta(seconds=84),
        duration_s=84.0,
        held_s=0.0,
        parts=1,
        outcome=c.CycleOutcome.COMPLETED,
    )


async def api_machines(gw: RunningGateway) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gw.base_url) as client:
        response = await client.get("/api/machines")
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


async def test_birth_state_and_events_land_in_the_store_and_the_api(
    gateway: RunningGateway, publisher: Publisher
) -> None:
    publisher.send(birth(MACHINE, "haas-lathe-2"))
    publisher.send(state(1, program="P1", part_count=10))
    publisher.send(now_cycle(2))
    publisher.send(now_part(3, counter=11))
    publisher.send(now_part(3, counter=11))  # the outbox delivers at least once
    publisher.send(now_part(4, counter=12))
    await until(lambda: count(gateway.db_path, "part_counts") == 2, what="two part counts")
    assert rows(gateway.db_path, "SELECT seq FROM messages ORDER BY seq") == [(1,), (2,), (3,), (4,)]
    assert count(gateway.db_path, "cycles") == 1
    machines = {m["id"]: m for m in await api_machines(gateway)}
    # haas-lathe-2 is announced but has said nothing on its own topic: a status creates no machine.
    assert set(machines) == {MACHINE}
    mill = machines[MACHINE]
    assert mill["site"] == SITE
    assert mill["agent"] == AGENT
    assert mill["agent_online"] is True
    assert (mill["status"], mill["availability"], mill["execution"], mill["mode"]) == (
        "running",
        "AVAILABLE",
        "ACTIVE",
        "AUTOMATIC",
    )
    assert (mill["program"], mill["part_count"], mill["parts_today"], mill["last_cycle_s"]) == ("P1", 12, 2, 84.0)
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        health = (await client.get("/api/health")).json()
    assert health["ingest_running"]
    assert health["broker_connected"]
    assert health["subscribed"]
    assert health["batches"] >= 1


async def test_every_malformed_kind_is_dead_lettered_and_ingest_goes_on(
    gateway: RunningGateway, publisher: Publisher
) -> None:
    publisher.send(birth())
    event = c.machine_topic(SITE, MACHINE, "event")
    good = c.encode(now_part(1, counter=1))
    bad = {
        "invalid JSON": (event, b"{definitely not json"),
        "truncated": (event, good[: len(good) // 2]),
        "wrong schema": (event, good.replace(b'"schema":1', b'"schema":2')),
        "unknown machine": (
            c.machine_topic(SITE, "ghost", "event"),
            c.encode(c.CycleStarted(agent=AGENT, machine="ghost", seq=5, ts=datetime.now(UTC), program=None)),
        ),
        "oversized": (event, b'{"schema":1,"pad":"' + b"x" * c.MAX_PAYLOAD_BYTES + b'"}'),
        "outside the tree": (f"{c.TOPIC_ROOT}/{SITE}/agent/state", good),
    }
    for topic, payload in bad.values():
        publisher.raw(topic, payload)
    publisher.send(now_part(2, counter=2))
    await until(lambda: count(gateway.db_path, "part_counts") == 1, what="the good message after the bad ones")
    letters = rows(gateway.db_path, "SELECT topic, reason FROM dead_letters ORDER BY id")
    assert len(letters) == len(bad)
    reasons = [reason for _, reason in letters]
    for expected in (
        "not valid JSON",
        "not valid JSON",
        "schema version 2",
        "unknown machine",
        "exceeds",
        "topic tree",
    ):
        assert any(expected in r for r in reasons), (expected, reasons)
    assert not gateway.task.done()


async def test_last_will_shows_the_machines_offline(gateway: RunningGateway, broker: Broker) -> None:
    will = c.AgentStatus(agent=AGENT, ts=datetime.now(UTC), status="offline", machines=(MACHINE,))
    agent = AgentProcess(broker, will)
    try:
        agent.send(c.agent_topic(SITE, AGENT, "status"), birth(), retain=True)
        agent.send(c.machine_topic(SITE, MACHINE, "state"), state(1), retain=True)
        await until(lambda: rows(gateway.db_path, "SELECT status FROM agents") == [("online",)], what="birth")
        await until(lambda: count(gateway.db_path, "messages") == 1, what="state")
        await asyncio.sleep(0.1)  # the live view is updated just after the commit
        assert (await api_machines(gateway))[0]["status"] == "running"
    finally:
        agent.kill()  # no DISCONNECT: the broker publishes the Last Will
    await until(lambda: rows(gateway.db_path, "SELECT status FROM agents") == [("offline",)], what="last will")
    (machine,) = await api_machines(gateway)
    assert (machine["status"], machine["agent_online"], machine["availability"]) == ("offline", False, "UNAVAILABLE")
    assert rows(gateway.db_path, "SELECT availability FROM state_changes") == [("UNAVAILABLE",)]


async def test_websocket_pushes_a_snapshot_then_a_state_change_within_a_second(
    gateway: RunningGateway, publisher: Publisher
) -> None:
    publisher.send(birth())
    publisher.send(state(1))
    await until(lambda: count(gateway.db_path, "messages") == 1, what="first state")
    url = f"ws://127.0.0.1:{gateway.settings.http.port}/ws/status"
    async with connect(url) as socket:
        snapshot = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert snapshot["type"] == "snapshot"
        assert [m["status"] for m in snapshot["machines"]] == ["running"]
        sent = time.monotonic()
        publisher.send(
            c.StateChanged(
                agent=AGENT,
                machine=MACHINE,
                seq=2,
                ts=datetime.now(UTC),
                availability=c.Availability.AVAILABLE,
                execution=c.Execution.FEED_HOLD,
                mode=c.Mode.AUTOMATIC,
            )
        )
        pushed = json.loads(await asyncio.wait_for(socket.recv(), 5))
        latency = time.monotonic() - sent
    assert pushed["type"] == "machine"
    assert (pushed["machine"]["id"], pushed["machine"]["status"], pushed["machine"]["execution"]) == (
        MACHINE,
        "hold",
        "FEED_HOLD",
    )
    assert latency < 1.0


async def test_a_gap_that_stays_open_is_asked_for_on_the_replay_topic(
    make_settings: Any, gateway_factory: Any, broker: Broker, publisher: Publisher
) -> None:
    gw = await gateway_factory(make_settings(gap_timeout_s=0.3))
    requests: list[c.Message] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = lambda client, userdata, msg: requests.append(c.decode(msg.topic, bytes(msg.payload))[1])
    listener.connect(broker.host, broker.port)
    listener.subscribe(c.agent_topic(SITE, AGENT, "replay"), qos=1)
    listener.loop_start()
    try:
        publisher.send(birth())
        for seq in (1, 2, 5):  # 3 and 4 were lost by a broker that crashed before saving them
            publisher.send(now_part(seq, counter=seq))
        await until(lambda: requests, timeout_s=10, what="a replay request")
        request = requests[0]
        assert isinstance(request, c.ReplayRequest)
        assert (request.agent, request.first, request.last) == (AGENT, 3, 4)
        assert request.requester == "atelier-gateway-test"
        for seq in (3, 4):  # the agent republishes them from its outbox
            publisher.send(now_part(seq, counter=seq))
        await until(lambda: rows(gw.db_path, "SELECT contiguous_seq FROM agents") == [(5,)], what="gap closed")
        asked = len(requests)
        await asyncio.sleep(1.0)
        assert len(requests) == asked  # a closed gap is not asked for again
    finally:
        listener.disconnect()
        listener.loop_stop()


async def test_shared_subscription_group_ingests(
    make_settings: Any, gateway_factory: Any, publisher: Publisher
) -> None:
    gw = await gateway_factory(make_settings(shared_group="gateways"))
    await asyncio.sleep(0.2)  # shared subscriptions get no retained messages: publish after subscribing
    publisher.send(birth())
    publisher.send(now_part(1, counter=1))
    await until(lambda: count(gw.db_path, "part_counts") == 1, what="a part through $share/gateways/...")


async def test_the_live_view_is_restored_from_the_store_at_start(
    make_settings: Any, gateway_factory: Any, publisher: Publisher
) -> None:
    settings = make_settings()
    first = await gateway_factory(settings)
    publisher.send(birth())
    publisher.send(state(1, program="P7", part_count=5))
    publisher.send(now_cycle(2))
    publisher.send(now_part(3, counter=6))
    await until(lambda: count(first.db_path, "part_counts") == 1, what="ingest")
    before = await api_machines(first)
    first.stop.set()
    await asyncio.wait_for(first.task, 20)
    second = await gateway_factory(settings)
    after = await api_machines(second)
    keys = ("status", "program", "part_count", "parts_today", "last_cycle_s", "last_cycle_end", "agent_online")
    assert [{k: m[k] for k in keys} for m in after] == [{k: m[k] for k in keys} for m in before]


async def test_ingest_resumes_after_a_broker_restart(gateway: RunningGateway, broker: Broker) -> None:
    first = Publisher(broker)
    first.send(birth())
    first.send(now_part(1, counter=1))
    first.close()
    await until(lambda: count(gateway.db_path, "part_counts") == 1, what="first part")
    await asyncio.to_thread(broker.restart)
    await until(lambda: subscribed(gateway.settings.http.port), timeout_s=20, what="the gateway back on the broker")
    second = Publisher(broker)
    try:
        second.send(now_part(2, counter=2))
        await until(lambda: count(gateway.db_path, "part_counts") == 2, what="a part after the broker restart")
    finally:
        second.close()
    assert count(gateway.db_path, "dead_letters") == 0
