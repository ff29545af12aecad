"""The umati profile against the MachineTool simulator in the shapes the umati reference servers show: a machine
tool without a channel (and without any mode), a production plan whose jobs come and go, a server that refuses
ConditionRefresh on a subscription mixing data changes and events (open62541), and program state Aborted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua import Client, ua

from atelier.simulators.opcua_cnc import OpcUaCnc
from atelier.simulators.opcua_jobs import RunsWritten
from edge_agent import profiles
from edge_agent.contract import AlarmCleared, AlarmRaised, Availability, Execution, MachineState, Mode, PartCounted
from edge_agent.drivers import Driver, Reading, build
from edge_agent.errors import DriverError
from tests.edge_agent.opcua.conftest import FAST, Fed, Reader

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
SPINDLE = {"code": "2012", "message": "spindle overload", "severity": "fault"}
DOOR = {"code": "700", "message": "door open", "severity": "warning"}


async def _umati(
    cnc_factory: Callable[..., Awaitable[OpcUaCnc]],
    readers: Callable[[Driver], Reader],
    options: dict[str, Any] | None = None,
    **sim: Any,
) -> tuple[OpcUaCnc, Driver, Fed]:
    cnc = await cnc_factory(shape="machine_tool", **sim)
    profile = profiles.load("umati-machine-tool")
    opts = profile.merged_options({"endpoint": cnc.endpoint, **FAST, **(options or {})})
    driver = build("opcua", machine_id="m1", options=opts, profile=profile)
    fed = Fed(readers(driver), profile)
    await fed.until(lambda s: s.execution is not None, "the first state")
    return cnc, driver, fed


def _parts(fed: Fed) -> list[tuple[str | None, int]]:
    fed.pump()
    return [(d.fields["program"], d.fields["count"]) for d in fed.drafts if d.type is PartCounted]


@pytest.mark.parametrize("operation_mode", [True, False], ids=["OperationMode", "no-mode-at-all"])
async def test_a_machine_tool_without_channel_records_the_simulators_cycles_and_parts(
    cnc_factory, readers, caplog, operation_mode
):
    caplog.set_level(logging.ERROR, logger="edge_agent.drivers.opcua.driver")
    cnc, _, fed = await _umati(
        cnc_factory,
        readers,
        channel=False,
        operation_mode=operation_mode,
        seed=3,
        cycle_s=0.8,
        cycles=4,
    )
    cnc.play()  # once connected: a cycle under way at connect time is not the point here
    await fed.until(lambda s: len(cnc.record) == 4 and len(fed.ended()) == 4, "four cycles")
    got = [(c.fields["program"], c.fields["outcome"], round(c.fields["duration_s"], 3)) for c in fed.ended()]
    want = [(r["program"], r["outcome"], round(r["duration_s"], 3)) for r in cnc.record]
    assert got == want
    assert _parts(fed) == [(r["program"], r["parts"]) for r in cnc.record if r["parts"]]
    assert fed.tracker.state.mode is (Mode.AUTOMATIC if operation_mode else None)
    # Each missing node is named once with the file and the key, and the others keep flowing.
    missing = [r.getMessage() for r in caplog.records if "options.nodes.ChannelMode" in r.getMessage()]
    assert len(missing) == 1
    assert "umati-machine-tool.toml" in missing[0]


async def test_without_cycles_without_mode_a_machine_with_no_mode_records_no_cycle(cnc_factory, readers):
    """The profile's cycles_without_mode is what lets the machine above record cycles: without it, none."""
    cnc = await cnc_factory(shape="machine_tool", channel=False, operation_mode=False)
    profile = profiles.load("umati-machine-tool").model_copy(update={"cycles_without_mode": False})
    opts = profile.merged_options({"endpoint": cnc.endpoint, **FAST})
    fed = Fed(readers(build("opcua", machine_id="m1", options=opts, profile=profile)), profile)
    await fed.until(lambda s: s.execution is Execution.READY, "the first state")
    await cnc.apply({"execution": "ACTIVE"}, ts=T0)
    await cnc.apply({"execution": "PROGRAM_COMPLETED", "part_count": 1}, ts=T0 + timedelta(seconds=9))
    await fed.until(lambda s: s.part_count == 1, "the end of the program")
    assert fed.ended() == []
    assert _parts(fed) == [("BRIDE_A12.MPF", 1)]  # the counter still counts


