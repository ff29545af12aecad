"""One machine's pure pipeline: readings -> state, change events, cycle and part events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge_agent.changes import diff, significant_change
from edge_agent.contract import TELEMETRY_FIELDS, Availability, MachineState, StateChanged
from edge_agent.cycles import CycleDetector, OpenCycle
from edge_agent.drafts import Draft
from edge_agent.drivers import Batch
from edge_agent.normalise import Normaliser
from edge_agent.observations import Observation
from edge_agent.profiles import Profile


@dataclass(frozen=True, slots=True)
class TrackerOutput:
    state: MachineState  # state after the batch
    drafts: list[Draft]  # change events, then cycle and part events
    state_changed: bool  # a non-telemetry field changed (or first output): publish the retained snapshot
    telemetry: dict[str, float]  # telemetry fields present in this batch, canonical names


class MachineTracker:
    def __init__(self, profile: Profile | None) -> None:
        self._normaliser = Normaliser(profile)
        if profile is None:
            self._detector = CycleDetector()
        else:
            self._detector = CycleDetector(profile.cycles, profile.counter_max, profile.parts_per_cycle)
        self.state = MachineState()
        # Program and alarms are diffed against the last state seen while available, so a
        # link that drops and returns does not fake a program change or alarm clear.
        self._known = MachineState()
        self._started = False
        self.ts: datetime | None = None  # time of the last observation

    @property
    def open_cycle(self) -> OpenCycle | None:
        return self._detector.open_cycle

    def feed(self, batch: Batch) -> TrackerOutput:
        if not batch:
            return TrackerOutput(self.state, [], False, {})
        read = self._normaliser.read(batch)
        telemetry = {name: float(value) for name in TELEMETRY_FIELDS if (value := read.values.get(name)) is not None}
        obs = Observation(ts=read.ts, state=self.state.model_copy(update=read.values), markers=read.markers)
        return self._advance(obs, telemetry)

    def unavailable(self, ts: datetime) -> TrackerOutput:
        """The link is lost: everything but availability becomes unknown."""
        return self._advance(Observation(ts=ts, state=MachineState(availability=Availability.UNAVAILABLE)), {})

    def reassert(self, ts: datetime) -> TrackerOutput:
        """The current state once more, as a state change at ``ts`` (``pipeline.Reassertions``).

        Nothing before the first observation: the first reading will say it. Later outages start no
        earlier than ``ts``, so the timeline stays in order.
        """
        if not self._started:
            return TrackerOutput(self.state, [], False, {})
        state = self.state
        fields = {"availability": state.availability, "execution": state.execution, "mode": state.mode}
        self.ts = ts if self.ts is None else max(self.ts, ts)
        return TrackerOutput(state, [Draft(StateChanged, ts, fields)], False, {})

    def _advance(self, obs: Observation, telemetry: dict[str, float]) -> TrackerOutput:
        prev = self.state
        reference = self._known.model_copy(
            update={"availability": prev.availability, "execution": prev.execution, "mode": prev.mode}
        )
        drafts = diff(reference, obs.state, obs.ts)
        drafts.extend(self._detector.step(prev, obs))
        changed = not self._started or significant_change(prev, obs.state)
        self._started = True
        self.state, self.ts = obs.state, obs.ts
        if obs.state.availability is Availability.AVAILABLE:
            self._known = obs.state
        return TrackerOutput(obs.state, drafts, changed, telemetry)
