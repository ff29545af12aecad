"""The opcua driver against a real asyncua server: first read, subscription, batches, polling, bad nodes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent import profiles
from edge_agent.drivers import build
from edge_agent.errors import DriverError
from plumbing.tomlconfig import ConfigError
from tests.edge_agent.opcua.conftest import SINUMERIK, options

NODES = {
    "progStatus": f"{SINUMERIK}/Channel/State/progStatus",
    "actParts": f"{SINUMERIK}/Channel/State/actParts",
    "progName": {"ns_uri": "SinumerikVarProvider", "id": "/Channel/ProgramInfo/progName"},
    "opMode": {"path": "Sinumerik/Bag/State/opMode"},
}


async def test_first_batch_reads_every_node_then_changes_arrive_with_source_timestamps(cnc_factory, readers):
    cnc = await cnc_factory()
    reader = readers(build("opcua", machine_id="m1", options=options(cnc.endpoint, NODES), profile=None))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    first = {r.key: r.value for r in reader.batches[0]}
    assert first == {"progStatus": 5, "actParts": 0, "progName": "BRIDE_A12.MPF", "opMode": 2}

    await cnc.apply({"execution": "ACTIVE"})
    await reader.until(lambda: 3 in reader.values("progStatus"), "the start")
    stamp = datetime(2024, 3, 5, 7, 30, 12, 250000, tzinfo=UTC)
    await cnc.apply({"execution": "PROGRAM_COMPLETED", "part_count": 7}, ts=stamp)
    await reader.until(lambda: 7 in reader.values("actParts"), "the counter step")

    together = next(b for b in reader.batches if any(r.key == "actParts" and r.value == 7 for r in b))
    assert {(r.key, r.value) for r in together} == {("actParts", 7), ("progStatus", 5)}
    assert all(r.ts == stamp for r in together)


async def test_values_written_together_come_as_one_batch(cnc_factory, readers):
    cnc = await cnc_factory()
    reader = readers(build("opcua", machine_id="m1", options=options(cnc.endpoint, NODES), profile=None))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    await cnc.apply({"execution": "ACTIVE", "program": "PLATINE_C3.MPF", "mode": "AUTOMATIC"})
    await reader.until(lambda: "PLATINE_C3.MPF" in reader.values("progName"), "the program change")
    batch = next(b for b in reader.batches if any(r.value == "PLATINE_C3.MPF" for r in b))
    assert {r.key for r in batch} == {"progStatus", "progName"}  # opMode did not change: not notified


@pytest.mark.slow  # waits out polling intervals
async def test_poll_mode_reads_changes_at_the_interval(cnc_factory, readers):
    cnc = await cnc_factory()
    opts = options(cnc.endpoint, NODES, mode="poll")
    reader = readers(build("opcua", machine_id="m1", options=opts, profile=None))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    stamp = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    await cnc.apply({"part_count": 41}, ts=stamp)
    await reader.until(lambda: 41 in reader.values("actParts"), "the polled counter")
    polled = next(r for r in reader.readings if r.key == "actParts" and r.value == 41)
    assert polled.ts == stamp
    assert reader.values("actParts").count(41) == 1  # unchanged values are not repeated


@pytest.mark.slow  # waits out polling intervals
async def test_a_node_polled_alongside_subscribed_ones(cnc_factory, readers):
    cnc = await cnc_factory()
    nodes = {**NODES, "actSpeed": {"ns_uri": "SinumerikVarProvider", "id": "/Channel/Spindle/actSpeed", "mode": "poll"}}
    reader = readers(build("opcua", machine_id="m1", options=options(cnc.endpoint, nodes), profile=None))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    await cnc.apply({"spindle_speed": 2500.0, "execution": "ACTIVE"})
    await reader.until(lambda: 2500.0 in reader.values("actSpeed") and 3 in reader.values("progStatus"), "both")


@pytest.mark.slow  # waits out the driver's retries
async def test_missing_node_is_named_with_profile_file_and_other_signals_flow(cnc_factory, readers, tmp_path, caplog):
    cnc = await cnc_factory()
    profile_file = tmp_path / "my-control.toml"
    profile_file.write_text(
        '[profile]\nname = "test"\ndriver = "opcua"\n[options.nodes]\n'
        f'progStatus = "{SINUMERIK}/Channel/State/progStatus"\n'
        f'wrongNode = "{SINUMERIK}/Channel/State/noSuchThing"\n'
        'wrongNs = "nsu=urn:not-there;s=/x"\n'
        '[signals.execution]\nsource = "progStatus"\n'
    )
    profile = profiles.load(str(profile_file))
    opts = profile.merged_options({"endpoint": cnc.endpoint, **options(cnc.endpoint, {})} | {"nodes": {}})
    caplog.set_level(logging.ERROR, logger="edge_agent.drivers.opcua.driver")
    reader = readers(build("opcua", machine_id="m1", options=opts, profile=profile))
    await reader.until(lambda: len(reader.batches) >= 1, "the first batch")
    await cnc.apply({"execution": "ACTIVE"})
    await reader.until(lambda: 3 in reader.values("progStatus"), "the existing signal")

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    wrong = next(m for m in errors if "wrongNode" in m)
    assert str(profile_file) in wrong
    assert "options.nodes.wrongNode" in wrong
    assert "/Channel/State/noSuchThing" in wrong
    assert "does not exist" in wrong
    assert any("options.nodes.wrongNs" in m and "urn:not-there" in m for m in errors)
    assert reader.error is None


@pytest.mark.slow  # waits out the driver's retries
async def test_no_existing_node_at_all_is_a_driver_error(cnc_factory, readers):
    cnc = await cnc_factory()
    nodes = {"nope": f"{SINUMERIK}/Nothing/here"}
    reader = readers(build("opcua", machine_id="m1", options=options(cnc.endpoint, nodes), profile=None))
    error = await reader.ended()
    assert isinstance(error, DriverError)
    assert "none of the 1 configured nodes exists" in str(error)


async def test_unreachable_endpoint_is_a_clear_driver_error(readers):
    from atelier.broker import free_port

    opts = options(f"opc.tcp://127.0.0.1:{free_port()}/", NODES)
    reader = readers(build("opcua", machine_id="m1", options=opts, profile=None))
    error = await reader.ended()
    assert isinstance(error, DriverError)
    assert "connection refused" in str(error)


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"endpoint": "http://x", "nodes": {"a": "i=2259"}}, "options.endpoint"),
        ({"endpoint": "opc.tcp://h:4840", "nodes": {"a": "/Channel/State/progStatus"}}, "options.nodes"),
        ({"endpoint": "opc.tcp://h:4840", "nodes": {"a": {"id": 3, "path": "x"}}}, "options.nodes.a"),
        ({"endpoint": "opc.tcp://h:4840", "nodes": {"a": "i=1"}, "sampling": 1}, "options.sampling"),
        (
            {"endpoint": "opc.tcp://h:4840", "nodes": {"a": "i=1"}, "security": {"mode": "SignAndEncrypt"}},
            "options.security",
        ),
    ],
)
def test_bad_options_name_the_key(bad, key, tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        build("opcua", machine_id="m1", options=bad, profile=None)
    assert any(problem.key.startswith(key) for problem in caught.value.problems), caught.value
