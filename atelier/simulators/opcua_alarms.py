"""OPC 40501 ``Notification/Messages`` on the simulated MachineTool: alarms as condition events.

Each alarm code is one condition of an ``AlertType`` (a subtype of
``AlarmConditionType`` with an ``ErrorCode`` property, as in OPC 40501-1 9.1).
Raising it fires the condition with ``ActiveState/Id`` and ``Retain`` true;
clearing it fires it again with both false. ``ConditionRefresh`` is answered
as OPC 10000-9 asks: ``RefreshStartEvent``, every retained condition as last
fired, ``RefreshEndEvent``, all on the Messages monitored items of the caller's
subscription. (asyncua's own handler sends the two Refresh events from the
Server object only, where a client watching Messages never sees them.) A control
without ConditionRefresh is simulated with ``condition_refresh=False``; with
``refuse_mixed`` the call is refused with BadFilterNotAllowed on a subscription
that also holds data change items, as open62541 1.4 does (it walks every item of
the subscription and finds no event filter on a data change item).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common.methods import uamethod
from asyncua.server.event_generator import EventGenerator

# OPC UA severities (1-1000) for the canonical ones; the driver maps them back by range.
SEVERITY = {"fault": 800, "warning": 500, "info": 100}


class Messages:
    """The event source; ``show()`` makes the active alarms equal to a canonical alarm list."""

    def __init__(self, server: Server, node: Node, alert_type: Node) -> None:
        self._server = server
        self.node = node
        self._alert_type = alert_type
        self._conditions: dict[str, EventGenerator] = {}
        self._retained: dict[str, Any] = {}  # code -> the active condition's event, as last fired
        self._refresh: tuple[EventGenerator, EventGenerator] | None = None
        self._refuse_mixed = False

    @classmethod
    async def create(
        cls, server: Server, node: Node, ns: int, *, condition_refresh: bool = True, refuse_mixed: bool = False
    ) -> Messages:
        alert_type = await server.create_custom_event_type(
            ns, "AlertType", ua.ObjectIds.AlarmConditionType, [("ErrorCode", ua.VariantType.String)]
        )
        await node.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
        messages = cls(server, node, alert_type)
        messages._refuse_mixed = refuse_mixed
        if condition_refresh:
            start = await messages._generator(ua.NodeId(ua.ObjectIds.RefreshStartEventType))
            end = await messages._generator(ua.NodeId(ua.ObjectIds.RefreshEndEventType))
            for generator in (start, end):
                generator.event.SourceNode, generator.event.SourceName = ua.NodeId(ua.ObjectIds.Server), "Server"
            messages._refresh = (start, end)
            server.iserver.isession.add_method_callback(
                ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh), messages._condition_refresh
            )
        else:  # asyncua answers ConditionRefresh itself; a control without it does not know the method
            server.iserver.isession.add_method_callback(
                ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh), _no_such_method
            )
        return messages

    @property
    def active(self) -> list[str]:
        return list(self._retained)

    async def show(self, alarms: Sequence[Mapping[str, Any]], ts: datetime) -> None:
        """Raise the listed codes that are not active, clear the active codes that are not listed."""
        wanted = {str(alarm["code"]): alarm for alarm in alarms if str(alarm.get("code", ""))}
        for code in [code for code in self._retained if code not in wanted]:
            await self._fire(code, active=False, message=f"alarm {code} cleared", severity="info", ts=ts)
        for code, alarm in wanted.items():
            if code not in self._retained:
                text = str(alarm.get("message") or f"alarm {code}")
                await self._fire(code, active=True, message=text, severity=str(alarm.get("severity", "fault")), ts=ts)

    async def _fire(self, code: str, *, active: bool, message: str, severity: str, ts: datetime) -> None:
        generator = self._conditions.get(code) or await self._condition(code)
        event = generator.event
        event.Severity = SEVERITY.get(severity, SEVERITY["fault"])
        event.Retain = active
        setattr(event, "ActiveState/Id", active)
        event.ActiveState = ua.LocalizedText("Active" if active else "Inactive")
        await generator.trigger(time_attr=ts, message=message)
        if active:
            self._retained[code] = copy.deepcopy(event)  # the generator's event changes on the next fire
        else:
            self._retained.pop(code, None)

    async def _condition(self, code: str) -> EventGenerator:
        generator = self._conditions[code] = await self._generator(self._alert_type.nodeid)
        own = self.node.nodeid
        generator.event.NodeId = ua.NodeId(f"{own.Identifier}.{code}", own.NamespaceIndex)  # the ConditionId
        generator.event.add_property("ErrorCode", code, ua.VariantType.String)
        generator.event.ConditionName = f"Alert {code}"
        return generator

    async def _generator(self, event_type: ua.NodeId) -> EventGenerator:
        generator = EventGenerator(self._server.iserver.isession)
        await generator.init(event_type, emitting_node=self.node.nodeid, add_generates_event=False)
        return generator

    @uamethod  # type: ignore[untyped-decorator]
    async def _condition_refresh(self, parent: ua.NodeId, subscription_id: int) -> ua.StatusCode | None:
        service = self._server.iserver.subscription_service
        if self._refresh is None or subscription_id not in service.subscriptions:
            return ua.StatusCode(ua.StatusCodes.BadSubscriptionIdInvalid)
        if self._refuse_mixed and _mixed(service.subscriptions[subscription_id]):
            return ua.StatusCode(ua.StatusCodes.BadFilterNotAllowed)
        start, end = self._refresh
        await start.trigger(subscription_id=subscription_id)
        for event in self._retained.values():
            await service.trigger_event(event, subscription_id=subscription_id)
        await end.trigger(subscription_id=subscription_id)
        return None


def _mixed(subscription: Any) -> bool:
    """Whether a server subscription holds data change items next to its event items (open62541 then refuses)."""
    items = subscription.monitored_item_srv._monitored_items.values()
    return any(not isinstance(item.filter, ua.EventFilter) for item in items)


@uamethod  # type: ignore[untyped-decorator]
async def _no_such_method(parent: ua.NodeId, subscription_id: int) -> ua.StatusCode:
    return ua.StatusCode(ua.StatusCodes.BadMethodInvalid)
