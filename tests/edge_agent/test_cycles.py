"""Cycle detector on recorded state sequences (tests/fixtures/sequences) and on random ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract import (
    Alarm,
    Availability,
    CycleEnded,
    CycleKind,
    CycleStarted,
    Execution,
    MachineState,
    Mode,
    PartCounted,
    Severity,
)
from edge_agent.cycles import CycleDetector, counter_delta
from edge_agent.drafts import Draft
from edge_agent.drivers import Reading
from edge_agent.normalise import Normaliser
from edge_agent.observations import Observation

SEQUENCES = Path(__file__).resolve().parent.parent / "fixtures" / "sequences"
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def describe(draft: Draft) -> dict[str, Any]:
    """A draft as plain data, times as seconds after T0, the way the fixtures write them."""
    plain: dict[str, Any] = {"type": draft.type.model_fields["type"].default, "t": (draft.ts - T0).total_seconds()}
    for key, value in draft.fields.items():
        if isinstance(value, datetime):
            plain[key] = (value - T0).total_seconds()
        elif isinstance(value, Enum):
            plain[key] = value.value
        else:
            plain[key] = value
    return plain


def play(sequence: dict[str, Any]) -> list[Draft]:
    detector = CycleDetector(**sequence.get("detector", {}))
    normaliser = Normaliser(None)
    state = MachineState()
    drafts: list[Draft] = []
    for step in sequence["steps"]:
        ts = T0 + timedelta(seconds=step["t"])
        if step.get("unavailable"):
            obs = Observation(ts=ts, state=MachineState(availability=Availability.UNAVAILABLE))
        else:
            obs = normaliser.apply(state, [Reading(key, value, ts) for key, value in step["set"].items()])
        drafts.extend(detector.step(state, obs))
        state = obs.state
    return drafts


@pytest.mark.parametrize("path", sorted(SEQUENCES.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_sequence(path: Path) -> None:
    sequence = json.loads(path.read_text())
    drafts = play(sequence)
    for draft in drafts:  # every draft must make a valid wire message
        draft.seal(agent="edge1", machine="m1", seq=1)
    actual = [describe(d) for d in drafts]
    expected = sequence["expected"]
    assert [a["type"] for a in actual] == [e["type"] for e in expected], actual
    for got, want in zip(actual, expected, strict=True):
        assert {key: got[key] for key in want} == want, got


def test_fixtures_cover_the_required_scenarios() -> None:
    names = {p.stem for p in SEQUENCES.glob("*.json")}
    required = {"normal_cycle", "feed_hold", "aborted_cycle", "alarm_cycle", "counter_reset", "counter_rollover"}
    required |= {"mode_change", "link_lost", "no_counter", "spindle_sessions", "program_end_marker"}
    assert required <= names


@pytest.mark.parametrize(
    ("old", "new", "counter_max", "delta"),
    [
        (5, 6, None, 1),
        (5, 5, None, 0),
        (5, 9, 9999, 4),
        (120, 0, None, 0),  # plain reset
        (120, 3, None, 3),  # reset, then three parts before we saw it
        (120, 0, 9999, 0),  # a small drop is a reset even with a roll-over point
        (9999, 0, 9999, 1),  # roll-over
        (9998, 1, 9999, 3),
        (60, 2, 99, 42),  # drop of 58 > 99/2: roll-over
    ],
)
def test_counter_delta(old: int, new: int, counter_max: int | None, delta: int) -> None:
    assert counter_delta(old, new, counter_max) == delta


def test_open_cycle_reports_start_and_running_hold() -> None:
    detector = CycleDetector()
    ready = MachineState(availability=Availability.AVAILABLE, mode=Mode.AUTOMATIC, execution=Execution.READY)
    active = ready.model_copy(update={"execution": Execution.ACTIVE, "program": "O1"})
    held = active.model_copy(update={"execution": Execution.FEED_HOLD})
    assert detector.open_cycle is None
    detector.step(ready, Observation(T0, active))
    detector.step(active, Observation(T0 + timedelta(seconds=10), held))
    detector.step(held, Observation(T0 + timedelta(seconds=13), active))
    detector.step(active, Observation(T0 + timedelta(seconds=20), held))
    cycle = detector.open_cycle
    assert cycle is not None
    assert (cycle.program, cycle.started, cycle.held_s, cycle.kind) == ("O1", T0, 3.0, CycleKind.CYCLE)
    assert cycle.held_at(T0 + timedelta(seconds=25)) == 8.0
    detector.step(held, Observation(T0 + timedelta(seconds=30), ready))
    assert detector.open_cycle is None


# --- invariants on random sequences -------------------------------------------

_FAULT = Alarm(code="F1", severity=Severity.FAULT)
_WARN = Alarm(code="W1", severity=Severity.WARNING)

step_strategy = st.fixed_dictionaries(
    {
        "dt": st.floats(min_value=-2, max_value=120, allow_nan=False),
        "execution": st.sampled_from([*Execution, None]),
        "mode": st.sampled_from([Mode.AUTOMATIC, Mode.AUTOMATIC, Mode.MANUAL, Mode.SEMI_AUTOMATIC]),
        "parts": st.integers(min_value=0, max_value=3),
        "reset": st.booleans(),
        "alarms": st.sampled_from([(), (), (_FAULT,), (_WARN,), (_FAULT, _WARN)]),
        "markers": st.sets(st.sampled_from(["program_end", "control_reset"]), max_size=1),
        "unavailable": st.integers(min_value=0, max_value=15).map(lambda n: n == 0),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(step_strategy, min_size=1, max_size=60),
    counter_max=st.sampled_from([None, 99]),
    has_counter=st.booleans(),
)
def test_invariants(steps: list[dict[str, Any]], counter_max: int | None, has_counter: bool) -> None:
    detector = CycleDetector(counter_max=counter_max, parts_per_cycle=1)
    counter = 90 if has_counter else None
    made = 0
    state = MachineState(availability=Availability.AVAILABLE, execution=Execution.READY, part_count=counter)
    detector.step(MachineState(), Observation(T0, state))
    ts = T0
    tally = _CycleTally()
    for step in steps:
        ts += timedelta(seconds=step["dt"])
        if step["unavailable"]:
            new = MachineState(availability=Availability.UNAVAILABLE)
        else:
            if counter is not None:
                counter, made = _advance_counter(counter, step, counter_max, made)
            fields = {"execution": step["execution"], "mode": step["mode"], "part_count": counter}
            new = state.model_copy(update={**fields, "availability": Availability.AVAILABLE, "alarms": step["alarms"]})
        drafts = detector.step(state, Observation(ts, new, frozenset(step["markers"])))
        for draft in drafts:
            draft.seal(agent="edge1", machine="m1", seq=1)  # durations and held time never negative
        tally.add(drafts)
        starts_now = new.execution is Execution.ACTIVE and new.mode in (Mode.AUTOMATIC, Mode.SEMI_AUTOMATIC)
        if state.execution is Execution.READY and starts_now:  # never stuck
            assert any(d.type is CycleStarted for d in drafts)
        state = new
    if has_counter:
        assert tally.counted == made  # each part exactly once


def _advance_counter(counter: int, step: dict[str, Any], counter_max: int | None, made: int) -> tuple[int, int]:
    if step["reset"] and counter_max is None:
        return 0, made
    counter += step["parts"]
    if counter_max is not None:
        counter %= counter_max + 1
    return counter, made + step["parts"]


class _CycleTally:
    """Checks that starts and ends alternate and that each CycleEnded.parts matches its PartCounted."""

    def __init__(self) -> None:
        self.counted = 0
        self._open: int | None = None

    def add(self, drafts: list[Draft]) -> None:
        ended: list[int] | None = None
        for draft in drafts:
            if draft.type is CycleStarted:
                assert self._open is None
                self._check(ended)
                ended, self._open = None, 0
            elif draft.type is PartCounted:
                self.counted += draft.fields["count"]
                if ended is not None:
                    ended[1] += draft.fields["count"]
                elif self._open is not None:
                    self._open += draft.fields["count"]
            elif draft.type is CycleEnded:
                assert self._open is not None
                assert draft.fields["held_s"] <= draft.fields["duration_s"]
                ended, self._open = [draft.fields["parts"], self._open], None
        self._check(ended)

    @staticmethod
    def _check(ended: list[int] | None) -> None:
        if ended is not None:
            assert ended[0] == ended[1]
