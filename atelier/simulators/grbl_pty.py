"""A GRBL 1.1-like controller on a pseudo-terminal, executing streamed G-code in simulated time.

It honours what a sender must respect: the realtime bytes (``?``, ``!``, ``~``,
0x18) outside the line buffer, a 127-byte receive buffer (overflowing bytes are
dropped and counted in ``overflows``, as real GRBL corrupts lines), ``ok`` and
``error:N`` per line, a 15-block planner, ``[MSG:Pgm End]`` on M2/M30, alarms
with the lock-out (error:9 until ``$X``) and the welcome banner on reset. G4
dwells and M2/M30 wait for the planner to empty, with GRBL reporting Idle
meanwhile, as the real firmware does.

``cycles`` records every run: from the first motion after standstill to Pgm End
(completed), a reset (aborted) or an alarm.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from atelier.simulators.device import PtyDevice

BANNER = b"\r\nGrbl 1.1h ['$' for help]\r\n"
RX_SIZE = 127
PLANNER_BLOCKS = 15
RAPID_MM_MIN = 3000.0
_WORD = re.compile(r"([A-Z])([-+]?[0-9]*\.?[0-9]+)")
_SUPPORTED_G = {
    0,
    1,
    2,
    3,
    4,
    17,
    18,
    19,
    20,
    21,
    28,
    30,
    40,
    49,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    61,
    80,
    90,
    91,
    92,
    93,
    94,
}
_SUPPORTED_M = {0, 1, 2, 3, 4, 5, 7, 8, 9, 30}


@dataclass
class SimCycle:
    started: float
    ended: float | None = None
    outcome: str | None = None  # completed, aborted, alarm
    lines: int = 0
    held_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started


@dataclass
class _Block:
    target: tuple[float, float, float]
    feed: float
    dwell_s: float = 0.0


@dataclass
class _Machine:
    state: str = "Idle"
    sub: int | None = None
    pos: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    wco: tuple[float, float, float] = (0.0, 0.0, 0.0)
    feed: float = 0.0
    rpm: float = 0.0
    spindle: str = ""  # "S" cw, "C" ccw
    modal_feed: float = 0.0
    rapid: bool = True


class GrblSimulator(PtyDevice):
    def __init__(self, link: Path | None = None, *, speed: float = 1.0, report_wpos: bool = False) -> None:
        super().__init__(link)
        self.speed = speed  # simulated seconds per real second
        self.report_wpos = report_wpos
        self.cycles: list[SimCycle] = []
        self.overflows = 0
        self.rx_peak = 0
        self.lines_received: list[str] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self.m = _Machine()
        self._rx = bytearray()
        self._planner: deque[_Block] = deque()
        self._waiting: tuple[str, float] | None = None  # ("dwell", seconds) or ("end", 0) until the planner empties
        self._hold_until = 0.0
        self._reports = 0
        self._last = time.monotonic()
        self._held_since: float | None = None

    # --- test hooks -------------------------------------------------------

    def trigger_alarm(self, code: int = 1) -> None:
        """A hard limit switch (ALARM:1) or another alarm: motion stops, everything buffered is lost."""
        with self.lock:
            self._planner.clear()
            self._rx.clear()
            self._waiting = None
            self.m.state, self.m.sub, self.m.feed = "Alarm", None, 0.0
            self.send(f"ALARM:{code}\r\n".encode())
            self._end_cycle("alarm")

    def plugged_in(self) -> None:
        self._reset_state()
        self.send(BANNER)

    @property
    def open_cycle(self) -> SimCycle | None:
        return self.cycles[-1] if self.cycles and self.cycles[-1].ended is None else None

    # --- bytes from the driver ------------------------------------------------

    def received(self, data: bytes) -> None:
        for byte in data:
            if byte in (0x3F, 0x21, 0x7E, 0x18) or byte >= 0x80:
                self._realtime(byte)
            elif len(self._rx) >= RX_SIZE:
                self.overflows += 1
            else:
                self._rx.append(byte)
                self.rx_peak = max(self.rx_peak, len(self._rx))

    def _realtime(self, byte: int) -> None:
        m = self.m
        if byte == 0x3F:
            self.send(self._status().encode())
        elif byte == 0x21 and m.state == "Run":
            m.state, m.sub = "Hold", 1
            self._hold_until = time.monotonic() + 0.05
            self._held_since = time.monotonic()
        elif byte == 0x7E and m.state == "Hold" and m.sub == 0:
            m.state, m.sub = ("Run" if self._planner else "Idle"), None
            cycle = self.open_cycle
            if cycle is not None and self._held_since is not None:
                cycle.held_s += time.monotonic() - self._held_since
            self._held_since = None
        elif byte == 0x18:
            self._soft_reset()

    def _soft_reset(self) -> None:
        moving = self.m.state in ("Run", "Jog") or (self.m.state == "Hold" and self.m.sub == 1)
        pos, alarm = list(self.m.pos), self.m.state == "Alarm"
        self._end_cycle("aborted")
        self._reset_state()
        self.m.pos = pos
        if moving:
            self.send(b"ALARM:3\r\n")
        self.send(BANNER)
        if moving or alarm:
            self.m.state = "Alarm"
            self.send(b"[MSG:'$H'|'$X' to unlock]\r\n")

    def _status(self) -> str:
        m = self.m
        self._reports += 1
        state = f"{m.state}:{m.sub}" if m.sub is not None else m.state
        if self.report_wpos:
            pos = "WPos:" + ",".join(f"{p - o:.3f}" for p, o in zip(m.pos, m.wco, strict=True))
        else:
            pos = "MPos:" + ",".join(f"{p:.3f}" for p in m.pos)
        fields = [state, pos, f"Bf:{PLANNER_BLOCKS - len(self._planner)},{RX_SIZE - len(self._rx)}"]
        fields.append(f"FS:{m.feed:.0f},{m.rpm:.0f}")
        if self._reports % 10 == 1:
            fields.append("WCO:" + ",".join(f"{o:.3f}" for o in m.wco))
        elif self._reports % 10 == 2:
            fields.append("Ov:100,100,100" + (f"|A:{m.spindle}" if m.spindle else ""))
        return "<" + "|".join(fields) + ">\r\n"

    # --- time passes ----------------------------------------------------------

    def tick(self, now: float) -> None:
        dt, self._last = (now - self._last) * self.speed, now
        m = self.m
        if m.state == "Hold" and m.sub == 1 and now >= self._hold_until:
            m.sub, m.feed = 0, 0.0
        if m.state in ("Run", "Idle"):
            self._move(dt)
        self._process_lines()

    def _move(self, dt: float) -> None:
        m = self.m
        while dt > 0 and self._planner:
            block = self._planner[0]
            if self.open_cycle is None and m.state == "Idle":
                self.cycles.append(SimCycle(started=time.monotonic()))
            m.state = "Run"
            dt = self._advance(block, dt)
            if dt > 0 or self._reached(block):
                self._planner.popleft()
        if not self._planner and m.state == "Run":
            m.state, m.feed = "Idle", 0.0
        if self._waiting and not self._planner:
            self._finish_wait(dt)

    def _advance(self, block: _Block, dt: float) -> float:
        distance = math.dist(self.m.pos, block.target)
        step = block.feed / 60.0 * dt
        self.m.feed = block.feed
        if step >= distance:
            self.m.pos = list(block.target)
            return dt - distance / (block.feed / 60.0)
        ratio = step / distance
        self.m.pos = [p + (t - p) * ratio for p, t in zip(self.m.pos, block.target, strict=True)]
        return 0.0

    def _reached(self, block: _Block) -> bool:
        return math.dist(self.m.pos, block.target) < 1e-9

    def _finish_wait(self, dt: float) -> None:
        assert self._waiting is not None
        kind, left = self._waiting
        if kind == "dwell" and left > dt:
            self._waiting = (kind, left - dt)
            return
        self._waiting = None
        if kind == "end":
            self.m.rpm, self.m.spindle = 0.0, ""
            self.send(b"[MSG:Pgm End]\r\n")
            self._end_cycle("completed")
        self.send(b"ok\r\n")

    def _end_cycle(self, outcome: str) -> None:
        cycle = self.open_cycle
        if cycle is not None:
            cycle.ended, cycle.outcome = time.monotonic(), outcome

    # --- the line buffer ------------------------------------------------------

    def _process_lines(self) -> None:
        while self._waiting is None and len(self._planner) < PLANNER_BLOCKS and self.m.state != "Hold":
            end = self._rx.find(b"\n")
            if end < 0:
                return
            raw = bytes(self._rx[:end])
            del self._rx[: end + 1]
            line = raw.decode("ascii", errors="replace").strip().upper().replace(" ", "")
            self.lines_received.append(line)
            if self.open_cycle is not None:
                self.open_cycle.lines += 1
            reply = self._execute(line)
            if reply is not None:
                self.send(reply.encode() + b"\r\n")

    def _execute(self, line: str) -> str | None:  # noqa: PLR0911 - one answer per kind of line
        if not line:
            return "ok"
        if len(line) > 79:
            return "error:11"
        if line.startswith("$"):
            return self._system(line)
        if self.m.state == "Alarm":
            return "error:9"
        words = _WORD.findall(line)
        if not words or "".join(f"{a}{v}" for a, v in words) != line:
            return "error:1"
        for letter, value in words:
            number = float(value)
            if letter == "G" and number not in _SUPPORTED_G:
                return "error:20"
            if letter == "M" and number not in _SUPPORTED_M:
                return "error:20"
        return self._run_words(dict(words))

    def _run_words(self, words: dict[str, str]) -> str | None:
        m = self.m
        if "G" in words:
            g = float(words["G"])
            m.rapid = g == 0 if g in (0, 1, 2, 3) else m.rapid
            if g == 4:
                self._waiting = ("dwell", float(words.get("P", "0")))
                return None
        if "F" in words:
            m.modal_feed = float(words["F"])
        if "S" in words:
            m.rpm = float(words["S"])
        if "M" in words:
            code = float(words["M"])
            if code in (3, 4):
                m.spindle = "S" if code == 3 else "C"
            elif code == 5:
                m.spindle = ""
            elif code in (2, 30):
                self._waiting = ("end", 0.0)
                return None
        if any(axis in words for axis in "XYZ"):
            last = self._planner[-1].target if self._planner else tuple(m.pos)
            target = tuple(float(words.get(a, last[i])) for i, a in enumerate("XYZ"))
            feed = RAPID_MM_MIN if m.rapid else m.modal_feed
            if feed <= 0:
                return "error:22"
            self._planner.append(_Block((target[0], target[1], target[2]), feed))
        return "ok"

    def _system(self, line: str) -> str:
        if line == "$X" and self.m.state == "Alarm":
            self.m.state = "Idle"
            self.send(b"[MSG:Caution: Unlocked]\r\n")
        elif line == "$I":
            self.send(b"[VER:1.1h.20190830:]\r\n[OPT:V,15,128]\r\n")
        elif line == "$G":
            self.send(b"[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]\r\n")
        return "ok"
