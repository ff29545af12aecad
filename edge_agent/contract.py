"""The wire contract between edge agents and gateways: topics and payloads.

This module is the one definition of what travels on the MQTT bus. The gateway
imports it and nothing else from ``edge_agent``; it depends only on the
standard library and pydantic so that it can be vendored anywhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

SCHEMA_VERSION = 1
TOPIC_ROOT = "atelier/v1"
# Large enough for a state snapshot with a long alarm list, small enough that a
# runaway publisher cannot make the gateway buffer megabytes per message.
MAX_PAYLOAD_BYTES = 64 * 1024

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# Whole numbers travel into SQL columns: one a store cannot hold is invalid here, not a crash there.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ID_RE = re.compile(ID_PATTERN)
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
# Bounds every string and list on the bus already had in practice (a program name comes from the state, an
# alarm code from an Alarm): written out so that nothing longer reaches a store column or a page.
Program = Annotated[str, Field(max_length=256)]
AlarmCode = Annotated[str, Field(min_length=1, max_length=64)]
MAX_MACHINES_PER_AGENT = 256
# Escapes a string on the bus may not carry: NUL (PostgreSQL text refuses it) and lone UTF-16 surrogates
# (no UTF-8 encoding exists for them). Looked for only when the raw payload holds such an escape.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class ContractError(ValueError):
    """A topic or payload that does not follow the contract; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- canonical machine state (MTConnect vocabulary) -------------------------


class Availability(StrEnum):
    AVAILABLE = "AVAILABLE"
    UNAVAILABLE = "UNAVAILABLE"


class Execution(StrEnum):
    ACTIVE = "ACTIVE"
    READY = "READY"
    INTERRUPTED = "INTERRUPTED"
    FEED_HOLD = "FEED_HOLD"
    STOPPED = "STOPPED"
    OPTIONAL_STOP = "OPTIONAL_STOP"
    PROGRAM_STOPPED = "PROGRAM_STOPPED"
    PROGRAM_COMPLETED = "PROGRAM_COMPLETED"


class Mode(StrEnum):
    AUTOMATIC = "AUTOMATIC"
    MANUAL = "MANUAL"
    MANUAL_DATA_INPUT = "MANUAL_DATA_INPUT"
    EDIT = "EDIT"
    SEMI_AUTOMATIC = "SEMI_AUTOMATIC"


class Severity(StrEnum):
    FAULT = "fault"
    WARNING = "warning"
    INFO = "info"


def _utc_representable(value: datetime) -> datetime:
    # 0001-01-01T00:00+14:00 is aware and valid, yet has no UTC equivalent: the store would fail on it.
    try:
        value.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("time out of range once converted to UTC") from err
    return value


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc_representable)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Alarm(_Frozen):
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(default="", max_length=512)
    severity: Severity = Severity.FAULT


class MachineState(_Frozen):
    """The normalised state of one machine; every field but availability may be unknown."""

    availability: Availability = Availability.UNAVAILABLE
    execution: Execution | None = None
    mode: Mode | None = None
    program: Program | None = None
    line: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    part_count: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    tool: str | None = Field(default=None, max_length=64)
    spindle_speed: float | None = None
    spindle_load: float | None = None
    feed_rate: float | None = None
    feed_override: float | None = None
    spindle_override: float | None = None
    alarms: tuple[Alarm, ...] = ()
    emergency_stop: bool | None = None


TELEMETRY_FIELDS = ("spindle_speed", "spindle_load", "feed_rate", "feed_override", "spindle_override")


# --- what an execution state means (one classification for the cycle detector, the pages, InfluxDB, OEE) ---


class ExecutionClass(StrEnum):
    """What an execution state says about the work, with MTConnect's meanings (docs/architecture.md).

    - ``running``: a program executes (ACTIVE).
    - ``held``: a program is paused and resumes with cycle start, so an open cycle stays open and the time
      is held time: FEED_HOLD, INTERRUPTED, OPTIONAL_STOP (M01) and PROGRAM_STOPPED (M00).
    - ``stopped``: the program was stopped and cannot resume (reset, alarm, operator): STOPPED.
    - ``ready``: no program executes and the control is ready for one: READY, PROGRAM_COMPLETED.

    An unknown execution (None) has no class: it is shown as idle.
    """

    RUNNING = "running"
    HELD = "held"
    STOPPED = "stopped"
    READY = "ready"


