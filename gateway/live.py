"""The latest view of every machine, kept in memory and pushed to WebSocket subscribers.

Updated after each committed batch, so a page never shows what the store does
not hold. Each subscriber has a bounded queue: a client that cannot keep up is
never waited for; its backlog is replaced by one full snapshot (coalescing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent import contract
from gateway.config import SCHOOL_ZONE
from gateway.ingest.messages import Accepted

logger = logging.getLogger(__name__)

QUEUE_SIZE = 64
Clock = Callable[[], datetime]


DEFAULT_ZONE = ZoneInfo(SCHOOL_ZONE)


def local_date(ts: datetime, zone: tzinfo = DEFAULT_ZONE) -> date:
    # "Today" is the workshop's day in the school's zone (``records.timezone``), not the host's.
    return ts.astimezone(zone).date()


@dataclass
class MachineView:
    site: str
    machine: str
    agent: str = ""
    agent_online: bool = False
    state: contract.MachineState = field(default_factory=contract.MachineState)
    state_ts: datetime | None = None  # source time of the newest state applied
    state_since: datetime | None = None  # when availability/execution/mode last changed
    last_cycle_s: float | None = None
    last_cycle_end: datetime | None = None
    parts_today: int = 0
    parts_day: date | None = None
    updated: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.site, self.machine

    @property
    def status(self) -> str:
        """One word for the tile colour: offline, alarm, running, hold, ready, stopped or idle."""
        s = self.state
        if not self.agent_online or s.availability is contract.Availability.UNAVAILABLE:
            return "offline"
        if s.emergency_stop or any(a.severity is contract.Severity.FAULT for a in s.alarms):
            return "alarm"
        return contract.shown(s.execution).tile

    def to_json(self, today: date) -> dict[str, Any]:
        s = self.state
        return {
            "site": self.site,
            "id": self.machine,
            "agent": self.agent,
            "agent_online": self.agent_online,
            "status": self.status,
            "availability": "UNAVAILABLE" if not self.agent_online else s.availability.value,
            "execution": None if s.execution is None else s.execution.value,
            "mode": None if s.mode is None else s.mode.value,
            "program": s.program,
            "part_count": s.part_count,
            "tool": s.tool,
            "alarms": [a.model_dump(mode="json") for a in s.alarms],
            "emergency_stop": s.emergency_stop,
            "spindle_speed": s.spindle_speed,
            "feed_rate": s.feed_rate,
            "last_cycle_s": self.last_cycle_s,
            "last_cycle_end": _iso(self.last_cycle_end),
            "parts_today": self.parts_today if self.parts_day == today else 0,
            "state_since": _iso(self.state_since),
            "updated": _iso(self.updated),
        }


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else contract.utc_iso(ts.astimezone(UTC))


class Subscription:
    """One WebSocket client's queue of messages to send."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.coalesced = 0

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()


