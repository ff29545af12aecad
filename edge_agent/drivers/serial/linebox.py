"""Lines from a retrofit sensor box on a conventional machine. Pure, no I/O.

The format is documented in docs/linebox.md: ASCII lines ending in LF (CR is
ignored), each holding one or more ``key=value`` pairs separated by spaces::

    hello=linebox fw=1.0
    spindle=1 current=4.82 parts=17 door=0 up=123456

Keys: ``spindle`` (0/1, from a relay or switch), ``current`` (spindle motor
current in amperes), ``parts`` (push-button count since the box started),
``door`` (0 closed, 1 open), ``up`` (milliseconds since the box started),
``hello`` (sent once at boot: the box restarted, its counter is back to 0),
``fw`` (firmware version). Unknown keys are skipped so that newer boxes work
with older agents; a line with a malformed value is rejected whole.

Reading keys: ``spindle`` (on/off; derived from ``current`` with hysteresis
when the box has no ``spindle`` input), ``current``, ``parts``, ``door``
(open/closed), ``reset`` (True on ``hello``), ``firmware``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from edge_agent.drivers import Reading

MAX_LINE = 120
_PAIR = re.compile(r"^([a-z][a-z0-9_]{0,15})=([A-Za-z0-9._+-]{1,32})$")
KNOWN = ("spindle", "current", "parts", "door", "up", "hello", "fw")


class LineboxParseError(ValueError):
    """A line that is not valid box output (noise, wrong baud rate, cut line)."""


def parse_line(line: str) -> dict[str, str]:
    """``"spindle=1 parts=3"`` -> ``{"spindle": "1", "parts": "3"}``; values checked for known keys."""
    text = line.strip()
    if not text or len(text) > MAX_LINE:
        raise LineboxParseError(f"line empty or too long ({len(text)} characters)")
    pairs: dict[str, str] = {}
    for token in text.split():
        match = _PAIR.match(token)
        if not match:
            raise LineboxParseError(f"not key=value: {token[:40]!r}")
        pairs[match.group(1)] = match.group(2)
    for key in ("spindle", "door"):
        if key in pairs and pairs[key] not in ("0", "1"):
            raise LineboxParseError(f"{key} must be 0 or 1, not {pairs[key]!r}")
    for key in ("parts", "up"):
        if key in pairs and not pairs[key].isdigit():
            raise LineboxParseError(f"{key} must be a whole number, not {pairs[key]!r}")
    if "current" in pairs:
        _amps(pairs["current"])
    if not any(key in KNOWN for key in pairs):
        raise LineboxParseError(f"no known key in {text[:40]!r}")
    return pairs


def _amps(value: str) -> float:
    try:
        amps = float(value)
    except ValueError as err:
        raise LineboxParseError(f"current must be a number of amperes, not {value!r}") from err
    if not 0 <= amps < 1000:
        raise LineboxParseError(f"current out of range: {value!r}")
    return amps


@dataclass
class LineboxReadings:
    """Readings from parsed lines; the spindle counts as on from ``on_a`` amperes until below ``off_a``."""

    on_a: float = 1.0
    off_a: float = 0.6
    spindle_on: bool = False

    def readings(self, pairs: dict[str, str], ts: datetime) -> list[Reading]:
        out: list[Reading] = []
        if "hello" in pairs:
            out.append(Reading("reset", True, ts))
        if "fw" in pairs:
            out.append(Reading("firmware", pairs["fw"], ts))
        if "current" in pairs:
            amps = _amps(pairs["current"])
            out.append(Reading("current", amps, ts))
            if "spindle" not in pairs:
                self.spindle_on = amps >= self.on_a or (self.spindle_on and amps >= self.off_a)
                out.append(Reading("spindle", "on" if self.spindle_on else "off", ts))
        if "spindle" in pairs:
            self.spindle_on = pairs["spindle"] == "1"
            out.append(Reading("spindle", "on" if self.spindle_on else "off", ts))
        if "parts" in pairs:
            out.append(Reading("parts", int(pairs["parts"]), ts))
        if "door" in pairs:
            out.append(Reading("door", "open" if pairs["door"] == "1" else "closed", ts))
        return out
