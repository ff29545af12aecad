"""GRBL 1.1 output parser: status reports, responses and push messages. Pure, no I/O.

``parse_line`` classifies one line that GRBL printed; ``GrblReadings`` turns
the classified messages into raw readings, remembering what GRBL only sends
now and then (the work offset, the alarm that is still active).

Reading keys: ``state`` (Idle, Run, Hold, Door, Alarm...), ``substate``
(the n of Hold:n/Door:n, else None), ``mpos_x|y|z[|a]``, ``wpos_*``, ``wco_*``,
``feed``, ``rpm``, ``ov_feed``, ``ov_rapid``, ``ov_spindle``, ``spindle``
(cw, ccw, off), ``coolant`` (flood, mist, flood+mist, off), ``pins``,
``ln``, ``bf_blocks``, ``bf_bytes``, ``alarm`` ({code, message,
severity} while GRBL is in alarm, None once cleared), ``error`` (the last error:N), ``pgm_end`` and ``reset``
(markers, value True), ``message`` (other [MSG:...] text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge_agent.drivers import Reading

ALARMS: dict[int, str] = {
    1: "Hard limit triggered; position likely lost, re-homing recommended",
    2: "Soft limit: motion target exceeds machine travel",
    3: "Reset while in motion; position likely lost, re-homing recommended",
    4: "Probe fail: probe not in the expected initial state",
    5: "Probe fail: probe did not contact the workpiece",
    6: "Homing fail: the homing cycle was reset",
    7: "Homing fail: safety door opened during homing",
    8: "Homing fail: pull-off travel failed to clear the limit switch",
    9: "Homing fail: limit switch not found within search distance",
    10: "Homing fail: second dual-axis limit switch not triggered",
}

ERRORS: dict[int, str] = {
    1: "Expected command letter",
    2: "Bad number format",
    3: "Invalid $ statement",
    4: "Negative value",
    5: "Homing not enabled",
    6: "Step pulse must be at least 3 microseconds",
    7: "EEPROM read failed; defaults restored",
    8: "$ command only valid when idle",
    9: "G-code locked out during alarm or jog",
    10: "Soft limits require homing",
    11: "Line too long (max 80 characters)",
    12: "Step rate too high",
    13: "Safety door opened",
    14: "Line length exceeded (EEPROM)",
    15: "Jog target exceeds machine travel",
    16: "Invalid jog command",
    17: "Laser mode requires PWM output",
    20: "Unsupported or invalid G-code command",
    21: "Modal group violation",
    22: "Feed rate not set",
    23: "Command requires an integer value",
    24: "Two commands both need axis words",
    25: "Repeated G-code word",
    26: "Axis words required but missing",
    27: "Line number out of range",
    28: "Missing P or L value",
    29: "Unsupported work coordinate system",
    30: "G53 requires G0 or G1",
    31: "Unused axis words with G80",
    32: "Arc without axis words in the plane",
    33: "Invalid motion target",
    34: "Arc radius error",
    35: "Arc missing IJK offset",
    36: "Unused G-code words",
    37: "G43.1 offset on a non-configured axis",
    38: "Tool number too large",
}

STATES = ("Idle", "Run", "Hold", "Jog", "Alarm", "Door", "Check", "Home", "Sleep")
AXES = ("x", "y", "z", "a", "b", "c")
_BANNER = re.compile(r"^Grbl\s+(\S+)\s+\[.*help\]")
_ACCESSORIES = {"S": "cw", "C": "ccw"}


class GrblParseError(ValueError):
    """A line that looked like GRBL output but is malformed (noise, a wrong baud rate)."""


@dataclass(frozen=True, slots=True)
class Status:
    state: str
    substate: int | None
    mpos: tuple[float, ...] | None = None
    wpos: tuple[float, ...] | None = None
    wco: tuple[float, ...] | None = None
    feed: float | None = None
    rpm: float | None = None
    overrides: tuple[int, int, int] | None = None
    accessories: str | None = None  # "" when Ov: came without A: (everything off)
    pins: str | None = None
    line: int | None = None
    buffer: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Ok:
    pass


@dataclass(frozen=True, slots=True)
class Error:
    code: int

    @property
    def text(self) -> str:
        return ERRORS.get(self.code, f"error {self.code}")


@dataclass(frozen=True, slots=True)
class AlarmMsg:
    code: int

    @property
    def text(self) -> str:
        return ALARMS.get(self.code, f"alarm {self.code}")


@dataclass(frozen=True, slots=True)
class Banner:
    version: str


@dataclass(frozen=True, slots=True)
class Feedback:
    """A bracketed push message: ``[MSG:Pgm End]`` -> kind MSG, text "Pgm End"."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class StartupEcho:
    line: str


