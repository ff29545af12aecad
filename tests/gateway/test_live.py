"""The live view: tile status, folding messages in (newest source time wins), parts today, slow clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge_agent import contract as c
from gateway.ingest.messages import Accepted
from gateway.live import LiveView, MachineView, apply_message, local_date
from tests.gateway.helpers import AGENT, MACHINE, SITE, T0, changed, part, state

TOPIC = c.Topic(site=SITE, channel="event", machine=MACHINE)
E = c.Execution


def view(**state_fields: object) -> MachineView:
    st = c.MachineState(availability=c.Availability.AVAILABLE, **state_fields)
    return MachineView(SITE, MACHINE, agent=AGENT, agent_online=True, state=st)


@pytest.mark.parametrize(
    ("fields", "online", "status"),
    [
        ({"execution": E.ACTIVE}, True, "running"),
        ({"execution": E.READY}, True, "ready"),
        ({"execution": E.PROGRAM_COMPLETED}, True, "ready"),
        ({"execution": E.FEED_HOLD}, True, "hold"),
        ({"execution": E.INTERRUPTED}, True, "hold"),
        ({"execution": E.STOPPED}, True, "stopped"),
        ({}, True, "idle"),
        ({"execution": E.ACTIVE, "alarms": (c.Alarm(code="1"),)}, True, "alarm"),
        ({"execution": E.ACTIVE, "alarms": (c.Alarm(code="1", severity=c.Severity.WARNING),)}, True, "running"),
        ({"execution": E.READY, "emergency_stop": True}, True, "alarm"),
        ({"execution": E.ACTIVE}, False, "offline"),
    ],
)
def test_tile_status(fields: dict[str, object], online: bool, status: str) -> None:
    machine = view(**fields)
    machine.agent_online = online
    assert machine.status == status


def test_an_older_message_never_overwrites_newer_state() -> None:
    machine = MachineView(SITE, MACHINE)
    apply_message(machine, changed(5, E.FEED_HOLD), received_at=T0)
    apply_message(machine, state(3), received_at=T0)  # replayed late
    assert machine.state.execution is E.FEED_HOLD
    assert machine.state_since == T0 + timedelta(seconds=5)
    apply_message(machine, changed(6, E.FEED_HOLD), received_at=T0)  # same state: the clock keeps running
    assert machine.state_since == T0 + timedelta(seconds=5)


def test_parts_today_counts_the_workshop_day() -> None:
    machine = MachineView(SITE, MACHINE)
    today = datetime.now(UTC)
    for seq in (1, 2):
        apply_message(machine, part(seq).model_copy(update={"ts": today}), received_at=today)
    apply_message(machine, part(3, counter=77).model_copy(update={"ts": today - timedelta(days=3)}), received_at=today)
    local_today = local_date(today)  # the school's day, not the host's: they differ an hour a night
    assert machine.to_json(local_today)["parts_today"] == 2
    assert machine.to_json(local_today + timedelta(days=1))["parts_today"] == 0


async def test_subscribers_get_a_snapshot_then_changes_and_a_slow_one_is_coalesced() -> None:
    live = LiveView(queue_size=4)
    live.load([view(execution=E.READY)])
    with live.subscribe() as fast, live.subscribe() as slow:
        first = await fast.get()
        assert first["type"] == "snapshot"
        assert first["machines"][0]["status"] == "ready"
        for seq in range(1, 20):
            live.apply([Accepted(TOPIC, changed(seq, E.ACTIVE if seq % 2 else E.READY), T0)])
            if seq < 19:
                await fast.get()
        pushed = await fast.get()
        assert pushed == {"type": "machine", "machine": pushed["machine"]}
        assert pushed["machine"]["status"] == "running"
        # The slow client never read: its backlog became one snapshot, and ingest never waited for it.
        assert slow.coalesced > 0
        assert slow.queue.qsize() <= 4
        backlog = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert backlog[0]["type"] == "snapshot"
        last = backlog[-1]
        assert (last["machine"] if last["type"] == "machine" else last["machines"][0])["status"] == "running"
    assert live.subscriber_count == 0


def test_an_agent_going_offline_turns_its_machines_offline() -> None:
    live = LiveView()
    live.load([view(execution=E.ACTIVE), MachineView(SITE, "other", agent="pc-9", agent_online=True)])
    will = c.AgentStatus(agent=AGENT, ts=T0, status="offline")
    topic = c.Topic(site=SITE, channel="status", agent=AGENT)
    live.apply([Accepted(topic, will, T0 + timedelta(hours=1), agent_machines=(MACHINE,))])
    by_id = {m["id"]: m for m in live.machines()}
    assert by_id[MACHINE]["status"] == "offline"
    assert by_id[MACHINE]["state_since"] == "2026-11-25T09:00:00Z"
    assert by_id["other"]["agent_online"] is True