class LiveView:
    def __init__(
        self, *, clock: Clock | None = None, queue_size: int = QUEUE_SIZE, zone: tzinfo = DEFAULT_ZONE
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._zone = zone
        self._queue_size = queue_size
        self._machines: dict[tuple[str, str], MachineView] = {}
        # (site, agent) -> online, from the latest status: a machine first heard of after its agent's birth
        # (a status creates no machine) starts with its agent's presence.
        self._agents_online: dict[tuple[str, str], bool] = {}
        self._subscribers: set[Subscription] = set()

    def load(self, views: Sequence[MachineView], agents_online: dict[tuple[str, str], bool] | None = None) -> None:
        self._machines = {view.key: view for view in views}
        self._agents_online = dict(agents_online or {})

    def machines(self) -> list[dict[str, Any]]:
        today = local_date(self._clock(), self._zone)
        return [self._machines[key].to_json(today) for key in sorted(self._machines)]

    def sites(self) -> frozenset[str]:
        """The sites of the machines held (cheap: no view is serialised)."""
        return frozenset(site for site, _ in self._machines)

    def machine(self, site: str, machine: str) -> dict[str, Any] | None:
        view = self._machines.get((site, machine))
        return None if view is None else view.to_json(local_date(self._clock(), self._zone))

    def snapshot(self) -> dict[str, Any]:
        return {"type": "snapshot", "now": _iso(self._clock()), "machines": self.machines()}

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription whose first message is the full snapshot."""
        subscription = Subscription(self._queue_size)
        subscription.queue.put_nowait(self.snapshot())
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def apply(self, accepted: Sequence[Accepted]) -> None:
        """Fold committed messages into the view, then push what changed."""
        changed: dict[tuple[str, str], MachineView] = {}
        for item in accepted:
            for view in self._apply_one(item):
                changed[view.key] = view
        if changed:
            self._publish(changed.values())

    def _apply_one(self, item: Accepted) -> list[MachineView]:
        message, site = item.message, item.topic.site
        if isinstance(message, contract.AgentStatus):
            return self._agent_status(site, message, item)
        if isinstance(message, contract.ReplayRequest):
            return []
        view = self._machines.get((site, message.machine))
        if view is None:
            online = self._agents_online.get((site, message.agent), False)
            view = MachineView(site, message.machine, agent=message.agent, agent_online=online)
            self._machines[(site, message.machine)] = view
        apply_message(view, message, received_at=item.received_at, zone=self._zone)
        return [view]

    def _agent_status(self, site: str, message: contract.AgentStatus, item: Accepted) -> list[MachineView]:
        online = message.status == "online"
        self._agents_online[(site, message.agent)] = online
        views = []
        # The machines the agent owns, as the store says: a status may announce others, which it cannot claim.
        for name in item.agent_machines:
            view = self._machines.get((site, name))
            if view is None:
                view = self._machines[(site, name)] = MachineView(site, name)
            if view.agent_online != online:
                view.state_since = item.received_at
            view.agent, view.agent_online, view.updated = message.agent, online, item.received_at
            views.append(view)
        return views

    def moved(self, site: str, machine: str, *, agent: str, online: bool) -> None:
        """An admin gave the machine to another agent: show its new agent at once."""
        view = self._machines.get((site, machine))
        if view is None:
            return
        view.agent, view.agent_online = agent, online
        self._publish([view])

    def _publish(self, views: Iterable[MachineView]) -> None:
        today = local_date(self._clock(), self._zone)
        payloads = [{"type": "machine", "machine": view.to_json(today)} for view in views]
        for subscription in list(self._subscribers):
            self._offer(subscription, payloads)

    def _offer(self, subscription: Subscription, payloads: list[dict[str, Any]]) -> None:
        try:
            for payload in payloads:
                subscription.queue.put_nowait(payload)
        except asyncio.QueueFull:
            # Too slow: drop its backlog, one snapshot says everything the dropped messages said.
            while not subscription.queue.empty():
                subscription.queue.get_nowait()
            subscription.queue.put_nowait(self.snapshot())
            subscription.coalesced += 1


def apply_message(
    view: MachineView, message: contract.Message, *, received_at: datetime, zone: tzinfo = DEFAULT_ZONE
) -> None:
    """Fold one machine message into its view; older source times never overwrite newer state."""
    view.updated = received_at
    newer = view.state_ts is None or message.ts >= view.state_ts
    match message:
        case contract.StateMessage() if newer:
            _set_state(view, message.state, message.ts)
        case contract.StateChanged() if newer:
            state = view.state.model_copy(
                update={"availability": message.availability, "execution": message.execution, "mode": message.mode}
            )
            _set_state(view, state, message.ts)
        case contract.Telemetry():
            fields = {name: getattr(message, name) for name in contract.TELEMETRY_FIELDS}
            view.state = view.state.model_copy(update=fields)
        case contract.CycleEnded():
            if view.last_cycle_end is None or message.ts >= view.last_cycle_end:
                view.last_cycle_s, view.last_cycle_end = message.duration_s, message.ts
        case contract.PartCounted():
            _count_parts(view, message, zone)
        case contract.AlarmRaised() if newer:
            alarms = (*(a for a in view.state.alarms if a.code != message.alarm.code), message.alarm)
            view.state = view.state.model_copy(update={"alarms": alarms})
        case contract.AlarmCleared() if newer:
            alarms = tuple(a for a in view.state.alarms if a.code != message.code)
            view.state = view.state.model_copy(update={"alarms": alarms})
        case contract.ProgramChanged() if newer:
            view.state = view.state.model_copy(update={"program": message.program})
        case _:
            pass


def _set_state(view: MachineView, state: contract.MachineState, ts: datetime) -> None:
    old = view.state
    if view.state_since is None or (old.availability, old.execution, old.mode) != (
        state.availability,
        state.execution,
        state.mode,
    ):
        view.state_since = ts
    view.state, view.state_ts = state, ts


def _count_parts(view: MachineView, message: contract.PartCounted, zone: tzinfo) -> None:
    day = local_date(message.ts, zone)
    if view.parts_day != day:
        if view.parts_day is not None and day < view.parts_day:
            return  # a replayed part from an earlier day does not count today
        view.parts_day, view.parts_today = day, 0
    view.parts_today += message.count
    if message.counter is not None:
        view.state = view.state.model_copy(update={"part_count": message.counter})
