"""The wire contract: golden payloads, round trips, and every way a message can be refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edge_agent import contract as c
from tests.contract.examples import AGENT, EXAMPLES, MACHINE, SITE, TS

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(("stem", "topic", "message"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_golden_payload(stem: str, topic: str, message: c.Message) -> None:
    """Any change to the wire format changes a golden file, so it shows in review."""
    path = GOLDEN / f"{stem}.json"
    encoded = json.loads(c.encode(message))
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(encoded, indent=2) + "\n")
    assert encoded == json.loads(path.read_text()), f"wire format of {stem} changed; review and UPDATE_GOLDEN=1"
    parsed, decoded = c.decode(topic, path.read_bytes())
    assert decoded == message
    assert parsed.site == SITE


@pytest.mark.parametrize(("stem", "topic", "message"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_payload_carries_the_envelope(stem: str, topic: str, message: c.Message) -> None:
    payload = json.loads(c.encode(message))
    assert payload["schema"] == c.SCHEMA_VERSION
    assert payload["agent"] == AGENT
    assert payload["ts"].endswith("Z")
    if "/agent/" not in topic:
        assert payload["machine"] == MACHINE
        assert isinstance(payload["seq"], int)


def test_topics_parse_back() -> None:
    assert c.parse_topic(c.machine_topic(SITE, MACHINE, "event")) == c.Topic(SITE, "event", machine=MACHINE)
    assert c.parse_topic(c.agent_topic(SITE, AGENT, "status")) == c.Topic(SITE, "status", agent=AGENT)
    assert c.subscription(SITE)[0] == f"atelier/v1/{SITE}/+/state"


def _event_bytes(**changes: object) -> bytes:
    payload = json.loads(c.encode(c.CycleStarted(agent=AGENT, machine=MACHINE, seq=1, ts=TS, program="P")))
    payload.update(changes)
    return json.dumps(payload).encode()


EVENT_TOPIC = c.machine_topic(SITE, MACHINE, "event")


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (EVENT_TOPIC, b"{not json", "not valid JSON"),
        (EVENT_TOPIC, _event_bytes()[:25], "not valid JSON"),
        (EVENT_TOPIC, b"[1, 2]", "not a JSON object"),
        (EVENT_TOPIC, _event_bytes(schema=2), "unsupported schema version 2"),
        (EVENT_TOPIC, _event_bytes(schema=None), "unsupported schema version None"),
        (EVENT_TOPIC, _event_bytes(type="coffee_break"), "invalid event payload"),
        (EVENT_TOPIC, _event_bytes(seq=0), "seq"),
        (EVENT_TOPIC, _event_bytes(ts="2026-11-25T08:30:00"), "ts"),
        (EVENT_TOPIC, _event_bytes(machine="other-machine"), "does not match topic"),
        (EVENT_TOPIC, _event_bytes(extra_field=1), "extra_field"),
        (EVENT_TOPIC, b" " * (c.MAX_PAYLOAD_BYTES + 1), "exceeds the limit"),
        ("atelier/v2/lyon/m/event", _event_bytes(), "outside atelier/v1"),
        ("atelier/v1/lyon/m/shoes", _event_bytes(), "not in the atelier topic tree"),
        ("atelier/v1/Lyon!/m/event", _event_bytes(), "not a valid identifier"),
        ("atelier/v1/lyon/agent/event", _event_bytes(), "not in the atelier topic tree"),
    ],
)
def test_refusals_say_why(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(c.ContractError) as caught:
        c.decode(topic, payload)
    assert reason in caught.value.reason


def test_no_student_data_on_the_bus() -> None:
    """Students are minors: nothing on the bus may name one. The payload models have no such field."""
    forbidden = {"student", "name", "first_name", "last_name", "badge"}
    for model in (*c.EVENT_TYPES, c.StateMessage, c.Telemetry, c.AgentStatus, c.ReplayRequest, c.MachineState):
        assert not forbidden & set(model.model_fields), model.__name__