# Keyed by the word too (a StrEnum member equals and hashes as its word): the store hands back plain strings.
_EXECUTION_CLASSES: dict[str, ExecutionClass] = {
    Execution.ACTIVE: ExecutionClass.RUNNING,
    Execution.FEED_HOLD: ExecutionClass.HELD,
    Execution.INTERRUPTED: ExecutionClass.HELD,
    Execution.OPTIONAL_STOP: ExecutionClass.HELD,
    Execution.PROGRAM_STOPPED: ExecutionClass.HELD,
    Execution.STOPPED: ExecutionClass.STOPPED,
    Execution.READY: ExecutionClass.READY,
    Execution.PROGRAM_COMPLETED: ExecutionClass.READY,
}


def execution_class(execution: Execution | str | None) -> ExecutionClass | None:
    """The class of an execution state, given as the enum or its word (as the store holds it); None if unknown."""
    return None if execution is None else _EXECUTION_CLASSES.get(execution)


OeeCategory = Literal["running", "held", "alarm", "idle"]


@dataclass(frozen=True, slots=True)
class Shown:
    """How one execution class is shown, wherever it is shown.

    ``tile``: the live page's tile (``s-<tile>`` in status.css, its label in gateway/web/i18n.py);
    ``influx_flag``: the 0/1 field of the ``machine_state`` series that is 1 (the others are 0);
    ``oee``: the category its time counts in for utilisation and OEE (a stopped program is alarm time).
    """

    tile: str
    influx_flag: str | None
    oee: OeeCategory


INFLUX_EXECUTION_FLAGS = ("active", "held", "stopped")
SHOWN: dict[ExecutionClass | None, Shown] = {
    ExecutionClass.RUNNING: Shown(tile="running", influx_flag="active", oee="running"),
    ExecutionClass.HELD: Shown(tile="hold", influx_flag="held", oee="held"),
    ExecutionClass.STOPPED: Shown(tile="stopped", influx_flag="stopped", oee="alarm"),
    ExecutionClass.READY: Shown(tile="ready", influx_flag=None, oee="idle"),
    None: Shown(tile="idle", influx_flag=None, oee="idle"),
}


def shown(execution: Execution | str | None) -> Shown:
    """How an execution state is shown: through its class; an unknown one as idle."""
    return SHOWN[execution_class(execution)]


# --- payloads ----------------------------------------------------------------


class _Envelope(_Frozen):
    # ``schema`` shadows a BaseModel attribute, hence the alias.
    schema_version: Literal[1] = Field(default=1, alias="schema")
    agent: Identifier
    ts: UtcTime

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _MachineEnvelope(_Envelope):
    machine: Identifier
    seq: int = Field(ge=1, le=INT64_MAX)


class StateMessage(_MachineEnvelope):
    """Retained snapshot of a machine, published whenever a non-telemetry field changes."""

    kind: Literal["state"] = "state"
    state: MachineState


class CycleOutcome(StrEnum):
    COMPLETED = "completed"
    ABORTED = "aborted"
    ALARM = "alarm"


class CycleKind(StrEnum):
    CYCLE = "cycle"
    # A conventional machine without program state: spindle-on time stands in for a cycle.
    SPINDLE_SESSION = "spindle_session"


class StateChanged(_MachineEnvelope):
    type: Literal["state_changed"] = "state_changed"
    availability: Availability
    execution: Execution | None
    mode: Mode | None


class CycleStarted(_MachineEnvelope):
    type: Literal["cycle_started"] = "cycle_started"
    program: Program | None
    kind: CycleKind = CycleKind.CYCLE


