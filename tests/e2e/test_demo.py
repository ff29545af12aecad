"""``atelier demo`` as a newcomer runs it: every simulated machine comes up, Ctrl-C stops everything."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from atelier.broker import free_port

pytestmark = pytest.mark.e2e


def _machines(port: int) -> list[dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/machines", timeout=2) as response:
            data = json.loads(response.read())
    except OSError:
        return []
    return data if isinstance(data, list) else data.get("machines", [])


def test_demo_runs_five_machines_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "atelier", "demo", "--port", str(port), "--data", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        available: set[str] = set()
        while time.monotonic() < deadline and len(available) < 5:
            assert demo.poll() is None, demo.stdout.read() if demo.stdout else ""
            available = {
                str(m.get("machine") or m.get("id")) for m in _machines(port) if m.get("availability") == "AVAILABLE"
            }
            time.sleep(0.5)
        assert available == {"sinumerik-mill-1", "haas-lathe-2", "grbl-router-3", "umati-mill-4", "dmg-mill-5"}
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output
    assert "Atelier demo is running" in output
    assert output.rstrip().endswith("Stopped.")
    assert "Traceback" not in output
