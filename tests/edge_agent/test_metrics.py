"""The agent's ``/metrics``: a real agent process, a real broker and a line box on a pseudo-terminal, scraped."""

from __future__ import annotations

import asyncio
import http.client
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atelier.broker import Broker, free_port
from atelier.simulators import LineboxSimulator
from edge_agent import __version__
from edge_agent import config as edge_config
from edge_agent import contract as c
from edge_agent.app import run
from tests.edge_agent.mqtt_probe import Probe, eventually
from tests.edge_agent.test_agent import SIMULATOR, start_agent
from tests.gateway.prometheus_text import Scrape, parse


def get(port: int, path: str, method: str = "GET") -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        connection.close()


def scrape(port: int) -> Scrape:
    status, content_type, body = get(port, "/metrics")
    assert status == 200
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return parse(body)


def until(port: int, condition: Callable[[Scrape], bool], what: str, timeout_s: float = 20.0) -> Scrape:
    deadline = time.monotonic() + timeout_s
    last: Scrape | None = None
    while time.monotonic() < deadline:
        try:
            last = scrape(port)
        except OSError:  # not listening yet
            last = None
        if last is not None and condition(last):
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last scrape: {last.samples if last else 'none'}")


def available(scraped: Scrape, machine: str) -> float:
    return scraped.value("atelier_edge_machine_available", machine=machine)


@pytest.fixture
def linebox(tmp_path: Path) -> Iterator[LineboxSimulator]:
    box = LineboxSimulator(tmp_path / "ttyBox", heartbeat_s=0.1)
    box.start()
    yield box
    box.stop()


def write_config(tmp_path: Path, broker: Broker, metrics_port: int, box: LineboxSimulator) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f"""
[agent]
id = "pc-1"
site = "lyon"
state_dir = "{tmp_path / "state"}"
metrics_listen = "127.0.0.1:{metrics_port}"

[broker]
host = "{broker.host}"
port = {broker.port}
reconnect_min_s = 0.1
reconnect_max_s = 0.5

[[machines]]
id = "sim-0"
driver = "simulator"
{SIMULATOR.format(seed=1)}
[[machines]]
id = "lathe-1"
driver = "serial"
profile = "linebox-lathe"
reconnect_max_s = 0.3
[machines.options]
port = "{box.path}"
"""
    )
    return path


def test_metrics_follow_the_outbox_the_broker_and_the_machines(
    broker: Broker, tmp_path: Path, linebox: LineboxSimulator
) -> None:
    port = free_port()
    agent = start_agent(write_config(tmp_path, broker, port, linebox))
    gateway = Probe(broker, [f"{c.TOPIC_ROOT}/lyon/#"], client_id="gateway").start()
    try:
        first = until(port, lambda s: available(s, "lathe-1") == 1 and available(s, "sim-0") == 1, "both machines")
        assert first.value("atelier_edge_mqtt_connected") == 1
        assert first.value("atelier_edge_info", agent="pc-1", site="lyon", version=__version__) == 1
        assert first.types["atelier_edge_events_stored_total"] == "counter"
        moving = until(
            port,
            lambda s: (
                s.value("atelier_edge_messages_acknowledged_total")
                > first.value("atelier_edge_messages_acknowledged_total") + 5
            ),
            "acknowledgements to grow",
        )
        assert moving.value("atelier_edge_events_stored_total") > first.value("atelier_edge_events_stored_total")
        assert moving.value("atelier_edge_messages_published_total") >= moving.value(
            "atelier_edge_messages_acknowledged_total"
        )

        linebox.unplug()
        lost = until(port, lambda s: available(s, "lathe-1") == 0, "the unplugged box to be unavailable")
        assert available(lost, "sim-0") == 1
        until(port, lambda s: s.value("atelier_edge_machine_reconnects_total", machine="lathe-1") >= 2, "retries")
        linebox.replug()
        until(port, lambda s: available(s, "lathe-1") == 1, "the replugged box to be available again")

        gateway.publish(
            c.agent_topic("lyon", "pc-1", "replay"),
            c.encode(c.ReplayRequest(agent="pc-1", ts=datetime.now(UTC), first=1, last=3, requester="gw")),
        )
        replayed = until(port, lambda s: s.value("atelier_edge_replay_requests_total") == 1, "the replay")
        assert replayed.value("atelier_edge_replayed_messages_total") == 3

        broker.stop()
        down = until(
            port,
            lambda s: (
                s.value("atelier_edge_mqtt_connected") == 0
                and s.value("atelier_edge_outbox_unsent", kind="event") > 0
                and s.value("atelier_edge_outbox_oldest_unsent_age_seconds") > 0.2
                # The first failed attempt comes after paho's reconnect delay: on a loaded machine it can
                # follow the outbox's age, so it is waited for (and fails the test if it never comes).
                and s.value("atelier_edge_mqtt_connect_failures_total") >= 1
            ),
            "events to wait for the broker, and a failed connection attempt",
        )
        assert down.value("atelier_edge_mqtt_connect_failures_total") >= 1
        broker.start()
        until(
            port,
            lambda s: (
                s.value("atelier_edge_mqtt_reconnects_total") == 1
                and s.value("atelier_edge_outbox_unsent", kind="event") == 0
                and s.value("atelier_edge_outbox_oldest_unsent_age_seconds") == 0
            ),
            "the backlog to drain after the reconnect",
        )

        assert get(port, "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
        assert get(port, "/nowhere")[0] == 404
        assert get(port, "/metrics", method="POST")[0] == 405
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
            assert raw.recv(100) == b"", "a client that does not speak HTTP is hung up on"
        assert scrape(port).value("atelier_edge_mqtt_connected") == 1, "still serving after that"

        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=15)
    finally:
        gateway.stop()
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
    assert agent.returncode == 0, err.decode()
    assert f"metrics on http://127.0.0.1:{port}/metrics" in out.decode()


async def test_a_busy_metrics_port_is_logged_and_the_agent_runs_on(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        path = tmp_path / "edge.toml"
        path.write_text(
            f'[agent]\nid = "pc-1"\nsite = "lyon"\nstate_dir = "{tmp_path / "state"}"\n'
            f'metrics_listen = "127.0.0.1:{busy}"\n[broker]\nhost = "{broker.host}"\nport = {broker.port}\n'
            f'[[machines]]\nid = "sim-0"\ndriver = "simulator"\n'
        )
        probe = Probe(broker, [c.agent_topic("lyon", "pc-1", "status")]).start()
        stop = asyncio.Event()
        with caplog.at_level(logging.INFO):
            agent = asyncio.create_task(run(edge_config.load(path), stop=stop))
            try:
                await eventually(lambda: bool(probe.messages("/status")), what="the agent's birth")
            finally:
                stop.set()
                await asyncio.wait_for(agent, 15)
                probe.stop()
    refusals = [r for r in caplog.records if "metrics_listen" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.ERROR]
    assert refusals[0].getMessage().startswith(f"agent.metrics_listen: cannot listen on 127.0.0.1:{busy}: ")
    assert refusals[0].getMessage().endswith("; running without /metrics")
    assert refusals[0].exc_info is None