class CycleEnded(_MachineEnvelope):
    """``ts`` is the end of the cycle; ``started`` its start, both source times."""

    type: Literal["cycle_ended"] = "cycle_ended"
    program: Program | None
    kind: CycleKind = CycleKind.CYCLE
    started: UtcTime
    duration_s: float = Field(ge=0)
    held_s: float = Field(ge=0, description="time in feed hold or interrupted inside the cycle")
    parts: int = Field(ge=0, le=INT64_MAX)
    outcome: CycleOutcome


class PartCounted(_MachineEnvelope):
    type: Literal["part_counted"] = "part_counted"
    count: int = Field(ge=1, le=INT64_MAX)
    counter: int | None = Field(
        ge=INT64_MIN, le=INT64_MAX, description="the control's own counter after counting, if any"
    )
    program: Program | None


class AlarmRaised(_MachineEnvelope):
    type: Literal["alarm_raised"] = "alarm_raised"
    alarm: Alarm


class AlarmCleared(_MachineEnvelope):
    type: Literal["alarm_cleared"] = "alarm_cleared"
    code: AlarmCode


class ProgramChanged(_MachineEnvelope):
    type: Literal["program_changed"] = "program_changed"
    program: Program | None
    previous: Program | None


Event = Annotated[
    StateChanged | CycleStarted | CycleEnded | PartCounted | AlarmRaised | AlarmCleared | ProgramChanged,
    Field(discriminator="type"),
]
EventMessage = StateChanged | CycleStarted | CycleEnded | PartCounted | AlarmRaised | AlarmCleared | ProgramChanged
EVENT_TYPES = (StateChanged, CycleStarted, CycleEnded, PartCounted, AlarmRaised, AlarmCleared, ProgramChanged)


class Telemetry(_Envelope):
    """Sampled numbers. ``seq`` is the telemetry sequence, separate from the event sequence,
    so that samples dropped under pressure never open a gap in the events."""

    machine: Identifier
    seq: int = Field(ge=1, le=INT64_MAX)
    spindle_speed: float | None = None
    spindle_load: float | None = None
    feed_rate: float | None = None
    feed_override: float | None = None
    spindle_override: float | None = None


class AgentStatus(_Envelope):
    """Retained presence of an agent. Not numbered: the Last Will is fixed at connect time."""

    status: Literal["online", "offline"]
    version: str = Field(default="", max_length=64)
    machines: tuple[Identifier, ...] = Field(default=(), max_length=MAX_MACHINES_PER_AGENT)
    site: Identifier | None = None
    # Conditions the agent cannot fix itself, e.g. "outbox_over_budget".
    alarms: tuple[Annotated[str, Field(max_length=64)], ...] = Field(default=(), max_length=32)


class ReplayRequest(_Envelope):
    """From a gateway to an agent: publish the event sequence ``first..last`` again."""

    first: int = Field(ge=1, le=INT64_MAX)
    last: int = Field(ge=1, le=INT64_MAX)
    requester: str = Field(default="", max_length=128)


# --- aggregates between schools (the network) ----------------------------------
# What a school's gateway tells the network about a day or an hour: numbers per machine and per group of
# students, never a person. Strings are identifiers or fixed words; a class label is a short code a pattern
# bounds, and the publisher leaves out any group too small to hide a student in (docs/network.md).

Hours = Annotated[float, Field(ge=0, le=25)]  # one machine, one period (a day is at most 25 h in a zone with DST)
MAX_AGGREGATE_MACHINES = 128  # at the largest, a message stays well under MAX_PAYLOAD_BYTES
MAX_PRACTICE_GROUPS = 64
CLASS_LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,15}$"
Track = Literal["CAP", "BAC_PRO", "OTHER"]
AggregatePeriod = Literal["day", "hour"]
_PERIOD_LENGTH = {"day": timedelta(hours=25), "hour": timedelta(hours=1)}


class StopHours(_Frozen):
    """Hours of stops in planned time by category (stops.CATEGORIES, and those nobody classified)."""

    setup: Hours = 0.0
    organisation: Hours = 0.0
    technical: Hours = 0.0
    planned: Hours = 0.0
    unclassified: Hours = 0.0