async def test_operation_mode_gives_the_mode_of_a_machine_tool_without_channel(cnc_factory, readers):
    cnc, _, fed = await _umati(cnc_factory, readers, channel=False)
    assert fed.tracker.state.mode is Mode.AUTOMATIC
    for mode in ("MANUAL", "SEMI_AUTOMATIC", "MANUAL_DATA_INPUT", "AUTOMATIC"):
        await cnc.apply({"mode": mode})
        # MachineOperationMode has no MDI: the simulator shows Setup, which reads as MANUAL.
        await fed.until(_mode_is(Mode.MANUAL if mode == "MANUAL_DATA_INPUT" else Mode(mode)), f"mode {mode}")


def _mode_is(want: Mode) -> Callable[[MachineState], bool]:
    return lambda state: state.mode is want


async def test_program_state_aborted_ends_the_cycle_aborted(cnc_factory, readers):
    cnc, _, fed = await _umati(cnc_factory, readers)
    await cnc.apply({"execution": "ACTIVE"}, ts=T0)
    await fed.until(lambda s: s.execution is Execution.ACTIVE, "the start")
    await cnc.apply({"execution": "INTERRUPTED"}, ts=T0 + timedelta(seconds=4))
    await fed.until(lambda s: s.execution is Execution.INTERRUPTED, "Interrupted, a hold")
    assert fed.ended() == []
    await cnc.apply({"execution": "STOPPED"}, ts=T0 + timedelta(seconds=7))  # ProgramState 4 Aborted
    await fed.until(lambda s: s.execution is Execution.STOPPED, "Aborted")
    [cycle] = fed.ended()
    assert (cycle.fields["outcome"], cycle.fields["duration_s"], cycle.fields["held_s"]) == ("aborted", 7.0, 3.0)


def _source(written: dict[datetime, RunsWritten], reading: Reading) -> RunsWritten:
    """The write a reading shows: the one at its source time; a session's first read is stamped at the
    session's start instead (a quiet value's source time is older than the outage), so it shows the
    latest write before that."""
    if reading.ts in written:
        return written[reading.ts]
    return written[max(ts for ts in written if ts <= reading.ts)]


@pytest.mark.slow  # twenty job replacements on a real server, a few seconds each
@pytest.mark.parametrize("events", [True, False], ids=["model-change-events", "re-browse-only"])
async def test_a_dynamic_job_plan_is_followed_through_20_replacements_with_no_stale_reading(
    cnc_factory, readers, caplog, events
):
    caplog.set_level(logging.INFO, logger="edge_agent.drivers.opcua.link")
    every_s = 0.8  # a job runs this long: enough for a loaded machine to read it
    cnc, _, fed = await _umati(
        cnc_factory,
        readers,
        # Without events only the re-browse finds the new job; with them, the default interval never comes.
        # asyncua's own probe must answer within the watchdog interval: on a loaded machine 2 s was seen to
        # pass, the session was dropped and the test ended; the probe is not what this test is about.
        options={"watchdog_interval_s": 6.0} | ({} if events else {"rebrowse_interval_s": 0.15}),
        job_every_s=every_s,
        model_change_events=events,
        seed=5,
        cycle_s=0.3,
    )
    cnc.play()
    plan = cnc.jobs
    assert plan is not None
    written: dict[datetime, RunsWritten] = {}

    def runs() -> list[Reading]:
        written.update({w.ts: w for w in plan.log})
        return [r for r in fed.reader.readings if r.key == "RunsCompleted"]

    def jobs() -> list[int]:
        """The job (its number) that wrote each RunsCompleted the agent read, found by the value's source time."""
        return [int(_source(written, r).job.split()[-1]) for r in runs()]

    await fed.reader.until(lambda: 21 in jobs(), "the 21st job", deadline_s=21 * every_s + 15)
    seen = jobs()
    # Every reading is a value the simulator wrote, at the time it wrote it, to the job it names...
    for reading in runs():
        assert reading.value == _source(written, reading).runs
    # ...no reading comes from a job older than one already read (no stale reading), and every job was followed.
    assert seen == sorted(seen)
    assert sorted(set(seen)) == list(range(1, 22))
    # Each re-binding is logged once.
    rebound = [r.getMessage() for r in caplog.records if "options.nodes.RunsCompleted" in r.getMessage()]
    assert len([m for m in rebound if "now reads node" in m]) == 20, rebound