Message = Status | Ok | Error | AlarmMsg | Banner | Feedback | StartupEcho


def parse_line(line: str) -> Message | None:  # noqa: PLR0911 - one return per kind of line
    """Classify one line (without its line end); None for a blank line, GrblParseError for noise."""
    text = line.strip()
    if not text:
        return None
    if text == "ok":
        return Ok()
    if text.startswith("<") and text.endswith(">"):
        return parse_status(text)
    if text.startswith("error:"):
        return Error(_int(text[6:], text))
    if text.startswith("ALARM:"):
        return AlarmMsg(_int(text[6:], text))
    if text.startswith("[") and text.endswith("]"):
        kind, _, body = text[1:-1].partition(":")
        return Feedback(kind, body)
    if text.startswith(">") and text.endswith(":ok"):
        return StartupEcho(text[1:-3])
    banner = _BANNER.match(text)
    if banner:
        return Banner(banner.group(1))
    raise GrblParseError(f"not a GRBL line: {text[:60]!r}")


def parse_status(text: str) -> Status:
    """Parse ``<State|MPos:...|...>``; state and position first, other fields in any order."""
    fields = text.strip()[1:-1].split("|")
    if len(fields) < 2:
        raise GrblParseError(f"status report without position: {text[:60]!r}")
    state, substate = _state(fields[0], text)
    values: dict[str, Any] = {}
    for field in fields[1:]:
        name, sep, raw = field.partition(":")
        if not sep:
            raise GrblParseError(f"status field without ':' in {text[:60]!r}")
        _field(name, raw, values, text)
    if "mpos" not in values and "wpos" not in values:
        raise GrblParseError(f"status report without MPos or WPos: {text[:60]!r}")
    return Status(state=state, substate=substate, **values)


def _state(field: str, text: str) -> tuple[str, int | None]:
    name, _, sub = field.partition(":")
    if name not in STATES:
        raise GrblParseError(f"unknown GRBL state {name!r} in {text[:60]!r}")
    return name, (_int(sub, text) if sub else None)


def _field(name: str, raw: str, values: dict[str, Any], text: str) -> None:
    match name:
        case "MPos" | "WPos" | "WCO":
            values[name.lower()] = _floats(raw, text)
        case "FS":
            feed, rpm = _floats(raw, text, count=2)
            values["feed"], values["rpm"] = feed, rpm
        case "F":
            values["feed"] = _floats(raw, text, count=1)[0]
        case "Ov":
            feed, rapid, spindle = (int(v) for v in _floats(raw, text, count=3))
            values["overrides"] = (feed, rapid, spindle)
            values.setdefault("accessories", "")
        case "A":
            values["accessories"] = raw
        case "Pn":
            values["pins"] = raw
        case "Ln":
            values["line"] = _int(raw, text)
        case "Bf":
            blocks, size = (int(v) for v in _floats(raw, text, count=2))
            values["buffer"] = (blocks, size)
        case _:
            pass  # fields of newer firmware: ignored, not an error