class MachineAggregate(_Frozen):
    machine: Identifier
    online: bool  # hour: available at its end (or now); day: available at some time of the day
    planned_h: Hours  # planned busy time (calendar minus planned stops)
    running_h: Hours  # running inside planned time
    free_h: Hours  # free capacity: planned - running
    good: int = Field(ge=0, le=10**9)
    scrap: int = Field(ge=0, le=10**9)
    oee: float | None = Field(default=None, ge=0, le=10)  # performance against standards may exceed 1
    stops: StopHours = StopHours()


class PracticeHours(_Frozen):
    class_label: str = Field(pattern=CLASS_LABEL_PATTERN)
    track: Track
    hours: float = Field(ge=0, le=100_000)


class NetworkAggregate(_Frozen):
    """A school's numbers for one day (over once ``final``) or one hour of today, published by its gateway.

    ``ts`` is when they were computed: the network keeps, per site and period, the newest it received.
    """

    schema_version: Literal[1] = Field(default=1, alias="schema")
    site: Identifier
    ts: UtcTime
    period: AggregatePeriod
    day: date  # the site's local day the period belongs to
    start: UtcTime
    end: UtcTime
    final: bool  # the period is over in the site's zone: these numbers change only if late events arrive
    machines: tuple[MachineAggregate, ...] = Field(default=(), max_length=MAX_AGGREGATE_MACHINES)
    practice: tuple[PracticeHours, ...] = Field(default=(), max_length=MAX_PRACTICE_GROUPS)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _coherent(self) -> NetworkAggregate:
        if not timedelta(0) < self.end - self.start <= _PERIOD_LENGTH[self.period]:
            raise ValueError(f"start..end is not one {self.period}")
        names = [m.machine for m in self.machines]
        if len(set(names)) != len(names):
            raise ValueError("a machine appears twice")
        groups = [(p.class_label, p.track) for p in self.practice]
        if len(set(groups)) != len(groups):
            raise ValueError("a class and track appear twice")
        return self


SequencedMessage = StateMessage | EventMessage
# What agents and gateways say about machines (``decode``); the network's aggregates are read apart
# (``decode_aggregate``), by the one reader that subscribes to them.
Message = SequencedMessage | Telemetry | AgentStatus | ReplayRequest

_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)


# --- topics ------------------------------------------------------------------

MachineChannel = Literal["state", "event", "telemetry"]
AgentChannel = Literal["status", "replay"]
MACHINE_CHANNELS: tuple[MachineChannel, ...] = ("state", "event", "telemetry")
AGENT_CHANNELS: tuple[AgentChannel, ...] = ("status", "replay")
NetworkChannel = Literal["aggregate"]
NETWORK_SEGMENT = "network"
# ``agent`` is the second level of agent topics, so no machine may be called that.
RESERVED_MACHINE_IDS = frozenset({"agent"})


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    channel: str
    machine: str | None = None
    agent: str | None = None


def machine_topic(site: str, machine: str, channel: MachineChannel) -> str:
    return f"{TOPIC_ROOT}/{site}/{machine}/{channel}"


def agent_topic(site: str, agent: str, channel: AgentChannel) -> str:
    return f"{TOPIC_ROOT}/{site}/agent/{agent}/{channel}"


def subscription(site: str = "+") -> list[str]:
    """Topic filters a gateway subscribes to (``+`` for every site)."""
    return [machine_topic(site, "+", c) for c in MACHINE_CHANNELS] + [agent_topic(site, "+", "status")]


def replay_filter(site: str, agent: str) -> str:
    return agent_topic(site, agent, "replay")


def network_topic(site: str) -> str:
    """Where a school's gateway publishes its aggregates (``+`` for every site: what the network reads)."""
    return f"{TOPIC_ROOT}/{site}/{NETWORK_SEGMENT}/aggregate"


def network_reads(site: str = "+") -> list[str]:
    """Topic filters the network's gateway subscribes to (not part of ``subscription``: ingest never reads them)."""
    return [network_topic(site)]


