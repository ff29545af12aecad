"""A retrofit sensor box on a pseudo-terminal, speaking the line format of docs/linebox.md.

It sends ``hello=linebox fw=1.0`` when (re)plugged, a full report on every
change and a heartbeat every ``heartbeat_s``. ``spindle(True)``, ``press_part()``
and ``door(True)`` act on it like the operator would; with ``auto=True`` it
runs spindle sessions of ``on_s`` every ``off_s`` by itself, pressing the part
button at the end of each. ``sessions`` records them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from atelier.simulators.device import PtyDevice


class LineboxSimulator(PtyDevice):
    def __init__(
        self,
        link: Path | None = None,
        *,
        sensor: Literal["current", "switch"] = "current",
        heartbeat_s: float = 0.5,
        auto: bool = False,
        on_s: float = 1.0,
        off_s: float = 1.0,
    ) -> None:
        super().__init__(link)
        self.sensor = sensor
        self.heartbeat_s = heartbeat_s
        self.auto, self.on_s, self.off_s = auto, on_s, off_s
        self.sessions: list[tuple[float, float]] = []
        self.parts = 0
        self._on_since: float | None = None
        self._door = False
        self._booted = time.monotonic()
        self._last_report = 0.0
        self._last_change = time.monotonic()

    def received(self, data: bytes) -> None:
        """The box only talks; whatever the agent sends is ignored."""

    def plugged_in(self) -> None:
        self.parts, self._booted = 0, time.monotonic()
        self.send(b"hello=linebox fw=1.0\r\n")

    def spindle(self, on: bool) -> None:
        with self.lock:
            now = time.monotonic()
            if on and self._on_since is None:
                self._on_since = now
            elif not on and self._on_since is not None:
                self.sessions.append((self._on_since, now))
                self._on_since = None
            self._last_change = now
            self._report(now)

    def press_part(self) -> None:
        with self.lock:
            self.parts += 1
            self._report(time.monotonic())

    def door(self, open_: bool) -> None:
        with self.lock:
            self._door = open_
            self._report(time.monotonic())

    def inject(self, data: bytes) -> None:
        with self.lock:
            self.send(data)

    def tick(self, now: float) -> None:
        if self.auto:
            running = self._on_since is not None
            if running and now - self._last_change >= self.on_s:
                self.spindle(False)
                self.press_part()
            elif not running and now - self._last_change >= self.off_s:
                self.spindle(True)
        if now - self._last_report >= self.heartbeat_s:
            self._report(now)

    def _report(self, now: float) -> None:
        on = self._on_since is not None
        state = f"current={4.8 if on else 0.1:.2f}" if self.sensor == "current" else f"spindle={int(on)}"
        up = int((now - self._booted) * 1000)
        self.send(f"{state} parts={self.parts} door={int(self._door)} up={up}\r\n".encode())
        self._last_report = now