async def test_the_simulator_refuses_condition_refresh_on_a_mixed_subscription_like_open62541(cnc_factory):
    """What the driver's separate event subscription is for: checked on the server itself."""
    cnc = await cnc_factory(shape="machine_tool", refresh_refuses_mixed=True)
    assert cnc.messages is not None
    async with Client(cnc.endpoint) as client:
        refresh = client.get_node(ua.ObjectIds.ConditionType)
        method = ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh)
        events = await client.create_subscription(100, None)
        await events.subscribe_events(cnc.messages.node.nodeid)
        await refresh.call_method(method, ua.Variant(events.subscription_id, ua.VariantType.UInt32))  # accepted
        mixed = await client.create_subscription(100, None)
        await mixed.subscribe_events(cnc.messages.node.nodeid)
        await mixed.subscribe_data_change(client.get_node(ua.ObjectIds.Server_ServerStatus_State))
        with pytest.raises(ua.UaStatusCodeError) as refused:
            await refresh.call_method(method, ua.Variant(mixed.subscription_id, ua.VariantType.UInt32))
        assert refused.value.code == ua.StatusCodes.BadFilterNotAllowed


@pytest.mark.fault
async def test_an_alarm_active_across_a_restart_is_refreshed_on_a_server_refusing_mixed_subscriptions(
    cnc_factory, readers, caplog
):
    caplog.set_level(logging.INFO, logger="edge_agent.drivers.opcua.link")
    cnc, driver, fed = await _umati(cnc_factory, readers, refresh_refuses_mixed=True)
    await cnc.apply({"alarms": [SPINDLE, DOOR]})
    await fed.until(lambda s: len(s.alarms) == 2, "two alarms")

    await cnc.stop()
    assert isinstance(await fed.reader.ended(), DriverError)
    await cnc.apply({"alarms": [SPINDLE]})  # the door alarm ends while the server is down
    await cnc.start()
    fed.relink(readers(driver), datetime.now(UTC))
    await fed.until(lambda s: s.availability is Availability.AVAILABLE, "the link back")
    # Only ConditionRefresh can tell the agent that 700 ended: no event about it was sent to anyone.
    await fed.until(lambda s: [a.code for a in s.alarms] == ["2012"], "the refreshed alarms")
    fed.pump()
    assert [d.fields["alarm"].code for d in fed.drafts if d.type is AlarmRaised] == ["2012", "700"]
    assert [d.fields["code"] for d in fed.drafts if d.type is AlarmCleared] == ["700"]
    assert not [r for r in caplog.records if "ConditionRefresh" in r.getMessage()]


async def test_a_path_whose_node_disappears_is_resolved_again_at_once(cnc_factory, readers, caplog):
    """No model change event and no re-browse due: only the deletion of the node it reads moves the key."""
    caplog.set_level(logging.INFO, logger="edge_agent.drivers.opcua.link")
    never = 3600.0
    cnc, _, fed = await _umati(
        cnc_factory, readers, options={"rebrowse_interval_s": never}, job_every_s=never, model_change_events=False
    )
    plan = cnc.jobs
    assert plan is not None

    def jobs() -> list[str]:
        written = {w.ts: w for w in plan.log}
        return [_source(written, r).job for r in fed.reader.readings if r.key == "RunsCompleted"]

    await fed.reader.until(lambda: jobs() == ["Job 1"], "Job 1")
    await plan.replace(0)  # Job 2 runs, Job 1 has ended but is still there: nothing tells the agent
    await cnc.apply({"part_count": 1})
    await asyncio.sleep(1.0)
    assert jobs() == ["Job 1"]
    await plan.replace(1)  # Job 3 runs, Job 1 is deleted
    await fed.reader.until(lambda: jobs()[-1:] == ["Job 3"], "Job 3")
    assert jobs() == ["Job 1", "Job 3"]
    assert len([r for r in caplog.records if "now reads node" in r.getMessage()]) == 1
