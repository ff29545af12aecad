"""Fault injection on the whole chain: processes SIGKILLed, a broker that loses what it had not saved, a full disk.

Every test counts cycles and parts end to end against the simulators' own
record: zero lost, zero doubled.
"""

from __future__ import annotations

import contextlib
import errno
import random
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import contract
from edge_agent.publisher import WRITE_FAILED_ALARM
from harness import AGENT, SITE, Chain, sim_options
from tests.e2e.test_chain import check_exactly_once, check_parts

pytestmark = [pytest.mark.e2e, pytest.mark.fault]

MACHINES = ("mill-1", "lathe-2", "router-3", "drill-4")


def _start(chain: Chain, cycles: int, machines: tuple[str, ...] = MACHINES, **extra: object) -> None:
    for seed, machine in enumerate(machines, start=1):
        chain.add_machine(machine, sim_options(seed, cycles, cycle_s=0.3, **extra))
    chain.start()


def _settle(chain: Chain, *, allow_unrecorded: int = 0, timeout_s: float = 60) -> int:
    """Freeze the truth (stop the agent), wait for the gateway to hold it all, then compare."""
    assert chain.agent is not None
    chain.agent.stop()
    chain.wait_for(lambda: len(chain.cycles()) >= len(chain.records()), timeout_s, "every recorded cycle")
    time.sleep(0.5)  # anything doubled would show now
    compared = check_exactly_once(chain, allow_unrecorded=allow_unrecorded)
    check_parts(chain)
    return compared


def test_broker_sigkilled_repeatedly_gaps_are_replayed(chain: Chain) -> None:
    _start(chain, cycles=30)
    chain.wait_for(lambda: len(chain.cycles()) >= 4, 30, "the first cycles")
    rng = random.Random(8)
    for _ in range(3):
        time.sleep(rng.uniform(0.3, 1.5))
        chain.broker.kill()  # loses up to a second of accepted messages (autosave_interval 1)
        time.sleep(0.3)
        chain.broker.start()
    chain.wait_for(lambda: chain.all_cycles_made(30), 90, "the simulators to finish")
    assert _settle(chain) == 30 * len(MACHINES)
    gateway_log = (chain.root / "gw.log").read_text()
    if "gap in sequence" in gateway_log:  # the usual case: the kill lost something, and replay repaired it
        assert "replaying seq" in (chain.root / "edge.log").read_text()


def test_gateway_sigkilled_mid_batch(chain: Chain) -> None:
    _start(chain, cycles=30)
    chain.wait_for(lambda: len(chain.cycles()) >= 4, 30, "the first cycles")
    rng = random.Random(9)
    for _ in range(3):
        time.sleep(rng.uniform(0.2, 1.0))  # telemetry and events flow all the time: a batch is always open
        assert chain.gateway is not None
        chain.gateway.kill()
        chain.start_gateway()
    chain.wait_for(lambda: chain.all_cycles_made(30), 90, "the simulators to finish")
    assert _settle(chain) == 30 * len(MACHINES)


def _unsent(outbox: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5)) as db:
        return int(db.execute("SELECT count(*) FROM items WHERE sent IS NULL").fetchone()[0])


def test_agent_sigkilled_mid_drain(chain: Chain) -> None:
    # One message in flight at a time: the backlog takes seconds to drain, so the kill lands inside it.
    chain.edge_extra = "[outbox]\nmax_inflight = 1\n"
    _start(chain, cycles=40)
    chain.wait_for(lambda: len(chain.cycles()) >= 4, 30, "the first cycles")
    chain.broker.stop()
    outbox = chain.root / "edge" / "outbox.sqlite"
    chain.wait_for(lambda: _unsent(outbox) >= 150, 30, "a backlog during the outage")
    backlog = _unsent(outbox)
    chain.broker.start()
    chain.wait_for(lambda: _unsent(outbox) < backlog - 20, 30, "the drain to start")
    assert chain.agent is not None
    chain.agent.kill()  # a power cut in the middle of the drain
    assert _unsent(outbox) > 0, "the drain finished before the kill: the test proved nothing"
    chain.start_agent()  # the simulators start over: 40 more cycles each
    chain.wait_for(lambda: chain.all_cycles_made(41), 90, "cycles after the restart")
    compared = _settle(chain, allow_unrecorded=1)
    assert compared >= 41 * len(MACHINES)


class StatusWatch:
    """The agent's retained status, as the gateway and any monitor see it."""

    def __init__(self, chain: Chain) -> None:
        self.alarms: tuple[str, ...] = ()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fault-status-watch", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(contract.agent_topic(SITE, AGENT, "status"), qos=1)
        self.client.connect(chain.broker.host, chain.broker.port)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        _, status = contract.decode(message.topic, bytes(message.payload))
        assert isinstance(status, contract.AgentStatus)
        self.alarms = status.alarms

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path`` (needs root); the test is skipped where nothing can be mounted."""
    path.mkdir(parents=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    mounted = subprocess.run(command, capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a ballast file until the filesystem is full."""
    ballast = directory / "ballast"
    chunk = b"\0" * 65536
    with ballast.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
    return ballast


def test_outbox_disk_full_raises_an_alarm_and_loses_nothing(chain: Chain, tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", "8m") as state_dir:
        chain.state_dir = state_dir
        watch = StatusWatch(chain)
        try:
            _start(chain, cycles=30, machines=MACHINES[:3])
            chain.wait_for(lambda: len(chain.cycles()) >= 3, 30, "the first cycles")
            ballast = fill(state_dir)
            chain.wait_for(lambda: WRITE_FAILED_ALARM in watch.alarms, 60, "the disk-full alarm on the status topic")
            # The alarm may come first from a telemetry or acknowledgement write; the next event's
            # write then fails too, and the log says the events are kept in memory.
            log_path = chain.root / "edge.log"
            chain.wait_for(lambda: "keeping" in log_path.read_text(), 30, "the log to say events are kept in memory")
            assert "database or disk is full" in log_path.read_text()
            time.sleep(1.0)
            assert chain.agent is not None
            assert chain.agent.running, "the agent must ride out a full disk"
            ballast.unlink()  # space returns
            chain.wait_for(lambda: WRITE_FAILED_ALARM not in watch.alarms, 30, "the alarm to clear")
            chain.wait_for(lambda: chain.all_cycles_made(30), 90, "the simulators to finish")
            assert _settle(chain) == 30 * 3
        finally:
            watch.close()
            chain.stop()  # before the filesystem goes
