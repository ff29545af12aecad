"""Normaliser: profile mapping, value maps, scaling, coercion and bad values."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge_agent.contract import Alarm, Availability, Execution, MachineState, Mode, Severity
from edge_agent.drivers import Reading
from edge_agent.normalise import COERCERS, Normaliser
from edge_agent.profiles import MARKERS, Profile

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)

PROFILE = Profile.model_validate(
    {
        "profile": {"name": "test mill", "driver": "opcua"},
        "signals": {
            "execution": {
                "source": "RunState",
                "map": {"0": "READY", "1": "ACTIVE", "2": "FEED_HOLD", "3": None},
                "unmapped": "drop",
            },
            "mode": {"source": "OpMode", "map": {"AUTO": "AUTOMATIC", "JOG": "MANUAL"}},
            "spindle_speed": {"source": "S", "scale": 0.5},
            "spindle_load": {"source": "Load", "scale": 100, "offset": -1},
            "part_count": {"source": "Parts", "scale": 1, "offset": 1000},
            "program_end": {"source": "Msg", "map": {"Pgm End": True}, "unmapped": "drop"},
            "emergency_stop": {"source": "EStop", "map": {"true": True, "false": False}},
            "program": {"source": "Prog"},
        },
    }
)


def read(normaliser: Normaliser, **values: Any) -> MachineState:
    return normaliser.apply(MachineState(), [Reading(k, v, T0) for k, v in values.items()]).state


def test_every_target_has_a_coercer() -> None:
    assert set(COERCERS) == {*MachineState.model_fields, *MARKERS}


@pytest.mark.parametrize(
    ("key", "raw", "field", "value"),
    [
        ("RunState", 1, "execution", Execution.ACTIVE),
        ("RunState", 2.0, "execution", Execution.FEED_HOLD),  # 2.0 reads as "2"
        ("RunState", "0", "execution", Execution.READY),
        ("RunState", 3, "execution", None),  # mapped to unknown
        ("OpMode", "JOG", "mode", Mode.MANUAL),
        ("OpMode", "edit", "mode", Mode.EDIT),  # unmapped="keep": the raw value, coerced
        ("S", 2400, "spindle_speed", 1200.0),
        ("S", "1000.5", "spindle_speed", 500.25),  # numeric text is scaled too
        ("Load", 0.25, "spindle_load", 24.0),
        ("Parts", 7, "part_count", 1007),
        ("EStop", True, "emergency_stop", True),
        ("EStop", "false", "emergency_stop", False),
        ("Prog", "  O1234 ", "program", "O1234"),
        ("Prog", 1234, "program", "1234"),
        ("availability", "AVAILABLE", "availability", Availability.AVAILABLE),  # not a source: canonical
        ("tool", 5.0, "tool", "5"),  # canonical key claimed by no signal passes through
    ],
)
def test_profile_mapping(key: str, raw: Any, field: str, value: Any) -> None:
    assert getattr(read(Normaliser(PROFILE), **{key: raw}), field) == value


def test_unmapped_drop_keeps_the_previous_value() -> None:
    normaliser = Normaliser(PROFILE)
    before = MachineState(execution=Execution.ACTIVE)
    obs = normaliser.apply(before, [Reading("RunState", 9, T0)])
    assert obs.state.execution is Execution.ACTIVE


def test_markers_are_transient_and_not_state() -> None:
    normaliser = Normaliser(PROFILE)
    obs = normaliser.apply(MachineState(), [Reading("Msg", "Pgm End", T0)])
    assert obs.markers == frozenset({"program_end"})
    assert normaliser.apply(obs.state, [Reading("Msg", "ok", T0)]).markers == frozenset()
    identity = Normaliser(None)
    assert identity.apply(MachineState(), [Reading("control_reset", True, T0)]).markers == {"control_reset"}
    assert identity.apply(MachineState(), [Reading("control_reset", False, T0)]).markers == frozenset()


def test_identity_without_profile_coerces_types() -> None:
    state = read(
        Normaliser(None),
        availability="available",
        execution="PROGRAM_COMPLETED",
        mode=Mode.AUTOMATIC,
        part_count="12",
        line=40.0,
        spindle_speed=1200,
        feed_override="95.5",
        alarms=[{"code": "1010", "message": "Spindle overload"}, Alarm(code="W", severity=Severity.WARNING), "77"],
        emergency_stop=0,
    )
    assert state == MachineState(
        availability=Availability.AVAILABLE,
        execution=Execution.PROGRAM_COMPLETED,
        mode=Mode.AUTOMATIC,
        part_count=12,
        line=40,
        spindle_speed=1200.0,
        feed_override=95.5,
        alarms=(
            Alarm(code="1010", message="Spindle overload"),
            Alarm(code="W", severity=Severity.WARNING),
            Alarm(code="77"),
        ),
        emergency_stop=False,
    )
    assert isinstance(state.spindle_speed, float)


def test_none_means_unknown_and_empty_alarms() -> None:
    before = MachineState(program="O1", alarms=(Alarm(code="1"),), spindle_speed=10.0)
    obs = Normaliser(None).apply(
        before, [Reading("program", None, T0), Reading("alarms", None, T0), Reading("spindle_speed", None, T0)]
    )
    assert (obs.state.program, obs.state.alarms, obs.state.spindle_speed) == (None, (), None)


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("execution", "RUNNING"),
        ("execution", 3),
        ("mode", True),
        ("availability", None),
        ("part_count", 1.5),
        ("part_count", "twelve"),
        ("part_count", True),
        ("spindle_speed", float("nan")),
        ("spindle_speed", "fast"),
        ("spindle_speed", [1]),
        ("alarms", [{"message": "no code"}]),
        ("alarms", 42),
        ("emergency_stop", "maybe"),
        ("tool", "T" * 65),
        ("program", {"name": "x"}),
    ],
)
def test_bad_values_are_dropped_with_one_warning(field: str, raw: Any, caplog: pytest.LogCaptureFixture) -> None:
    normaliser = Normaliser(None)
    before = MachineState(execution=Execution.READY, part_count=3, spindle_speed=5.0, tool="T1", program="P")
    with caplog.at_level(logging.WARNING, logger="edge_agent.normalise"):
        for _ in range(3):
            obs = normaliser.apply(before, [Reading(field, raw, T0), Reading("line", 7, T0)])
            assert obs.state == before.model_copy(update={"line": 7})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert field in warnings[0].getMessage()


def test_unknown_keys_are_ignored() -> None:
    obs = Normaliser(PROFILE).apply(MachineState(), [Reading("NotMapped", 1, T0), Reading("S", 10, T0)])
    assert obs.state == MachineState(spindle_speed=5.0)


def test_one_source_may_feed_two_targets() -> None:
    profile = Profile.model_validate(
        {
            "profile": {"name": "grbl-like", "driver": "serial"},
            "signals": {
                "execution": {"source": "State", "map": {"Run": "ACTIVE", "Idle": "READY"}, "unmapped": "drop"},
                "control_reset": {"source": "State", "map": {"Reset": True}, "unmapped": "drop"},
            },
        }
    )
    normaliser = Normaliser(profile)
    assert normaliser.apply(MachineState(), [Reading("State", "Run", T0)]).state.execution is Execution.ACTIVE
    obs = normaliser.apply(MachineState(), [Reading("State", "Reset", T0)])
    assert obs.state.execution is None
    assert obs.markers == {"control_reset"}


def test_ts_is_the_latest_reading_and_last_value_wins() -> None:
    later = T0 + timedelta(seconds=2)
    batch = [Reading("execution", "READY", later), Reading("execution", "ACTIVE", T0)]
    obs = Normaliser(None).apply(MachineState(), batch)
    assert obs.ts == later
    assert obs.state.execution is Execution.ACTIVE


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        Normaliser(None).apply(MachineState(), [])


FALLBACK = Profile.model_validate(
    {
        "profile": {"name": "umati-like", "driver": "opcua"},
        "signals": {
            "mode": {
                "source": "ChannelMode",
                "map": {"0": "AUTOMATIC", "2": "MANUAL"},
                "fallback": {"source": "OperationMode", "map": {"0": "MANUAL", "1": "AUTOMATIC"}},
            }
        },
    }
)


def test_a_fallback_source_gives_the_field_while_the_preferred_source_was_never_seen() -> None:
    normaliser = Normaliser(FALLBACK)
    assert read(normaliser, OperationMode=0).mode is Mode.MANUAL
    assert read(normaliser, OperationMode=1).mode is Mode.AUTOMATIC


@pytest.mark.parametrize("order", ["preferred-first", "fallback-first"])
def test_the_preferred_source_wins_in_a_batch_whatever_the_order_and_for_good(order: str) -> None:
    normaliser = Normaliser(FALLBACK)
    batch = [Reading("ChannelMode", 2, T0), Reading("OperationMode", 1, T0)]
    state = normaliser.apply(MachineState(), batch if order == "preferred-first" else batch[::-1]).state
    assert state.mode is Mode.MANUAL
    # Once the control has shown it has the preferred node, the fallback no longer speaks for the field.
    assert normaliser.apply(state, [Reading("OperationMode", 1, T0)]).state.mode is Mode.MANUAL
