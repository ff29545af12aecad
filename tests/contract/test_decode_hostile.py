"""``decode`` against hostile bytes: whatever the topic and the payload, only ``ContractError`` leaves it.

The gateway dead-letters on ContractError; any other exception would be a
message that stops ingest (a RecursionError for ten thousand ``[``, a
ValueError for an integer of 5000 digits). Hypothesis builds the payloads from
the golden examples, mangled in the ways an attacker or a broken publisher
would, and from arbitrary bytes; a message that is accepted must also be one
the store can take (re-encodable, its times convertible to UTC).
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_agent import contract as c
from tests.contract.examples import EXAMPLES, NETWORK_EXAMPLES

GOLDEN = [(topic, json.loads(c.encode(message))) for _, topic, message in [*EXAMPLES, *NETWORK_EXAMPLES]]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Tokens spliced into a payload's text where a value stands: what json.dumps never writes but a hostile peer may.
HOSTILE_TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"-1e999",
    b"9" * 5000,
    b"-" + b"9" * 4400,
    b"1" + b"0" * 4299,
    b'"\\u0000"',
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"\xff\xfe"',
    b'"\xc3\x28"',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[" * 900 + b"]" * 900,
    b'"0001-01-01T00:00:00+14:00"',
    b'"9999-12-31T23:59:59-14:00"',
    b"true",
    b"{}",
    b"[]",
]

topics = (
    st.sampled_from([topic for topic, _ in GOLDEN])
    | st.builds(
        lambda site, machine, channel: f"atelier/v1/{site}/{machine}/{channel}",
        st.text(max_size=70),
        st.text(max_size=70) | st.just("agent") | st.just("network"),
        st.sampled_from(["state", "event", "telemetry", "status", "replay", "aggregate", "x"]),
    )
    | st.text(max_size=120)
)


@st.composite
def mangled(draw: st.DrawFn) -> tuple[str, bytes]:
    """A golden message with one field replaced, dropped or added, re-serialised."""
    topic, payload = draw(st.sampled_from(GOLDEN))
    payload = dict(payload)
    key = draw(st.sampled_from(sorted(payload)))
    action = draw(st.sampled_from(["replace", "drop", "add", "nest"]))
    if action == "replace":
        payload[key] = draw(json_values)
    elif action == "drop":
        del payload[key]
    elif action == "add":
        payload[draw(st.text(max_size=10))] = draw(json_values)
    else:
        depth = draw(st.integers(min_value=1, max_value=2000))
        value: Any = payload[key]
        for _ in range(depth):
            value = [value]
        payload[key] = value
    try:
        text = json.dumps(payload).encode()
    except RecursionError:  # deeper than json.dumps goes: build the text by hand
        text = b'{"schema":1,"x":' + b"[" * depth + b"]" * depth + b"}"
    return topic, text


@st.composite
def spliced(draw: st.DrawFn) -> tuple[str, bytes]:
    """A golden payload's text with one value replaced by a token JSON encoders never write."""
    topic, payload = draw(st.sampled_from(GOLDEN))
    key = draw(st.sampled_from(sorted(payload)))
    marker = "\x01MARK\x01"
    text = json.dumps({**payload, key: marker}).encode()
    token = draw(st.sampled_from(HOSTILE_TOKENS))
    return topic, text.replace(json.dumps(marker).encode(), token)


@st.composite
def bit_flipped(draw: st.DrawFn) -> tuple[str, bytes]:
    """A golden payload with a few bytes overwritten: truncations, stray quotes, invalid UTF-8."""
    topic, payload = draw(st.sampled_from(GOLDEN))
    data = bytearray(json.dumps(payload).encode())
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data[position] = draw(st.integers(min_value=0, max_value=255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
    return topic, bytes(data)


payloads = st.one_of(
    st.tuples(topics, st.binary(max_size=300)),
    st.tuples(topics, json_values.map(lambda v: json.dumps(v).encode())),
    mangled(),
    spliced(),
    bit_flipped(),
)


def _only_contract_errors(topic: str, payload: bytes) -> None:
    reason = ""
    try:
        parsed, message = c.decode(topic, payload)
    except c.ContractError as err:
        reason = err.reason or "(empty)"
    if reason:
        assert reason != "(empty)", "a refusal says why"
    else:
        # Accepted: it must be something the gateway can store.
        c.encode(message)
        message.ts.astimezone(UTC)
        assert parsed.site
    _only_contract_errors_for_the_network(topic, payload)


def _only_contract_errors_for_the_network(topic: str, payload: bytes) -> None:
    reason = ""
    try:
        aggregate = c.decode_aggregate(topic, payload)
    except c.ContractError as err:
        reason = err.reason or "(empty)"
    if reason:
        assert reason != "(empty)", "a refusal says why"
        return
    c.encode(aggregate)
    aggregate.ts.astimezone(UTC)
    aggregate.start.astimezone(UTC)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(item=payloads)
@example(item=(GOLDEN[0][0], b"[" * 60_000))
@example(item=(GOLDEN[0][0], b'{"schema":1,"seq":' + b"9" * 5000 + b"}"))
@example(item=(GOLDEN[0][0], b'{"schema":' + b"9" * 5000 + b"}"))
@example(item=(GOLDEN[0][0], b'{"schema":NaN}'))
@example(item=(GOLDEN[0][0], b"\xff\xfe\xfd"))
def test_decode_raises_only_contract_errors(item: tuple[str, bytes]) -> None:
    _only_contract_errors(*item)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (b"NaN", "NaN, which JSON does not allow"),
        (b"1e999", "beyond the range of a float"),
        (b"9" * 5000, "number out of range"),
        (b'"\\u0000"', "NUL character"),
        (b'"\\ud800"', "lone UTF-16 surrogate"),
        (b"[" * 5000 + b"]" * 5000, "nests too deeply"),
    ],
    ids=["nan", "inf", "5000-digits", "nul", "surrogate", "deep"],
)
def test_hostile_values_are_refused_with_a_reason(token: bytes, reason: str) -> None:
    topic, payload = GOLDEN[0]
    text = json.dumps({**payload, "seq": "\x01"}).encode().replace(b'"\\u0001"', token)
    with pytest.raises(c.ContractError) as caught:
        c.decode(topic, text)
    assert reason in caught.value.reason


def test_a_time_with_no_utc_equivalent_is_refused() -> None:
    topic, payload = GOLDEN[0]
    with pytest.raises(c.ContractError, match="out of range once converted to UTC"):
        c.decode(topic, json.dumps({**payload, "ts": "0001-01-01T00:00:00+14:00"}).encode())
