"""Change events between two states, and which changes deserve a new retained snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge_agent.changes import diff, significant_change
from edge_agent.contract import (
    TELEMETRY_FIELDS,
    Alarm,
    AlarmCleared,
    AlarmRaised,
    Availability,
    Execution,
    MachineState,
    Mode,
    ProgramChanged,
    StateChanged,
)

TS = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
BASE = MachineState(
    availability=Availability.AVAILABLE,
    execution=Execution.READY,
    mode=Mode.AUTOMATIC,
    program="O1",
    alarms=(Alarm(code="A"),),
)


def events(prev: MachineState, new: MachineState) -> list[tuple[str, dict[str, object]]]:
    drafts = diff(prev, new, TS)
    for draft in drafts:
        assert draft.ts == TS
        draft.seal(agent="edge1", machine="m1", seq=1)
    return [(d.type.__name__, d.fields) for d in drafts]


def test_no_change_no_event() -> None:
    assert events(BASE, BASE.model_copy(update={"spindle_speed": 100.0, "line": 4})) == []


@pytest.mark.parametrize(
    "update",
    [{"execution": Execution.ACTIVE}, {"mode": Mode.MANUAL}, {"availability": Availability.UNAVAILABLE}],
)
def test_state_changed(update: dict[str, object]) -> None:
    new = BASE.model_copy(update=update)
    expected = {"availability": new.availability, "execution": new.execution, "mode": new.mode}
    assert events(BASE, new) == [("StateChanged", expected)]


def test_program_changed_with_previous() -> None:
    assert events(BASE, BASE.model_copy(update={"program": "O2"})) == [
        ("ProgramChanged", {"program": "O2", "previous": "O1"})
    ]


def test_program_becoming_unknown_is_not_a_change() -> None:
    assert events(BASE, BASE.model_copy(update={"program": None})) == []


def test_alarms_raised_and_cleared_by_code() -> None:
    b = Alarm(code="B", message="Door open")
    new = BASE.model_copy(update={"alarms": (b, b, Alarm(code="A", message="text changed"))})
    assert events(BASE, new) == [("AlarmRaised", {"alarm": b})]
    assert events(new, BASE.model_copy(update={"alarms": ()})) == [
        ("AlarmCleared", {"code": "B"}),
        ("AlarmCleared", {"code": "A"}),
    ]


def test_unavailable_machine_reports_only_the_state_change() -> None:
    lost = MachineState(availability=Availability.UNAVAILABLE)
    assert [name for name, _ in events(BASE, lost)] == ["StateChanged"]


def test_order_is_state_program_alarms() -> None:
    new = BASE.model_copy(update={"execution": Execution.STOPPED, "program": "O9", "alarms": (Alarm(code="Z"),)})
    types = [d.type for d in diff(BASE, new, TS)]
    assert types == [StateChanged, ProgramChanged, AlarmRaised, AlarmCleared]


@pytest.mark.parametrize("name", TELEMETRY_FIELDS)
def test_telemetry_is_not_significant(name: str) -> None:
    assert not significant_change(BASE, BASE.model_copy(update={name: 12.5}))


@pytest.mark.parametrize(
    "update",
    [
        {"execution": Execution.ACTIVE},
        {"tool": "T2"},
        {"part_count": 3},
        {"line": 10},
        {"emergency_stop": True},
        {"alarms": ()},
        {"program": "O2"},
    ],
)
def test_other_fields_are_significant(update: dict[str, object]) -> None:
    assert significant_change(BASE, BASE.model_copy(update=update))