# --- how each channel travels, and who may use it ------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """The MQTT QoS and retained flag a channel's messages are published with."""

    qos: Literal[0, 1]
    retain: bool


DELIVERY: dict[MachineChannel | AgentChannel | NetworkChannel, Delivery] = {
    "state": Delivery(qos=1, retain=True),  # the latest snapshot waits on the broker for any new subscriber
    "event": Delivery(qos=1, retain=False),
    "telemetry": Delivery(qos=0, retain=False),  # sampled: a lost sample is replaced by the next one
    "status": Delivery(qos=1, retain=True),  # the birth, and the Last Will that replaces it
    "replay": Delivery(qos=1, retain=False),
    # Not retained: one topic carries every day and hour of a site, so a retained copy would be one of many.
    "aggregate": Delivery(qos=1, retain=False),
}
# A message published again on a replay request keeps its QoS but is never retained: an old snapshot must not
# replace the retained current state.
RETAIN_WHEN_REPLAYED = False
# What a gateway subscribes with: the highest QoS of what it reads, so each message arrives at its own QoS.
GATEWAY_SUBSCRIBE_QOS = max(d.qos for channel, d in DELIVERY.items() if channel not in ("replay", "aggregate"))


def agent_writes(site: str, agent: str, machines: tuple[str, ...]) -> list[str]:
    """Topics an agent may publish on (for the broker's ACL): its machines' channels and its own status."""
    topics = [machine_topic(site, machine, c) for machine in machines for c in MACHINE_CHANNELS]
    return [*topics, agent_topic(site, agent, "status")]


def agent_reads(site: str, agent: str) -> list[str]:
    """Topic filters an agent may subscribe to: the replay requests addressed to it."""
    return [replay_filter(site, agent)]


def gateway_reads(*sites: str) -> list[str]:
    """Topic filters a gateway may subscribe to: the trees of the sites it hosts (none given: every site), and
    every school's aggregates (a network gateway collects them all, whatever sites it hosts)."""
    return [*(f for site in sites or ("+",) for f in subscription(site)), *network_reads("+")]


def gateway_writes(*sites: str) -> list[str]:
    """Topic filters a gateway may publish on: replay requests to the agents of its sites (none given: every
    site), and those sites' aggregates."""
    return [t for site in sites or ("+",) for t in (agent_topic(site, "+", "replay"), network_topic(site))]


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) < 2 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise ContractError(f"topic {topic!r} is outside {TOPIC_ROOT}/")
    rest = parts[2:]
    if len(rest) == 3 and rest[2] in MACHINE_CHANNELS and rest[1] not in RESERVED_MACHINE_IDS:
        site, machine, channel = rest
        _check_ids(topic, site, machine)
        return Topic(site=site, channel=channel, machine=machine)
    if len(rest) == 3 and rest[1] == NETWORK_SEGMENT and rest[2] == "aggregate":
        _check_ids(topic, rest[0])
        return Topic(site=rest[0], channel="aggregate")
    if len(rest) == 4 and rest[1] == "agent" and rest[3] in AGENT_CHANNELS:
        site, _, agent, channel = rest
        _check_ids(topic, site, agent)
        return Topic(site=site, channel=channel, agent=agent)
    raise ContractError(f"topic {topic!r} is not in the atelier topic tree")


def _check_ids(topic: str, *ids: str) -> None:
    for value in ids:
        if not is_valid_id(value):
            raise ContractError(f"topic {topic!r}: {value!r} is not a valid identifier")


# --- encode / decode ---------------------------------------------------------


def encode(message: Message | NetworkAggregate) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_none=False).encode()


def decode(topic: str, payload: bytes) -> tuple[Topic, Message]:
    """Parse and validate one MQTT message; raise ContractError with a readable reason.

    Whatever the bytes and the topic, ContractError is the only exception that leaves: the gateway
    dead-letters on it, and anything else would be a message that stops ingest.
    """
    parsed, message = _guarded(topic, payload)
    if isinstance(message, NetworkAggregate):
        raise ContractError(f"topic {topic!r} carries the network's aggregates, which only the network reads")
    return parsed, message


