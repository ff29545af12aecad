"""State changes worth an event: execution state, program and alarms. Pure.

An unavailable machine's program and alarms are unknown, not changed, so
``diff`` reports neither while the new state is UNAVAILABLE, and a program that
becomes unknown (``None``) is not a program change. The tracker diffs program
and alarms against the last state seen while available, so a link that drops
and comes back yields no spurious ProgramChanged or AlarmCleared/AlarmRaised pair.
"""

from __future__ import annotations

from datetime import datetime

from edge_agent.contract import (
    TELEMETRY_FIELDS,
    Alarm,
    AlarmCleared,
    AlarmRaised,
    Availability,
    MachineState,
    ProgramChanged,
    StateChanged,
)
from edge_agent.drafts import Draft

_SIGNIFICANT = tuple(name for name in MachineState.model_fields if name not in TELEMETRY_FIELDS)


def diff(prev: MachineState, new: MachineState, ts: datetime) -> list[Draft]:
    drafts: list[Draft] = []
    if (prev.availability, prev.execution, prev.mode) != (new.availability, new.execution, new.mode):
        fields = {"availability": new.availability, "execution": new.execution, "mode": new.mode}
        drafts.append(Draft(StateChanged, ts, fields))
    if new.availability is Availability.UNAVAILABLE:
        return drafts
    if new.program is not None and new.program != prev.program:
        drafts.append(Draft(ProgramChanged, ts, {"program": new.program, "previous": prev.program}))
    before = {alarm.code for alarm in prev.alarms}
    after = {alarm.code for alarm in new.alarms}
    drafts.extend(Draft(AlarmRaised, ts, {"alarm": a}) for a in _unique(new.alarms) if a.code not in before)
    drafts.extend(Draft(AlarmCleared, ts, {"code": a.code}) for a in _unique(prev.alarms) if a.code not in after)
    return drafts


def significant_change(prev: MachineState, new: MachineState) -> bool:
    """True when a non-telemetry field changed: time to publish the retained snapshot."""
    return any(getattr(prev, name) != getattr(new, name) for name in _SIGNIFICANT)


def _unique(alarms: tuple[Alarm, ...]) -> list[Alarm]:
    """One per code: a control listing the same alarm twice raises it once."""
    seen: set[str] = set()
    result: list[Alarm] = []
    for alarm in alarms:
        if alarm.code not in seen:
            seen.add(alarm.code)
            result.append(alarm)
    return result