def _floats(raw: str, text: str, count: int | None = None) -> tuple[float, ...]:
    try:
        numbers = tuple(float(v) for v in raw.split(","))
    except ValueError as err:
        raise GrblParseError(f"bad number in {text[:60]!r}") from err
    if (count is not None and len(numbers) != count) or not 1 <= len(numbers) <= len(AXES):
        raise GrblParseError(f"wrong number of values in {text[:60]!r}")
    return numbers


def _int(raw: str, text: str) -> int:
    try:
        return int(raw)
    except ValueError as err:
        raise GrblParseError(f"bad number in {text[:60]!r}") from err


class GrblReadings:
    """Turns parsed messages into readings; remembers the work offset and the active alarm."""

    def __init__(self) -> None:
        self.wco: tuple[float, ...] | None = None
        self.alarm: int | None = None

    def readings(self, message: Message, ts: datetime) -> list[Reading]:
        out: list[Reading] = []
        match message:
            case Status():
                out = self._status(message, ts)
            case AlarmMsg(code):
                self.alarm = code
                alarm = {"code": f"ALARM:{code}", "message": message.text, "severity": "fault"}
                out = [Reading("alarm", alarm, ts)]
            case Error(code):
                out = [Reading("error", f"error:{code} {message.text}", ts)]
            case Banner():
                self.wco = None
                out = [Reading("reset", True, ts)]
            case Feedback("MSG", "Pgm End"):
                out = [Reading("pgm_end", True, ts)]
            case Feedback("MSG", text):
                out = [Reading("message", text, ts)]
        return out

    def _status(self, status: Status, ts: datetime) -> list[Reading]:
        out = [Reading("state", status.state, ts), Reading("substate", status.substate, ts)]
        if status.wco is not None:
            self.wco = status.wco
            out += _axes("wco", status.wco, ts)
        mpos, wpos = status.mpos, status.wpos
        if self.wco is not None:
            if mpos is None and wpos is not None:
                mpos = tuple(w + o for w, o in zip(wpos, self.wco, strict=False))
            elif wpos is None and mpos is not None:
                wpos = tuple(m - o for m, o in zip(mpos, self.wco, strict=False))
        out += _axes("mpos", mpos, ts) + _axes("wpos", wpos, ts)
        out += _optional(status, ts)
        if status.state == "Alarm" and self.alarm is not None:
            return out
        if status.state != "Alarm" and self.alarm is not None:
            self.alarm = None
            out.append(Reading("alarm", None, ts))
        return out


def _axes(prefix: str, values: tuple[float, ...] | None, ts: datetime) -> list[Reading]:
    if values is None:
        return []
    return [Reading(f"{prefix}_{axis}", round(v, 4), ts) for axis, v in zip(AXES, values, strict=False)]


def _optional(status: Status, ts: datetime) -> list[Reading]:
    out: list[Reading] = []
    if status.feed is not None:
        out.append(Reading("feed", status.feed, ts))
    if status.rpm is not None:
        out.append(Reading("rpm", status.rpm, ts))
    if status.overrides is not None:
        feed, rapid, spindle = status.overrides
        out += [Reading("ov_feed", feed, ts), Reading("ov_rapid", rapid, ts), Reading("ov_spindle", spindle, ts)]
    if status.accessories is not None:
        out += _accessories(status.accessories, ts)
    out.append(Reading("pins", status.pins or "", ts))
    if status.line is not None:
        out.append(Reading("ln", status.line, ts))
    if status.buffer is not None:
        out += [Reading("bf_blocks", status.buffer[0], ts), Reading("bf_bytes", status.buffer[1], ts)]
    return out


def _accessories(flags: str, ts: datetime) -> list[Reading]:
    spindle = next((_ACCESSORIES[f] for f in flags if f in _ACCESSORIES), "off")
    coolant = "+".join(name for flag, name in (("F", "flood"), ("M", "mist")) if flag in flags) or "off"
    return [Reading("spindle", spindle, ts), Reading("coolant", coolant, ts)]
