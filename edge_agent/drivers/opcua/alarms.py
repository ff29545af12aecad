"""Alarms from OPC UA condition events: the event filter, and the set of active conditions.

A control that reports alarms as events (OPC 40501 ``Notification/Messages``:
``AlertType`` conditions, subtypes of ``AlarmConditionType``) never has an
"alarm list" variable to read. The driver watches the event notifier and keeps
the active conditions here; the set is reported as one reading, a list of
alarms, each time it changes, so the normaliser and the change detector treat
it exactly like the alarm list of a control that has one.

A condition is active while ``ActiveState/Id`` is true (``Retain`` when the
server does not send ActiveState); events that are not conditions (plain
messages) and branch events are ignored. The set outlives a session: after a
reconnect the first batch repeats it, so a link that drops does not clear the
alarms, and ``ConditionRefresh`` then replaces it with what the control holds
(between ``RefreshStartEvent`` and ``RefreshEndEvent``). A server without
ConditionRefresh keeps the repeated set until its next events: no false clear,
at the price of an alarm that ended during the outage staying until its code is
raised and cleared again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from edge_agent.drivers import Reading
from edge_agent.drivers.opcua.options import AlarmEvents

logger = logging.getLogger(__name__)

CODE_MAX, MESSAGE_MAX = 64, 512  # the contract's Alarm limits
REFRESH_START = ua.NodeId(ua.ObjectIds.RefreshStartEventType)
REFRESH_END = ua.NodeId(ua.ObjectIds.RefreshEndEventType)

# The selected event fields, in this order: (type that declares them, browse path); an empty
# path with the NodeId attribute is the ConditionId (OPC 10000-9 5.5.2).
_FIELDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (ua.ObjectIds.BaseEventType, ("EventType",)),
    (ua.ObjectIds.BaseEventType, ("Time",)),
    (ua.ObjectIds.BaseEventType, ("Message",)),
    (ua.ObjectIds.BaseEventType, ("Severity",)),
    (ua.ObjectIds.ConditionType, ()),
    (ua.ObjectIds.ConditionType, ("ConditionName",)),
    (ua.ObjectIds.ConditionType, ("BranchId",)),
    (ua.ObjectIds.ConditionType, ("Retain",)),
    (ua.ObjectIds.AlarmConditionType, ("ActiveState", "Id")),
)
EVENT_TYPE, TIME, MESSAGE, SEVERITY, CONDITION_ID, CONDITION_NAME, BRANCH_ID, RETAIN, ACTIVE, CODE = range(10)


def event_filter(code_field: ua.QualifiedName) -> ua.EventFilter:
    """Select the fields above plus the control's code field; no where clause (some servers mishandle them)."""
    clauses = []
    for type_id, path in _FIELDS:
        operand = ua.SimpleAttributeOperand()
        operand.TypeDefinitionId = ua.NodeId(type_id)
        operand.BrowsePath = [ua.QualifiedName(name, 0) for name in path]
        operand.AttributeId = ua.AttributeIds.Value if path else ua.AttributeIds.NodeId
        clauses.append(operand)
    # A vendor field is selected from BaseEventType: the server then looks the path up on each event's own type.
    code = ua.SimpleAttributeOperand()
    code.TypeDefinitionId = ua.NodeId(ua.ObjectIds.BaseEventType)
    code.BrowsePath = [code_field]
    code.AttributeId = ua.AttributeIds.Value
    clauses.append(code)
    result = ua.EventFilter()
    result.SelectClauses = clauses
    return result


@dataclass(frozen=True, slots=True)
class AlarmSource:
    """A resolved ``alarms_from_events``: the notifier's node id and the filter to subscribe with."""

    node_id: ua.NodeId
    filter: ua.EventFilter


class ActiveAlarms:
    """One machine's active conditions, kept by the driver across sessions and fed by each session's events."""

    def __init__(self, options: AlarmEvents) -> None:
        self.options = options
        self.active: dict[str, dict[str, str]] = {}  # condition id (else code) -> alarm
        self._refreshing: dict[str, dict[str, str]] | None = None
        self._reported = False
        self._changed_at: datetime | None = None  # the source time of an unreported change
        self._last_ts: datetime | None = None
        self._uncoded_logged = False

    def new_session(self) -> None:
        """A refresh the previous session did not finish is dropped; the active set stays as it was."""
        self._refreshing = None

    def take(self, fields: Sequence[ua.Variant]) -> None:
        """Apply one event's selected fields."""
        values: list[Any] = [field.Value for field in fields] + [None] * (CODE + 1 - len(fields))
        ts = _utc(values[TIME]) if isinstance(values[TIME], datetime) else None
        if values[EVENT_TYPE] == REFRESH_START:
            self._refreshing = {}
        elif values[EVENT_TYPE] == REFRESH_END:
            if self._refreshing is not None:
                self._replace(self._refreshing, ts)
            self._refreshing = None
        else:
            self._condition(values, ts)

    def _condition(self, values: list[Any], ts: datetime | None) -> None:
        branch = values[BRANCH_ID]
        if isinstance(branch, ua.NodeId) and not branch.is_null():
            return  # an earlier state kept for acknowledgement, not the condition's current state
        active = values[ACTIVE] if isinstance(values[ACTIVE], bool) else values[RETAIN]
        if not isinstance(active, bool):
            return  # not a condition: a message without active and inactive states
        code = (_text(values[CODE]) or _text(values[CONDITION_NAME]))[:CODE_MAX]
        if not code:
            if not self._uncoded_logged:
                self._uncoded_logged = True
                logger.warning("alarm event without %s or ConditionName ignored", self.options.code_field)
            return
        condition = values[CONDITION_ID]
        ident = condition.to_string() if isinstance(condition, ua.NodeId) and not condition.is_null() else code
        target = dict(self.active if self._refreshing is None else self._refreshing)
        if active:
            alarm = {"code": code, "message": _text(values[MESSAGE])[:MESSAGE_MAX], "severity": self._severity(values)}
            target[ident] = alarm
        else:
            target.pop(ident, None)
        if self._refreshing is None:
            self._replace(target, ts)
        else:
            self._refreshing = target

    def _replace(self, alarms: dict[str, dict[str, str]], ts: datetime | None) -> None:
        if alarms != self.active or not self._reported:
            self.active = alarms
            self._changed_at = ts or self._last_ts or datetime.now(UTC)

    def _severity(self, values: list[Any]) -> str:
        severity = values[SEVERITY]
        if not isinstance(severity, int) or severity >= self.options.fault_from:
            return "fault"
        return "warning" if severity >= self.options.warning_from else "info"

    def pending(self) -> Reading | None:
        """The alarm list when it changed since it was last taken."""
        if self._changed_at is None:
            return None
        return self._reading(self._changed_at)

    def snapshot(self) -> Reading | None:
        """The alarm list as known (for a session's first batch), or None while it never was."""
        if self._changed_at is not None:
            return self._reading(self._changed_at)
        if self._reported and self._last_ts is not None:
            return self._reading(self._last_ts)
        return None

    def _reading(self, ts: datetime) -> Reading:
        self._changed_at, self._last_ts, self._reported = None, ts, True
        return Reading(self.options.key, list(self.active.values()), ts)


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    if isinstance(value, ua.LocalizedText):
        value = value.Text
    return str(value).strip() if value is not None else ""
