"""MachineTracker: normaliser, change events and cycle detector together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from edge_agent.contract import (
    AlarmCleared,
    AlarmRaised,
    Availability,
    CycleEnded,
    CycleKind,
    CycleStarted,
    Execution,
    PartCounted,
    ProgramChanged,
    StateChanged,
)
from edge_agent.drivers import Reading
from edge_agent.profiles import Profile
from edge_agent.tracker import MachineTracker, TrackerOutput

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
INITIAL = {"availability": "AVAILABLE", "mode": "AUTOMATIC", "execution": "READY", "program": "O1", "part_count": 9}


def feed(tracker: MachineTracker, t: float, **values: Any) -> TrackerOutput:
    ts = T0 + timedelta(seconds=t)
    return tracker.feed([Reading(key, value, ts) for key, value in values.items()])


def types(output: TrackerOutput) -> list[type]:
    return [d.type for d in output.drafts]


def test_first_batch_publishes_state() -> None:
    tracker = MachineTracker(None)
    out = feed(tracker, 0, **INITIAL, spindle_speed=0)
    assert out.state_changed
    assert out.state == tracker.state
    assert out.state.execution is Execution.READY
    assert types(out) == [StateChanged, ProgramChanged]
    assert out.telemetry == {"spindle_speed": 0.0}


def test_first_output_is_a_snapshot_even_when_unavailable() -> None:
    out = MachineTracker(None).unavailable(T0)
    assert out.state_changed
    assert out.drafts == []


def test_telemetry_alone_is_not_a_state_change() -> None:
    tracker = MachineTracker(None)
    feed(tracker, 0, **INITIAL)
    out = feed(tracker, 1, spindle_speed=1200, feed_rate="350.5", spindle_load=None)
    assert not out.state_changed
    assert out.drafts == []
    assert out.telemetry == {"spindle_speed": 1200.0, "feed_rate": 350.5}
    assert not feed(tracker, 2, spindle_speed=1300).state_changed


def test_a_cycle_end_to_end_in_order() -> None:
    tracker = MachineTracker(None)
    feed(tracker, 0, **INITIAL)
    started = feed(tracker, 10, execution="ACTIVE")
    assert types(started) == [StateChanged, CycleStarted]
    assert started.state_changed
    assert tracker.open_cycle is not None
    assert tracker.open_cycle.started == T0 + timedelta(seconds=10)
    ended = feed(tracker, 70, execution="PROGRAM_COMPLETED", part_count=10)
    assert types(ended) == [StateChanged, CycleEnded, PartCounted]
    assert ended.drafts[1].fields["duration_s"] == 60.0
    assert ended.drafts[1].fields["parts"] == 1
    assert tracker.open_cycle is None


def test_link_lost_and_back_fakes_no_program_or_alarm_events() -> None:
    tracker = MachineTracker(None)
    feed(tracker, 0, **INITIAL, alarms=[{"code": "E1"}, {"code": "E2"}])
    lost = tracker.unavailable(T0 + timedelta(seconds=5))
    assert lost.state.availability is Availability.UNAVAILABLE
    assert lost.state.program is None
    assert types(lost) == [StateChanged]
    assert lost.state_changed
    assert tracker.unavailable(T0 + timedelta(seconds=6)).drafts == []
    back = feed(tracker, 10, **INITIAL, alarms=[{"code": "E1"}, {"code": "E3"}])
    assert types(back) == [StateChanged, AlarmRaised, AlarmCleared]
    assert back.drafts[1].fields["alarm"].code == "E3"
    assert back.drafts[2].fields == {"code": "E2"}


def test_profile_configures_the_detector() -> None:
    profile = Profile.model_validate(
        {
            "profile": {"name": "lathe", "driver": "serial"},
            "signals": {"spindle_speed": {"source": "rpm"}, "part_count": {"source": "button"}},
            "cycles": "spindle",
        }
    )
    tracker = MachineTracker(profile)
    feed(tracker, 0, availability="AVAILABLE", rpm=0, button=0)
    session = feed(tracker, 5, rpm=900)
    assert session.drafts[-1].fields["kind"] is CycleKind.SPINDLE_SESSION
    assert session.telemetry == {"spindle_speed": 900.0}
    assert types(feed(tracker, 20, button=1)) == [PartCounted]
    assert types(feed(tracker, 30, rpm=0)) == [CycleEnded]


def test_profile_counter_max_and_parts_per_cycle() -> None:
    header = {"name": "mill", "driver": "simulator"}
    rolling = MachineTracker(Profile.model_validate({"profile": header, "counter_max": 99}))
    feed(rolling, 0, **{**INITIAL, "part_count": 99})
    feed(rolling, 1, execution="ACTIVE")
    out = feed(rolling, 2, execution="PROGRAM_COMPLETED", part_count=0)
    assert out.drafts[-1].fields == {"count": 1, "counter": 0, "program": "O1"}

    no_counter = MachineTracker(Profile.model_validate({"profile": header, "parts_per_cycle": 4}))
    feed(no_counter, 0, **{k: v for k, v in INITIAL.items() if k != "part_count"})
    feed(no_counter, 1, execution="ACTIVE")
    out = feed(no_counter, 2, program_end=True)
    assert out.drafts[-1].fields == {"count": 4, "counter": None, "program": "O1"}


def test_empty_batch_changes_nothing() -> None:
    tracker = MachineTracker(None)
    feed(tracker, 0, **INITIAL)
    before = tracker.state
    out = tracker.feed([])
    assert (out.state, out.drafts, out.state_changed, out.telemetry) == (before, [], False, {})


def test_reassert_states_the_current_state_again_and_keeps_later_outages_after_it() -> None:
    tracker = MachineTracker(None)
    assert tracker.reassert(T0).drafts == [], "nothing known yet: the first reading will say it"
    feed(tracker, 0, **INITIAL)
    feed(tracker, 5, execution="ACTIVE")
    out = tracker.reassert(T0 + timedelta(seconds=60))
    assert types(out) == [StateChanged]
    assert not out.state_changed, "the retained snapshot is unchanged"
    draft = out.drafts[0]
    assert draft.ts == T0 + timedelta(seconds=60)
    assert draft.fields == {"availability": Availability.AVAILABLE, "execution": Execution.ACTIVE, "mode": "AUTOMATIC"}
    assert tracker.ts == T0 + timedelta(seconds=60)
    assert tracker.open_cycle is not None, "the cycle goes on"
    assert feed(tracker, 61, execution="ACTIVE").drafts == [], "and the next reading changes nothing"
