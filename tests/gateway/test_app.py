"""The gateway process: a busy HTTP port is a clear error with exit code 1, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atelier.broker import Broker
from tests.gateway.helpers import gateway_toml


def test_a_busy_port_is_a_clear_error(broker: Broker, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "gateway.toml"
        config.write_text(gateway_toml(broker, tmp_path / "gateway.db", http_port=port))
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "run", "-c", str(config)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    # The one log format (plumbing/logs.py), the same as the agent's.
    [line] = [line for line in done.stdout.splitlines() if "gateway stopped" in line]
    assert line.startswith("ts=")
    assert " level=error logger=gateway.app msg=" in line


@pytest.mark.slow  # a gateway process
def test_check_through_the_module_entry_point(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\nid = "gw"\n[http]\nport = "eighty"\n')
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "check", "-c", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{config}: http.port" in done.stderr
