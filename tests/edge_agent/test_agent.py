"""The agent process: simulated machines through a real broker, SIGKILL and restart, SIGTERM, and ``check``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.broker import Broker
from edge_agent import contract as c
from edge_agent.app import check, main
from edge_agent.outbox import Outbox
from tests.edge_agent.mqtt_probe import Probe

ROOT = Path(__file__).parents[2]
RUN_AGENT = "import sys; from pathlib import Path; from edge_agent.app import main; sys.exit(main(Path(sys.argv[1])))"
SIMULATOR = """
[machines.options]
seed = {seed}
idle_s = 0.05
setup_s = 0.05
feed_hold_s = 0.05
alarm_s = 0.05
jitter = 0.0
telemetry_interval_s = 0.05
programs = [{{ name = "O{seed}", cycle_s = 0.2, parts_per_cycle = 2 }}]
"""


def write_config(tmp_path: Path, broker: Broker, machines: int = 3) -> Path:
    text = f"""
[agent]
id = "pc-1"
site = "lyon"
state_dir = "{tmp_path / "state"}"

[broker]
host = "{broker.host}"
port = {broker.port}
reconnect_min_s = 0.1
reconnect_max_s = 0.5
"""
    for n in range(machines):
        text += f'\n[[machines]]\nid = "sim-{n}"\ndriver = "simulator"\ntelemetry_interval_s = 0.2\n'
        text += SIMULATOR.format(seed=n + 1)
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def start_agent(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN_AGENT, str(config)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def gateway(broker: Broker) -> Iterator[Probe]:
    probe = Probe(broker, [f"{c.TOPIC_ROOT}/lyon/#"], client_id="gateway", persistent=True).start()
    yield probe
    probe.stop()


@pytest.mark.fault
def test_sigkill_and_restart_continue_the_sequence(broker: Broker, tmp_path: Path, gateway: Probe) -> None:
    config = write_config(tmp_path, broker)
    agent = start_agent(config)
    try:
        gateway.wait_for(lambda: len(set(gateway.seqs())) >= 25, 30, "events before the kill")
        agent.send_signal(signal.SIGKILL)
        agent.communicate(timeout=10)
        before = max(gateway.seqs())
        agent = start_agent(config)
        gateway.wait_for(lambda: max(gateway.seqs()) >= before + 25, 30, "events after the restart")
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=15)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
    assert agent.returncode == 0, err.decode()
    box = Outbox(tmp_path / "state" / "outbox.sqlite", agent="pc-1", site="lyon", event_budget=10**6,
                 telemetry_budget=10**6, retention_s=3600)  # fmt: skip
    total = box.stats().next_seq - 1
    assert box.stats().unsent_events == 0, "a graceful stop waits for the acknowledgements"
    box.close()
    gateway.wait_for(lambda: set(gateway.seqs()) >= set(range(1, total + 1)), 30, "every stored seq")

    payloads: dict[int, set[bytes]] = defaultdict(set)
    machines = set()
    for message in gateway.messages():
        if message.topic.endswith(("/event", "/state")):
            if message.retain and message.topic.endswith("/state"):
                continue  # a retained copy may be an older snapshot delivered on subscribe
            payloads[message.data["seq"]].add(message.payload)
            machines.add(message.data["machine"])
    assert sorted(payloads) == list(range(1, total + 1)), "no gap, nothing beyond what was stored"
    reused = {seq: p for seq, p in payloads.items() if len(p) > 1}
    assert not reused, f"a seq number was used for two different messages: {sorted(reused)[:5]}"
    assert machines == {"sim-0", "sim-1", "sim-2"}
    gateway.wait_for(lambda: gateway.messages("/status")[-1].data["status"] == "offline", what="offline status")
    statuses = [m.data["status"] for m in gateway.messages("/status")]
    assert "offline" in statuses[:-1], "the Last Will marked the killed agent offline"
    lines = out.decode().splitlines()
    assert lines
    assert all(line.startswith("ts=") and " level=" in line and " msg=" in line for line in lines)


def test_check_accepts_a_good_file(broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(write_config(tmp_path, broker, machines=2)) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok:")
    assert "sim-0 (simulator)" in out
    assert "2 machines" in out


def test_check_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "opc.toml").write_text('[profile]\nname = "OPC"\ndriver = "opcua"\n')
    config = tmp_path / "edge.toml"
    config.write_text(f"""
profiles_dir = "{tmp_path / "profiles"}"
[agent]
id = "pc-1"
site = "lyon"
[[machines]]
id = "bad-options"
driver = "simulator"
options = {{ idle_s = -1, colour = "red" }}
[[machines]]
id = "no-such-driver"
driver = "teleport"
[[machines]]
id = "missing-profile"
driver = "simulator"
profile = "nowhere"
[[machines]]
id = "wrong-profile"
driver = "simulator"
profile = "opc"
""")
    assert check(config) == 2
    err = capsys.readouterr().err
    assert "machines.bad-options.options.idle_s" in err
    assert "machines.bad-options.options.colour" in err
    assert "unknown driver 'teleport'" in err
    assert "nowhere.toml: file not found" in err
    assert "for the 'opcua' driver" in err
    assert "Traceback" not in err


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_main_exits_2_on_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[agent]\nid = "PC 1"\n')
    assert main(config) == 2
    err = capsys.readouterr().err
    assert "agent.id" in err
    assert "agent.site: required key is missing" in err
    assert "machines" in err
    assert main(tmp_path / "missing.toml") == 2
    assert "file not found" in capsys.readouterr().err
