"""Hostile bytes through a real broker into the real gateway: each one dead-lettered with why, nothing stalls.

A corpus of payloads a broken or hostile publisher can send (deep nesting,
5000-digit integers, invalid UTF-8, NaN, wrong types, oversized, forged agent
ids) goes through mosquitto with Atelier's shipped settings; a genuine cycle
published after them is stored within 2 s. Then: a stalled store turns
``/healthz`` to 503 "ingest stalled" and is counted; dead letters past their
retention are purged.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from atelier.broker import Broker
from edge_agent import contract as c
from gateway.store import db
from tests.gateway.conftest import RunningGateway
from tests.gateway.helpers import AGENT, MACHINE, SITE, Publisher, birth, count, rows, state, until
from tests.gateway.prometheus_text import Scrape, parse
from tests.gateway.test_ingest import now_cycle

OTHER_AGENT, OTHER_MACHINE = "pc-2", "lathe-2"
EVENT = c.machine_topic(SITE, MACHINE, "event")


def _event(**changes: Any) -> bytes:
    now = datetime.now(UTC)
    base = json.loads(
        c.encode(
            c.CycleEnded(
                agent=AGENT,
                machine=MACHINE,
                seq=9000,
                ts=now,
                program="P1",
                started=now - timedelta(seconds=60),
                duration_s=60.0,
                held_s=0.0,
                parts=1,
                outcome=c.CycleOutcome.COMPLETED,
            )
        )
    )
    return json.dumps({**base, **changes}).encode()


def _spliced(key: str, token: bytes) -> bytes:
    """A valid event whose ``key`` holds ``token``, a text no JSON encoder writes."""
    return _event(**{key: "\x01"}).replace(b'"\\u0001"', token)


# (what, topic, payload, the reason its dead letter must give)
CORPUS: list[tuple[str, str, bytes, str]] = [
    ("deep array", EVENT, b'{"schema":1,"x":' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nests too deeply"),
    ("deep object", EVENT, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nests too deeply"),
    ("5000-digit seq", EVENT, _spliced("seq", b"9" * 5000), "number out of range"),
    ("5000-digit schema", EVENT, b'{"schema":' + b"7" * 5000 + b"}", "number out of range"),
    ("invalid UTF-8", EVENT, _spliced("program", b'"\xff\xfe\xc3\x28"'), "not valid JSON"),
    ("NaN", EVENT, _spliced("duration_s", b"NaN"), "NaN, which JSON does not allow"),
    ("overflowing float", EVENT, _spliced("held_s", b"1e999"), "beyond the range of a float"),
    ("seq as text", EVENT, _event(seq="twelve"), "seq"),
    ("ts not a time", EVENT, _event(ts="yesterday"), "ts"),
    ("machine as a list", EVENT, _event(machine=[MACHINE]), "machine"),
    ("seq past 64 bits", EVENT, _event(seq=2**64), "seq"),
    ("negative duration", EVENT, _event(duration_s=-5), "duration_s"),
    ("NUL in a string", EVENT, _spliced("program", b'"P\\u0000"'), "NUL character"),
    ("lone surrogate", EVENT, _spliced("program", b'"\\udc80"'), "lone UTF-16 surrogate"),
    ("time with no UTC", EVENT, _event(started="0001-01-01T00:00:00+14:00"), "out of range once converted to UTC"),
    ("huge program name", EVENT, _event(program="P" * 40_000), "program"),
    ("unknown field", EVENT, _event(student="Léa M."), "student"),
    ("wrong schema", EVENT, _event(schema=2), "unsupported schema version 2"),
    ("not an object", EVENT, b"[1, 2, 3]", "not a JSON object"),
    ("empty", EVENT, b"", "not valid JSON"),
    ("oversized", EVENT, b'{"schema":1,"pad":"' + b"x" * c.MAX_PAYLOAD_BYTES + b'"}', "exceeds the limit"),
    ("forged unknown agent", EVENT, _event(agent="pc-ghost"), "unknown agent 'pc-ghost'"),
    (
        "forged agent id",
        EVENT,
        _event(agent=OTHER_AGENT),
        f"machine '{MACHINE}' of site '{SITE}' belongs to agent '{AGENT}', not to '{OTHER_AGENT}'",
    ),
    (
        "forged telemetry",
        c.machine_topic(SITE, MACHINE, "telemetry"),
        c.encode(c.Telemetry(agent=OTHER_AGENT, machine=MACHINE, seq=1, ts=datetime.now(UTC), spindle_speed=1.0)),
        f"belongs to agent '{AGENT}'",
    ),
    (
        "status in another's name",
        c.agent_topic(SITE, AGENT, "status"),
        c.encode(birth(OTHER_MACHINE, agent=OTHER_AGENT)),
        "does not match topic",
    ),
    (
        "status claiming another's machine",
        c.agent_topic(SITE, OTHER_AGENT, "status"),
        c.encode(birth(OTHER_MACHINE, MACHINE, agent=OTHER_AGENT)),
        f"announces machine '{MACHINE}' of site '{SITE}', which belongs to agent '{AGENT}'",
    ),
    ("site not an id", f"atelier/v1/LYON!/{MACHINE}/event", _event(), "not a valid identifier"),
    ("agent as a machine", f"atelier/v1/{SITE}/agent/event", _event(), "not in the atelier topic tree"),
]


async def scrape(gw: RunningGateway) -> Scrape:
    async with httpx.AsyncClient(base_url=gw.base_url) as client:
        return parse((await client.get("/metrics")).text)


async def healthz(gw: RunningGateway) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url) as client:
        return await client.get("/healthz")


async def test_a_hostile_corpus_is_dead_lettered_and_a_genuine_cycle_follows_within_2_s(
    gateway: RunningGateway, publisher: Publisher
) -> None:
    publisher.send(birth())
    publisher.send(state(1))
    publisher.send(birth(OTHER_MACHINE, agent=OTHER_AGENT))
    publisher.send(state(1, machine=OTHER_MACHINE).model_copy(update={"agent": OTHER_AGENT}))
    await until(lambda: count(gateway.db_path, "messages") == 2, what="both agents and machines")
    for _, topic, payload, _ in CORPUS:
        publisher.raw(topic, payload)
    sent = time.monotonic()
    publisher.send(now_cycle(2))
    await until(lambda: count(gateway.db_path, "cycles") == 1, timeout_s=2.0, what="the genuine cycle within 2 s")
    stored_after = time.monotonic() - sent
    letters = await until(
        lambda: (
            (found := rows(gateway.db_path, "SELECT topic, reason FROM dead_letters ORDER BY id"))
            and len(found) >= len(CORPUS)
            and found
        ),
        what="every hostile message dead-lettered",
    )
    assert len(letters) == len(CORPUS), letters
    for (what, topic, _, reason), (stored_topic, stored_reason) in zip(CORPUS, letters, strict=True):
        assert stored_topic == topic, what
        assert reason in stored_reason, (what, stored_reason)
    assert stored_after < 2.0
    # The victim's machine still belongs to it; the claim and the forgeries changed nothing.
    owners = rows(
        gateway.db_path, "SELECT m.name, a.name FROM machines m JOIN agents a ON a.id = m.agent_id ORDER BY m.name"
    )
    assert owners == [(MACHINE, AGENT), (OTHER_MACHINE, OTHER_AGENT)]
    assert rows(
        gateway.db_path, "SELECT seq FROM messages m JOIN agents a ON a.id = m.agent_id WHERE a.name = ?", AGENT
    ) == [
        (1,),
        (2,),
    ]
    response = await healthz(gateway)
    assert response.status_code == 200, response.text
    metrics = await scrape(gateway)
    assert metrics.value("atelier_gateway_ingest_stalls_total") == 0
    assert metrics.value("atelier_gateway_ownership_refusals_total") == 3  # two forgeries and one claim


class _Refused:
    """A client whose publish is too big for the broker: it is disconnected, and says why."""

    def __init__(self, broker: Broker) -> None:
        self.reason: ReasonCode | None = None
        self.gone = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_disconnect = self._on_disconnect
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        self.reason = reason
        self.gone.set()

    def close(self) -> None:
        self.client.loop_stop()


async def test_the_broker_refuses_packets_beyond_the_contracts_limit(gateway: RunningGateway, broker: Broker) -> None:
    assert f"max_packet_size {c.MAX_PAYLOAD_BYTES + 1024}\n" in broker.config_path.read_text()
    refused = _Refused(broker)
    try:
        refused.client.publish(EVENT, b"x" * (1024 * 1024), qos=1)
        assert await asyncio.to_thread(refused.gone.wait, 10)
        assert refused.reason is not None
        # mosquitto sends DISCONNECT "Packet too large" and closes the socket; paho sometimes sees the closed
        # socket first and reports "Unspecified error". Either way the client was cut off at the door.
        assert refused.reason.getName() in {"Packet too large", "Unspecified error"}
    finally:
        refused.close()
    await asyncio.sleep(0.5)
    assert count(gateway.db_path, "dead_letters") == 0  # refused at the door: nothing reached the gateway


async def test_a_stalled_store_turns_healthz_503_and_is_counted(
    make_settings: Any, gateway_factory: Any, publisher: Publisher
) -> None:
    gw = await gateway_factory(make_settings(stall_after_s=1.0))
    publisher.send(birth())
    publisher.send(state(1))
    await until(lambda: count(gw.db_path, "messages") == 1, what="a first commit")
    # A real stall: another process holds SQLite's write lock, so ingest cannot commit (readers still read).
    blocker = sqlite3.connect(gw.db_path, timeout=10, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        publisher.send(now_cycle(2))
        response = await until(
            lambda: (r := httpx.get(f"{gw.base_url}/healthz")).status_code == 503 and r,
            timeout_s=10,
            what="/healthz 503",
        )
        body = response.json()
        assert body["failing"] == ["ingest"]
        assert "ingest stalled" in body["checks"]["ingest"]["detail"]
        await until(lambda: _scraped(gw, "atelier_gateway_ingest_stalls_total") == 1, what="the stall counted")
        assert (await scrape(gw)).value("atelier_gateway_ingest_stalled") == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await until(lambda: count(gw.db_path, "cycles") == 1, timeout_s=20, what="the cycle once the store is back")
    await until(lambda: httpx.get(f"{gw.base_url}/healthz").status_code == 200, what="/healthz 200 again")
    metrics = await scrape(gw)
    assert metrics.value("atelier_gateway_ingest_stalls_total") == 1
    assert metrics.value("atelier_gateway_ingest_stalled") == 0
    assert count(gw.db_path, "dead_letters") == 0  # a store failure is nobody's fault: nothing dead-lettered


def _scraped(gw: RunningGateway, name: str) -> float:
    """From a worker thread (``until``): the gateway answers on the test's own event loop."""
    return parse(httpx.get(f"{gw.base_url}/metrics").text).value(name)


async def test_dead_letters_past_their_retention_are_purged(make_settings: Any, gateway_factory: Any) -> None:
    settings = make_settings(dead_letter_retention_days=30)
    url = settings.database.url
    db.upgrade(url)
    engine = db.make_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            for age_days in (45, 31, 29, 1):
                conn.exec_driver_sql(
                    "INSERT INTO dead_letters (received_at, topic, payload, payload_size, payload_sha256, reason) "
                    "VALUES (?, 't', x'00', 1, 'h', ?)",
                    ((now - timedelta(days=age_days)).isoformat(), f"{age_days} days old"),
                )
    finally:
        engine.dispose()
    gw = await gateway_factory(settings)
    await until(lambda: count(gw.db_path, "dead_letters") == 2, what="the purge at start")
    assert rows(gw.db_path, "SELECT reason FROM dead_letters ORDER BY id") == [("29 days old",), ("1 days old",)]
    assert (await scrape(gw)).value("atelier_gateway_dead_letters_purged_total") == 2
