"""One meaning per execution state and per channel, from ``edge_agent/contract.py``, wherever it is used.

The cycle detector, the live page, the InfluxDB series and OEE each show an execution state through its
class; QoS and retain come from the channel; the ACL from the contract's topic filters. The last tests walk
the source with ast so that no module spells a second copy.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atelier.bus_security import AgentAccount, acl
from edge_agent import contract as c
from edge_agent.cycles import CycleDetector
from edge_agent.drafts import Draft
from edge_agent.observations import Observation
from edge_agent.outbox import Outbox
from gateway.domain.oee import StatePoint, categorise
from gateway.influx import state_line
from gateway.live import MachineView

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("edge_agent", "gateway", "atelier", "plumbing")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
E, K = c.Execution, c.ExecutionClass

# The classification, written out once more on purpose: changing it must change this table in review.
CLASSES = {
    E.ACTIVE: K.RUNNING,
    E.FEED_HOLD: K.HELD,
    E.INTERRUPTED: K.HELD,
    E.OPTIONAL_STOP: K.HELD,
    E.PROGRAM_STOPPED: K.HELD,
    E.STOPPED: K.STOPPED,
    E.READY: K.READY,
    E.PROGRAM_COMPLETED: K.READY,
}
# (live tile, the InfluxDB flag that is 1, OEE category) per class; unknown execution: idle everywhere.
SHOWN = {
    K.RUNNING: ("running", "active", "running"),
    K.HELD: ("hold", "held", "held"),
    K.STOPPED: ("stopped", "stopped", "alarm"),
    K.READY: ("ready", None, "idle"),
    None: ("idle", None, "idle"),
}


def test_every_execution_state_has_one_class() -> None:
    assert {e: c.execution_class(e) for e in E} == CLASSES
    assert {e.value: c.execution_class(e.value) for e in E} == {e.value: k for e, k in CLASSES.items()}
    assert c.execution_class(None) is None
    assert c.execution_class("NOT_A_STATE") is None


def _live_tile(execution: c.Execution | None) -> str:
    state = c.MachineState(availability=c.Availability.AVAILABLE, execution=execution)
    return MachineView("lyon", "m1", agent="pc-1", agent_online=True, state=state).status


def _influx_flag(execution: c.Execution | None) -> str | None:
    text = state_line("lyon", "m1", T0, availability="AVAILABLE", execution=execution, mode=None)
    assert text is not None
    fields = dict(pair.split("=", 1) for pair in text.split(" ")[1].split(","))
    ones = [name for name in c.INFLUX_EXECUTION_FLAGS if fields[name] == "1i"]
    assert len(ones) <= 1
    return ones[0] if ones else None


def _oee(execution: c.Execution | None) -> str:
    return categorise(StatePoint(T0, "AVAILABLE", None if execution is None else execution.value))


@pytest.mark.parametrize("execution", [*E, None], ids=str)
def test_the_page_influx_and_oee_show_each_state_through_its_class(execution: c.Execution | None) -> None:
    expected = SHOWN[None if execution is None else CLASSES[execution]]
    assert (_live_tile(execution), _influx_flag(execution), _oee(execution)) == expected


def _cycle_through(execution: c.Execution) -> tuple[bool, float | None]:
    """A program cycle that spends 30 s in ``execution``, then runs and completes: (open after entering
    ``execution``, held_s of the first cycle to end)."""
    detector = CycleDetector()
    idle = c.MachineState(availability=c.Availability.AVAILABLE, execution=E.READY, mode=c.Mode.AUTOMATIC)
    running = idle.model_copy(update={"execution": E.ACTIVE})
    done = idle.model_copy(update={"execution": E.PROGRAM_COMPLETED})
    steps = [(running, 0), (idle.model_copy(update={"execution": execution}), 10), (running, 40), (done, 50)]
    prev, still_open, held = idle, False, None
    for state, t in steps:
        drafts = detector.step(prev, Observation(ts=T0 + timedelta(seconds=t), state=state))
        if t == 10:
            still_open = detector.open_cycle is not None
        ended = [draft.fields["held_s"] for draft in drafts if draft.type is c.CycleEnded]
        held = ended[0] if held is None and ended else held
        prev = state
    return still_open, held


@pytest.mark.parametrize("execution", [e for e in E if CLASSES[e] is K.HELD])
def test_a_held_state_pauses_the_cycle_and_counts_as_held_time(execution: c.Execution) -> None:
    assert _cycle_through(execution) == (True, 30.0)


@pytest.mark.parametrize("execution", [e for e in E if CLASSES[e] in (K.STOPPED, K.READY)])
def test_a_stopped_or_ready_state_ends_the_cycle(execution: c.Execution) -> None:
    still_open, held = _cycle_through(execution)
    assert not still_open
    assert held == 0.0


def test_the_outbox_stores_each_channel_with_its_qos_and_retain(tmp_path: Path) -> None:
    outbox = Outbox(
        tmp_path / "outbox.db", agent="pc-1", site="lyon", event_budget=100, telemetry_budget=100, retention_s=60
    )
    try:
        changed = Draft(c.ProgramChanged, T0, {"program": "P1", "previous": None})
        outbox.put("m1", [changed], c.MachineState(availability=c.Availability.AVAILABLE), ts=T0)
        outbox.put_telemetry("m1", T0, {"spindle_speed": 1.0})
        items = outbox.pending(10)
    finally:
        outbox.close()
    channels = {item.topic.rsplit("/", 1)[1]: (item.qos, item.retain) for item in items}
    assert channels == {ch: (c.DELIVERY[ch].qos, c.DELIVERY[ch].retain) for ch in c.MACHINE_CHANNELS}


def test_the_acl_is_made_of_the_contracts_topic_filters() -> None:
    text = acl([AgentAccount("pc-1", "lyon", ("m1",))], ["gw"])
    agent, gateway = text.strip().split("\n\n")
    assert agent.splitlines()[1:] == [
        *(f"topic write {t}" for t in c.agent_writes("lyon", "pc-1", ("m1",))),
        *(f"topic read {t}" for t in c.agent_reads("lyon", "pc-1")),
    ]
    assert gateway.splitlines()[1:] == [
        *(f"topic read {t}" for t in c.gateway_reads()),
        *(f"topic write {t}" for t in c.gateway_writes()),
    ]
    # A gateway may read what it subscribes to, and an agent may publish every topic it uses.
    assert c.gateway_reads() == [*c.subscription("+"), *c.network_reads("+")]
    assert c.machine_topic("lyon", "m1", "telemetry") in c.agent_writes("lyon", "pc-1", ("m1",))


# --- no second copy -----------------------------------------------------------------------------

_EXECUTION_WORDS = {e.value for e in E}
# Tables keyed by execution words that are not classifications: translations, and a simulator's own codes.
_NOT_CLASSIFICATIONS = {"gateway/web/i18n.py", "atelier/simulators/opcua_spaces.py"}


def _product_sources() -> list[Path]:
    return [path for folder in PRODUCT for path in sorted((ROOT / folder).rglob("*.py"))]


def _names_an_execution(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and node.value in _EXECUTION_WORDS:
        return True
    if not (isinstance(node, ast.Attribute) and node.attr in _EXECUTION_WORDS):
        return False
    owner = node.value  # Execution.ACTIVE or contract.Execution.ACTIVE, not ExecutionClass.READY
    return (isinstance(owner, ast.Name) and owner.id == "Execution") or (
        isinstance(owner, ast.Attribute) and owner.attr == "Execution"
    )


def _classifications(tree: ast.AST) -> list[int]:
    """Lines of collections of two or more execution states: a class spelled out again."""
    found = []
    for node in ast.walk(tree):
        match node:
            case ast.Set(elts=items) | ast.List(elts=items) | ast.Tuple(elts=items):
                pass
            case ast.Dict(keys=keys):
                items = [key for key in keys if key is not None]
            case _:
                continue
        if sum(map(_names_an_execution, items)) >= 2:
            found.append(node.lineno)
    return found


def test_no_module_but_the_contract_classifies_execution_states() -> None:
    offenders = []
    for path in _product_sources():
        where = path.relative_to(ROOT).as_posix()
        if where == "edge_agent/contract.py" or where in _NOT_CLASSIFICATIONS:
            continue
        offenders += [f"{where}:{line}" for line in _classifications(ast.parse(path.read_text()))]
    assert not offenders, f"classify execution states with contract.execution_class or contract.shown: {offenders}"


def test_the_exempt_tables_still_exist() -> None:
    # An exemption for a file that is gone or no longer needs it would hide a new copy there.
    for where in _NOT_CLASSIFICATIONS:
        assert _classifications(ast.parse((ROOT / where).read_text())), where


_DELIVERY_WORDS = ("qos", "retain", "retained")


def test_no_qos_or_retain_is_written_outside_the_contract() -> None:
    offenders = []
    for path in _product_sources():
        where = path.relative_to(ROOT).as_posix()
        if where == "edge_agent/contract.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            literal: list[ast.expr | None] = []
            if isinstance(node, ast.Call):  # publish(..., qos=1), will_set, subscribe, SubscribeOptions, replace
                literal += [kw.value for kw in node.keywords if kw.arg in _DELIVERY_WORDS]
            elif isinstance(node, ast.arguments):  # def publish(..., qos=1)
                named = [*node.posonlyargs, *node.args][len(node.posonlyargs) + len(node.args) - len(node.defaults) :]
                pairs = [*zip(named, node.defaults, strict=True), *zip(node.kwonlyargs, node.kw_defaults, strict=True)]
                literal += [default for arg, default in pairs if arg.arg in _DELIVERY_WORDS]
            offenders += [f"{where}:{value.lineno}" for value in literal if isinstance(value, ast.Constant)]
    assert not offenders, f"take QoS and retain from contract.DELIVERY: {offenders}"