def decode_aggregate(topic: str, payload: bytes) -> NetworkAggregate:
    """Parse and validate a school's aggregate (``network_topic``); raise only ContractError, as ``decode``."""
    parsed, message = _guarded(topic, payload)
    if not isinstance(message, NetworkAggregate):
        raise ContractError(f"topic {topic!r} is a {parsed.channel} topic, not the network's aggregates")
    return message


def _guarded(topic: str, payload: bytes) -> tuple[Topic, Message | NetworkAggregate]:
    try:
        return _decode(topic, payload)
    except ContractError:
        raise
    except Exception as err:  # a parser or validator failing in a way not foreseen below: still the payload's fault
        raise ContractError(f"payload cannot be read: {type(err).__name__}: {str(err)[:200]}") from err


def _decode(topic: str, payload: bytes) -> tuple[Topic, Message | NetworkAggregate]:
    parsed = parse_topic(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload of {len(payload)} bytes exceeds the limit of {MAX_PAYLOAD_BYTES}")
    raw = _parse_json(payload)
    if not isinstance(raw, dict):
        raise ContractError("payload is not a JSON object")
    schema = raw.get("schema")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise ContractError(f"unsupported schema version {_short(schema)} (this gateway reads {SCHEMA_VERSION})")
    if _SUSPECT_ESCAPE.search(payload):
        _check_strings(raw)
    message = _validate(parsed, raw)
    _check_consistent(topic, parsed, message)
    return parsed, message


def _parse_json(payload: bytes) -> Any:
    try:
        # What json.loads(payload, parse_constant=..., parse_float=...) does, with one decoder for all payloads.
        return _JSON.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))
    except ContractError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ContractError(f"payload is not valid JSON: {err}") from err
    except RecursionError as err:
        raise ContractError("payload nests too deeply to be a contract message") from err
    except ValueError as err:  # an integer of thousands of digits: Python refuses to convert it
        raise ContractError(f"payload holds a number out of range: {str(err)[:120]}") from err


def _refuse_constant(name: str) -> Any:
    raise ContractError(f"payload holds {name}, which JSON does not allow")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ContractError(f"payload holds the number {text[:40]}, beyond the range of a float")
    return value


_JSON = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _check_strings(value: Any) -> None:
    """Refuse NUL and lone surrogates anywhere in the payload (keys and values)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\0" in item:
                raise ContractError("payload holds a NUL character in a string")
            try:
                item.encode()
            except UnicodeEncodeError as err:
                raise ContractError("payload holds a lone UTF-16 surrogate in a string") from err


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text[:40]


def _validate(parsed: Topic, raw: dict[str, Any]) -> Message | NetworkAggregate:
    try:
        match parsed.channel:
            case "state":
                return StateMessage.model_validate(raw)
            case "event":
                event: Message = _EVENT_ADAPTER.validate_python(raw)
                return event
            case "telemetry":
                return Telemetry.model_validate(raw)
            case "status":
                return AgentStatus.model_validate(raw)
            case "aggregate":
                return NetworkAggregate.model_validate(raw)
            case _:
                return ReplayRequest.model_validate(raw)
    except ValidationError as err:
        raise ContractError(f"invalid {parsed.channel} payload: {_summarise(err)}") from err


def _check_consistent(topic: str, parsed: Topic, message: Message | NetworkAggregate) -> None:
    machine = getattr(message, "machine", None)
    if parsed.machine is not None and machine != parsed.machine:
        raise ContractError(f"payload machine {machine!r} does not match topic {topic!r}")
    if isinstance(message, NetworkAggregate):
        if message.site != parsed.site:
            raise ContractError(f"payload site {message.site!r} does not match topic {topic!r}")
        return
    if parsed.agent is not None and message.agent != parsed.agent:
        raise ContractError(f"payload agent {message.agent!r} does not match topic {topic!r}")


def _summarise(err: ValidationError) -> str:
    parts = []
    for item in err.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "payload"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def utc_iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")
