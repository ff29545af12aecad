"""The network's aggregate message: golden payloads, its topic, its bounds, and what it refuses to carry."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_agent import contract as c
from tests.contract.examples import EXAMPLES, NETWORK_EXAMPLES, SITE

GOLDEN = Path(__file__).parent / "golden"
TOPIC = c.network_topic(SITE)


@pytest.mark.parametrize(("stem", "topic", "message"), NETWORK_EXAMPLES, ids=[e[0] for e in NETWORK_EXAMPLES])
def test_golden_payload(stem: str, topic: str, message: c.NetworkAggregate) -> None:
    path = GOLDEN / f"{stem}.json"
    encoded = json.loads(c.encode(message))
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(encoded, indent=2) + "\n")
    assert encoded == json.loads(path.read_text()), f"wire format of {stem} changed; review and UPDATE_GOLDEN=1"
    assert c.decode_aggregate(topic, path.read_bytes()) == message
    assert c.parse_topic(topic) == c.Topic(SITE, "aggregate")


def test_the_agents_decoder_refuses_aggregates_and_the_networks_refuses_the_rest() -> None:
    """Ingest never takes an aggregate for a machine message, and the collector never stores a machine message."""
    payload = c.encode(NETWORK_EXAMPLES[0][2])
    with pytest.raises(c.ContractError, match="only the network reads"):
        c.decode(TOPIC, payload)
    _, topic, event = EXAMPLES[2]
    with pytest.raises(c.ContractError, match="not the network's aggregates"):
        c.decode_aggregate(topic, c.encode(event))


def test_the_topic_is_the_sites_network_aggregate_and_only_the_network_reads_it() -> None:
    assert f"atelier/v1/{SITE}/network/aggregate" == TOPIC
    assert c.network_topic("+") in c.gateway_reads()
    assert c.network_topic("+") in c.gateway_writes()
    # Ingest's own subscription never matches it: the network's collector is its one reader.
    assert all(not f.endswith("/aggregate") for f in c.subscription("+"))
    assert (c.DELIVERY["aggregate"].qos, c.DELIVERY["aggregate"].retain) == (1, False)


def _golden(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(c.encode(NETWORK_EXAMPLES[0][2]))
    payload.update(changes)
    return payload


def _machine(**changes: Any) -> dict[str, Any]:
    machine: dict[str, Any] = _golden()["machines"][0]
    machine.update(changes)
    return machine


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_golden(site="grenoble"), "does not match topic"),
        (_golden(student="Léa"), "Extra inputs are not permitted"),
        (_golden(machines=[_machine(student_id=12)]), "Extra inputs are not permitted"),
        (_golden(machines=[_machine(badge="04A1B2C3")]), "Extra inputs are not permitted"),
        (_golden(practice=[{"class_label": "CAP1", "track": "CAP", "hours": 1, "names": ["Léa"]}]), "Extra inputs"),
        (_golden(practice=[{"class_label": "Léa Martin, CAP1", "track": "CAP", "hours": 1}]), "class_label"),
        (_golden(practice=[{"class_label": "CAP1", "track": "Léa", "hours": 1}]), "track"),
        (_golden(machines=[_machine(planned_h=26)]), "planned_h"),
        (_golden(machines=[_machine(good=-1)]), "good"),
        (_golden(machines=[_machine(oee=float("1e308"))]), "oee"),
        (_golden(machines=[_machine(), _machine()]), "a machine appears twice"),
        (_golden(machines=[_machine(machine="Mill 1")]), "machine"),
        (_golden(machines=[_machine()] * (c.MAX_AGGREGATE_MACHINES + 1)), "machines"),
        (_golden(end=_golden()["start"]), "is not one day"),
        (_golden(period="hour"), "is not one hour"),
        (_golden(period="week"), "period"),
        (_golden(agent="atelier-pc-1"), "Extra inputs"),
        (_golden(schema=2), "unsupported schema version"),
        (_golden(ts="2026-11-25T08:30:15"), "ts"),
    ],
    ids=[
        "other-site",
        "name-field",
        "student-id",
        "badge",
        "names-in-practice",
        "free-text-class",
        "unknown-track",
        "hours-beyond-a-day",
        "negative-parts",
        "huge-oee",
        "machine-twice",
        "bad-machine-id",
        "too-many-machines",
        "empty-period",
        "hour-of-a-day",
        "unknown-period",
        "agent-envelope",
        "schema-2",
        "naive-time",
    ],
)
def test_refused_with_a_reason(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(c.ContractError) as caught:
        c.decode_aggregate(TOPIC, json.dumps(payload).encode())
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "topic",
    ["atelier/v1/Lyon/network/aggregate", "atelier/v1/lyon/network/aggregates", "atelier/v1/lyon/network/x/aggregate"],
)
def test_topics_outside_the_tree_are_refused(topic: str) -> None:
    with pytest.raises(c.ContractError):
        c.decode_aggregate(topic, c.encode(NETWORK_EXAMPLES[0][2]))


def test_the_largest_message_stays_under_the_payload_limit() -> None:
    start = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    machine = c.MachineAggregate(
        machine="m" * 63,
        online=True,
        planned_h=24.123456789,
        running_h=23.123456789,
        free_h=1.123456789,
        good=10**9,
        scrap=10**9,
        oee=9.123456789,
        stops=c.StopHours(**dict.fromkeys(("setup", "organisation", "technical", "planned", "unclassified"), 24.12345)),
    )
    message = c.NetworkAggregate(
        site="s" * 63,
        ts=start,
        period="day",
        day=start.date(),
        start=start,
        end=start + timedelta(hours=25),
        final=True,
        machines=tuple(
            machine.model_copy(update={"machine": f"{i:03d}" + "m" * 60}) for i in range(c.MAX_AGGREGATE_MACHINES)
        ),
        practice=tuple(
            c.PracticeHours(class_label=f"{i:02d}" + "C" * 14, track="BAC_PRO", hours=99_999.123456789)
            for i in range(c.MAX_PRACTICE_GROUPS)
        ),
    )
    payload = c.encode(message)
    assert len(payload) < c.MAX_PAYLOAD_BYTES
    assert c.decode_aggregate(c.network_topic("s" * 63), payload) == message
