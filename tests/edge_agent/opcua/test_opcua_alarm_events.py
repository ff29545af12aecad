"""Alarms as OPC UA condition events (OPC 40501 Notification/Messages) through the umati profile and the real
tracker: raise and clear, server restarts with and without ConditionRefresh, and bad alarm options."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from atelier.simulators.opcua_cnc import OpcUaCnc
from edge_agent import profiles
from edge_agent.contract import Alarm, AlarmCleared, AlarmRaised, Availability, Execution, Severity
from edge_agent.drivers import Driver, build
from edge_agent.errors import DriverError
from plumbing.tomlconfig import ConfigError
from tests.edge_agent.opcua.conftest import FAST, Fed, Reader

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
SPINDLE = {"code": "2012", "message": "spindle overload", "severity": "fault"}
DOOR = {"code": "700", "message": "door open", "severity": "warning"}


async def _umati(
    cnc_factory: Callable[..., Awaitable[OpcUaCnc]], readers: Callable[[Driver], Reader], **sim: Any
) -> tuple[OpcUaCnc, Driver, Fed]:
    cnc = await cnc_factory(shape="machine_tool", **sim)
    profile = profiles.load("umati-machine-tool")
    driver = build(
        "opcua", machine_id="m1", options=profile.merged_options({"endpoint": cnc.endpoint, **FAST}), profile=profile
    )
    fed = Fed(readers(driver), profile)
    await fed.until(lambda s: s.execution is Execution.READY, "the first state")
    return cnc, driver, fed


def raised(fed: Fed) -> list[Alarm]:
    fed.pump()
    return [d.fields["alarm"] for d in fed.drafts if d.type is AlarmRaised]


def cleared(fed: Fed) -> list[str]:
    fed.pump()
    return [d.fields["code"] for d in fed.drafts if d.type is AlarmCleared]


def codes(fed: Fed) -> list[str]:
    return sorted(alarm.code for alarm in fed.tracker.state.alarms)


async def _restart(cnc: OpcUaCnc, driver: Driver, fed: Fed, readers: Callable[[Driver], Reader], **down: Any) -> None:
    """Stop the server (the session ends), change what ``down`` says meanwhile, start it, and read again."""
    await cnc.stop()
    assert isinstance(await fed.reader.ended(), DriverError)
    if down:
        await cnc.apply(down)
    await cnc.start()
    fed.relink(readers(driver), datetime.now(UTC))
    await fed.until(lambda s: s.availability is Availability.AVAILABLE, "the link back")


async def test_alarm_events_raise_and_clear_with_code_message_severity_and_source_time(cnc_factory, readers):
    cnc, _, fed = await _umati(cnc_factory, readers)
    await cnc.apply({"alarms": [SPINDLE], "execution": "STOPPED"}, ts=T0)
    await fed.until(lambda s: [a.code for a in s.alarms] == ["2012"], "the alarm")
    assert raised(fed) == [Alarm(code="2012", message="spindle overload", severity=Severity.FAULT)]
    assert next(d.ts for d in fed.drafts if d.type is AlarmRaised) == T0

    await cnc.apply({"alarms": [SPINDLE, DOOR]}, ts=T0 + timedelta(seconds=2))
    await fed.until(lambda s: len(s.alarms) == 2, "the second alarm")
    assert raised(fed)[1:] == [Alarm(code="700", message="door open", severity=Severity.WARNING)]

    await cnc.apply({"alarms": [DOOR]}, ts=T0 + timedelta(seconds=5))
    await fed.until(lambda s: [a.code for a in s.alarms] == ["700"], "the first alarm cleared")
    await cnc.apply({"alarms": []}, ts=T0 + timedelta(seconds=9))
    await fed.until(lambda s: s.alarms == (), "no alarm")
    assert cleared(fed) == ["2012", "700"]
    assert [d.ts for d in fed.drafts if d.type is AlarmCleared] == [
        T0 + timedelta(seconds=5),
        T0 + timedelta(seconds=9),
    ]
    assert len(raised(fed)) == 2


@pytest.mark.fault
@pytest.mark.parametrize("refresh", [True, False], ids=["ConditionRefresh", "no-ConditionRefresh"])
async def test_server_restart_keeps_an_active_alarm_without_second_raise_or_false_clear(cnc_factory, readers, refresh):
    cnc, driver, fed = await _umati(cnc_factory, readers, condition_refresh=refresh)
    await cnc.apply({"alarms": [SPINDLE]})
    await fed.until(lambda s: codes(fed) == ["2012"], "the alarm")

    await _restart(cnc, driver, fed, readers)
    assert codes(fed) == ["2012"]
    await cnc.apply({"alarms": [SPINDLE, DOOR]})  # events keep flowing on the new session
    await fed.until(lambda s: codes(fed) == ["2012", "700"], "an alarm after the restart")
    assert [a.code for a in raised(fed)] == ["2012", "700"]
    assert cleared(fed) == []

    await cnc.apply({"alarms": []})
    await fed.until(lambda s: s.alarms == (), "both cleared")
    assert sorted(cleared(fed)) == ["2012", "700"]


@pytest.mark.fault
async def test_condition_refresh_clears_an_alarm_that_ended_while_the_server_was_down(cnc_factory, readers):
    cnc, driver, fed = await _umati(cnc_factory, readers)
    await cnc.apply({"alarms": [SPINDLE]})
    await fed.until(lambda s: codes(fed) == ["2012"], "the alarm")
    await _restart(cnc, driver, fed, readers, alarms=[DOOR])
    await fed.until(lambda s: codes(fed) == ["700"], "the refreshed alarms")
    assert [a.code for a in raised(fed)] == ["2012", "700"]
    assert cleared(fed) == ["2012"]


def _profile(tmp_path: Path, events: str) -> Path:
    path = tmp_path / "events.toml"
    path.write_text(
        '[profile]\nname = "test"\ndriver = "opcua"\n'
        '[options.machine_tool]\nmachine = "*"\n'
        '[options.nodes]\nProgramState = { path = "Production/ActiveProgram/State/CurrentState/Number" }\n'
        f"[options.alarms_from_events]\n{events}\n"
        '[signals.execution]\nsource = "ProgramState"\nmap = { "0" = "READY", "1" = "ACTIVE" }\n'
        '[signals.alarms]\nsource = "alarms"\n'
    )
    return path


@pytest.mark.parametrize(
    ("events", "key"),
    [
        ('node = "Notification/Messages"', "options.alarms_from_events.node"),
        ('node = { path = "Notification/Messages", mode = "poll" }', "options.alarms_from_events.node"),
        ('node = { path = "Notification/Messages" }\nwarning_from = 700', "options.alarms_from_events"),
        ('node = { path = "Notification/Messages" }\nkey = "ProgramState"', "options"),
        ('path = "Notification/Messages"', "options.alarms_from_events"),
    ],
)
def test_bad_alarm_event_options_name_the_file_and_the_key(tmp_path, events, key):
    path = _profile(tmp_path, events)
    profile = profiles.load(str(path))
    with pytest.raises(ConfigError) as caught:
        build(
            "opcua", machine_id="m1", options=profile.merged_options({"endpoint": "opc.tcp://h:4840"}), profile=profile
        )
    assert any(p.file == str(path) and p.key.startswith(key) for p in caught.value.problems), caught.value


@pytest.mark.parametrize(
    "unusable",
    [("Notification/Nothing", "no child 'Nothing' under Notification"), ("Monitoring", "is not an event notifier")],
)
@pytest.mark.slow  # a real server per case
async def test_an_unusable_event_node_is_named_and_the_other_signals_flow(
    cnc_factory, readers, tmp_path, caplog, unusable
):
    node, reason = unusable
    cnc = await cnc_factory(shape="machine_tool")
    path = _profile(tmp_path, f'node = {{ path = "{node}" }}')
    profile = profiles.load(str(path))
    caplog.set_level(logging.ERROR, logger="edge_agent.drivers.opcua.driver")
    opts = profile.merged_options({"endpoint": cnc.endpoint, **FAST})
    fed = Fed(readers(build("opcua", machine_id="m1", options=opts, profile=profile)), profile)
    await fed.until(lambda s: s.execution is Execution.READY, "the first state")
    await cnc.apply({"execution": "ACTIVE", "alarms": [SPINDLE]})
    await fed.until(lambda s: s.execution is Execution.ACTIVE, "a change")

    [message] = [r.getMessage() for r in caplog.records if "alarms_from_events" in r.getMessage()]
    assert str(path) in message
    assert f"options.alarms_from_events.node (path {node})" in message
    assert reason in message
    assert fed.tracker.state.alarms == ()
