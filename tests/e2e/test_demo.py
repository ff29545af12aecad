"""``atelier demo`` as a newcomer runs it (``make demo``): a school at work within two minutes, seeded once.

On a fresh data folder the demo brings up its five simulated machines, seeds the school (the master's
login, whose password only the banner tells, two classes, three customers, their orders) and lets its
simulated students badge in at the kiosks. Everything is checked through the API as the master: orders
with good parts, several students' practice logs with cycles, a utilisation report with running time.
Ctrl-C stops it all, the students badging out first. Run again on the same folder, it adds nothing: the
same login (no password shown again), students, customers, orders and kiosk tokens.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from atelier.broker import free_port
from atelier.demo_machines import MACHINES, PROGRAMS

pytestmark = pytest.mark.e2e
WITHIN_S = 120  # the promise: the school is visibly at work within two minutes


class Demo:
    """``python -m atelier demo`` in a subprocess, its output collected line by line as it comes."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atelier", "demo", "--port", str(self.port), "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.token = ""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def until(self, condition: Callable[[], bool], what: str, within_s: float = WITHIN_S, seen: object = None) -> None:
        """Wait for ``condition``, at most ``within_s`` after the demo was started; ``seen``: shown on failure."""
        while not condition():
            assert self.process.poll() is None, f"the demo ended while waiting for {what}:\n{self.output}"
            if time.monotonic() - self.started > within_s:
                raise AssertionError(f"{what}: not within {within_s} s of `atelier demo` ({seen})\n{self.output}")
            time.sleep(1)

    def banner(self) -> str:
        self.until(lambda: "Press Ctrl-C" in self.output, "the banner", 90)
        return self.output

    def get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(self.base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log_in(self, username: str, password: str) -> None:
        body = json.dumps({"username": username, "password": password}).encode()
        request = urllib.request.Request(
            self.base + "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self.token = json.loads(response.read())["token"]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=90)
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.output


def available(demo: Demo) -> set[str]:
    try:
        machines = demo.get("/api/machines")
    except OSError:
        return set()
    return {str(m["id"]) for m in machines if m.get("availability") == "AVAILABLE"}


def school_at_work(demo: Demo, found: dict[str, Any]) -> bool:
    """Orders with good parts, several students' logs with cycles, running time in the week's report."""
    orders = demo.get("/api/orders")
    found["good"] = {o["reference"]: demo.get(f"/api/orders/{o['id']}/progress")["good"] for o in orders}
    students = demo.get("/api/students")
    found["logs"] = {s["id"]: demo.get(f"/api/students/{s['id']}/practice-log")["cycles"] for s in students}
    found["running"] = {r["machine"]: r["running_s"] for r in demo.get("/api/reports/oee?period=week")}
    worked = [sid for sid, cycles in found["logs"].items() if cycles > 0]
    return max(found["good"].values()) > 0 and len(worked) >= 3 and sum(found["running"].values()) > 0


def inventory(demo: Demo) -> dict[str, Any]:
    """What the seeding wrote, as the API lists it."""
    return {
        "users": sorted((u["username"], u["role"]) for u in demo.get("/api/users")),
        "students": sorted(
            (s["first_name"], s["last_initial"], s["class_name"], s["badge"]) for s in demo.get("/api/students")
        ),
        "customers": sorted(c["name"] for c in demo.get("/api/customers")),
        "orders": sorted((o["reference"], o["due"], tuple(o["programs"])) for o in demo.get("/api/orders")),
        "tokens": sorted((t["id"], t["label"], t["revoked"]) for t in demo.get("/api/tokens")),
    }  # fmt: skip


def test_the_demo_shows_a_school_at_work_within_two_minutes_and_seeds_it_once(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    demo = Demo(data)
    try:
        banner = demo.banner()
        password = re.search(r"user maitre\s+password (\S+)", banner)
        assert password is not None, banner
        assert "shown this once, stored hashed" in banner
        demo.until(lambda: available(demo) == set(MACHINES), "every simulated machine available")
        demo.log_in("maitre", password[1])
        found: dict[str, Any] = {}
        demo.until(lambda: school_at_work(demo, found), "the school at work", seen=found)
        seeded = inventory(demo)
        assert seeded["users"] == [("maitre", "admin")]
        assert len(seeded["students"]) == 12
        assert {s[2] for s in seeded["students"]} == {"CAP1-A", "BP2-A"}
        assert all(len(s[1]) == 1 for s in seeded["students"])  # an initial, never a last name
        assert len(seeded["customers"]) == 3
        assert len(seeded["orders"]) == 5
        assert all(due is not None for _, due, _ in seeded["orders"])
        made_here = {p for programs in PROGRAMS.values() for p in programs}
        assert all(set(programs) <= made_here for *_, programs in seeded["orders"])
        assert sorted((label, revoked) for _, label, revoked in seeded["tokens"]) == [
            (f"tablette {m}", None) for m in sorted(MACHINES)
        ]
    finally:
        output = demo.stop()
    assert demo.process.returncode == 0, output
    assert output.rstrip().endswith("Stopped.")
    assert "Traceback" not in output
    assert password[1] not in (data / "gateway.sqlite").read_bytes().decode("latin-1")  # stored hashed only
    url = f"file:{data / 'gateway.sqlite'}?mode=ro"
    with contextlib.closing(sqlite3.connect(url, uri=True)) as db:  # the gateway is stopped: its file, read
        assert db.execute("SELECT count(*) FROM work_sessions WHERE ended IS NULL").fetchone() == (0,)

    again = Demo(data)
    try:
        banner = again.banner()
        assert password[1] not in banner
        assert "its password was shown" in banner
        again.log_in("maitre", password[1])
        again.until(lambda: len(again.get("/api/sessions?open_only=true")) >= 3, "students at work again")
        assert inventory(again) == seeded  # nothing twice: the kiosks' tokens too are the same ones
    finally:
        output = again.stop()
    assert again.process.returncode == 0, output
    assert "Traceback" not in output
