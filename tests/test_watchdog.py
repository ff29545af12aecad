"""sd_notify from both daemons to a datagram socket standing in for systemd's: READY, then WATCHDOG.

The processes show the protocol as systemd sees it. A wedged loop is made in-process, by
blocking the event loop the daemon runs on (as a stuck synchronous call would): no test-only
hook exists in the daemons, and SIGSTOP would freeze every thread, not only the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from atelier.broker import Broker, free_port
from edge_agent import config as edge_config
from edge_agent.app import run as run_agent
from gateway.app import serve as serve_gateway
from gateway.config import GatewaySettings
from plumbing import tomlconfig
from tests.edge_agent.test_agent import write_config
from tests.gateway.helpers import gateway_toml

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Systemd:
    """The notify socket: every datagram with the monotonic time it arrived."""

    path: Path
    received: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self, prefix: str) -> list[float]:
        with self.lock:
            return [at for at, text in self.received if text.startswith(prefix)]

    def wait_for(self, prefix: str, count: int = 1, timeout_s: float = 30.0) -> list[float]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(found := self.messages(prefix)) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{count} x {prefix!r} did not arrive; got {self.received}")

    async def until(self, prefix: str, count: int = 1, timeout_s: float = 30.0) -> list[float]:
        """The same, without blocking the event loop the daemon under test runs on."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(found := self.messages(prefix)) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{count} x {prefix!r} did not arrive; got {self.received}")


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[Systemd]:
    # A short path: AF_UNIX addresses are limited to 108 bytes and pytest's tmp_path can be long.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = Path(f"/tmp/atelier-notify-{os.getpid()}-{time.monotonic_ns()}.sock")
    sock.bind(str(path))
    sock.settimeout(0.05)
    listener = Systemd(path)
    running = True

    def receive() -> None:
        while running:
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            with listener.lock:
                listener.received.append((time.monotonic(), data.decode()))

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        running = False
        thread.join(5)
        sock.close()
        path.unlink(missing_ok=True)


def watched(systemd: Systemd, monkeypatch: pytest.MonkeyPatch, usec: int) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(systemd.path))
    monkeypatch.setenv("WATCHDOG_USEC", str(usec))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))


def daemon_env(systemd: Systemd) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WATCHDOG_PID"}  # unset: any pid of the service
    return {**env, "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "1000000", "PYTHONPATH": str(ROOT)}


def stop_process(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, err.decode()


def start_daemon(systemd: Systemd, daemon: str, config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "atelier", daemon, "run", "-c", str(config)],
        cwd=ROOT,
        env=daemon_env(systemd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def assert_pings_at_half_the_interval(pings: list[float], interval_s: float) -> None:
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert all(gap < interval_s * 2 for gap in gaps), f"systemd would kill a daemon pinging every {gaps} s"


@pytest.mark.slow  # the agent as a process
def test_agent_process_is_ready_then_pings_then_says_stopping(systemd: Systemd, broker: Broker, tmp_path: Path) -> None:
    config = write_config(tmp_path, broker, machines=1)
    agent = start_daemon(systemd, "edge", config)
    try:
        systemd.wait_for("READY=1")
        pings = systemd.wait_for("WATCHDOG=1", count=4)
    finally:
        code, err = stop_process(agent)
    assert code == 0, err
    assert [text for _, text in systemd.received if text.startswith("READY=1")] == ["READY=1\nSTATUS=1 machines"]
    assert_pings_at_half_the_interval(pings, 1.0)
    systemd.wait_for("STOPPING=1")


@pytest.mark.slow  # the gateway as a process
def test_gateway_process_is_ready_then_pings(systemd: Systemd, broker: Broker, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(gateway_toml(broker, tmp_path / "gateway.db", http_port=free_port()))
    gateway = start_daemon(systemd, "gateway", config)
    try:
        ready = systemd.wait_for("READY=1")
        pings = systemd.wait_for("WATCHDOG=1", count=3)
    finally:
        code, err = stop_process(gateway)
    assert code == 0, err
    assert ready[0] < pings[0]
    assert_pings_at_half_the_interval(pings, 1.0)


def block_the_loop(seconds: float) -> tuple[float, float]:
    """What a stuck synchronous call does to every task on the loop; returns when it started and ended."""
    started = time.monotonic()
    time.sleep(seconds)
    return started, time.monotonic()


def assert_silent_while_blocked(systemd: Systemd, blocked: tuple[float, float]) -> None:
    # A datagram sent just before the block may be read a moment after it began.
    during = [at for at in systemd.messages("WATCHDOG=1") if blocked[0] + 0.05 < at < blocked[1]]
    assert not during, "a ping came from a blocked loop"


async def test_agent_pings_stop_while_its_loop_is_blocked_and_resume_after(
    systemd: Systemd, broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched(systemd, monkeypatch, usec=200_000)  # a ping every 0.1 s
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(edge_config.load(write_config(tmp_path, broker, machines=1)), stop=stop))
    try:
        await systemd.until("WATCHDOG=1", count=3)
        blocked = block_the_loop(0.6)
        before = len(systemd.messages("WATCHDOG=1"))
        await systemd.until("WATCHDOG=1", count=before + 3)
    finally:
        stop.set()
        await asyncio.wait_for(agent, 15)
    assert_silent_while_blocked(systemd, blocked)


async def test_gateway_pings_stop_while_blocked_and_while_ingest_is_dead(
    systemd: Systemd, broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    watched(systemd, monkeypatch, usec=200_000)
    port = free_port()
    path = tmp_path / "gateway.toml"
    path.write_text(gateway_toml(broker, tmp_path / "gateway.db", http_port=port))
    stop = asyncio.Event()
    gateway = asyncio.create_task(serve_gateway(tomlconfig.load(path, GatewaySettings), stop=stop))
    try:
        await systemd.until("READY=1")
        await systemd.until("WATCHDOG=1", count=3)
        blocked = block_the_loop(0.6)
        await systemd.until("WATCHDOG=1", count=len(systemd.messages("WATCHDOG=1")) + 2)
        assert_silent_while_blocked(systemd, blocked)

        # Ingest dies (as an unexpected error in one of its tasks would end it); the HTTP side lives on.
        ingest_task = next(t for t in asyncio.all_tasks() if t.get_name() == "ingest-gaps")
        ingest_task.cancel()
        await asyncio.sleep(0.15)  # a ping already on its way may still land
        withheld_from = time.monotonic()
        await asyncio.sleep(0.6)
        assert not [at for at in systemd.messages("WATCHDOG=1") if at > withheld_from], "pinged with ingest dead"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/api/health")).status_code == 200
        assert not gateway.done(), "the process stays up: systemd's watchdog restarts it"
        assert any("withholding the watchdog ping" in r.getMessage() for r in caplog.records)
    finally:
        stop.set()
        await asyncio.wait_for(gateway, 20)
