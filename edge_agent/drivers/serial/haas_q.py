"""Haas machine data collection (Setting 143) "Q command" replies. Pure, no I/O.

Two framings reach ``Framer``: on RS-232 a reply sits between STX (0x02) and
ETB (0x17) and the control echoes the request line outside the frame; over TCP
(NGC) a reply is ``>`` + payload + CR LF followed by a ``>`` prompt. Either way
the payload is trimmed of ``>``, STX, ETB, CR, LF and spaces and split on ", ".

A control accepts two connections and sends every reply to both, so replies
are matched to requests by their label (``PROGRAM``/``STATUS`` for Q500,
``MODE`` for Q104...); a reply whose label belongs to another command was asked
for by the other client and is ignored.

Reading keys: ``q500_program``, ``q500_status`` (IDLE, FEED HOLD, ALARM ON, or
BUSY while running), ``q500_parts``, ``q500_alarm`` (an alarm while the
status is ALARM ON, else None), ``q104_mode`` (MEM, MDI, JOG, ZERO RET...),
``q303_last_cycle_s``, ``q304_prev_cycle_s``, ``q402_m30_1``, ``q403_m30_2``,
``q300_power_on_s``, ``q301_motion_s``, ``q201_tool``, ``q200_tool_changes``,
``q100_serial``, ``q101_software``, ``q102_model`` and ``q600_<var>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edge_agent.drivers import Reading

STX, ETB = 0x02, 0x17
_TRIM = "> \r\n\x02\x17"
MAX_FRAME = 512  # longer than any reply: anything beyond is noise
ERROR_WORDS = ("UNKNOWN", "INVALID NUMBER")

Framing = Literal["stx-etb", "prompt"]


class HaasReplyError(ValueError):
    """The control refused a command (UNKNOWN, INVALID NUMBER, ``?``) or the reply is malformed."""


@dataclass(frozen=True, slots=True)
class Reply:
    label: str
    fields: tuple[str, ...]


def parse_reply(text: str) -> Reply:
    """Split one trimmed payload; raise HaasReplyError for the control's error replies."""
    payload = text.strip(_TRIM)
    if not payload:
        raise HaasReplyError("empty reply")
    if payload.startswith("?") or payload.upper() in ERROR_WORDS:
        raise HaasReplyError(f"control refused the command: {payload[:60]!r}")
    label, *fields = (part.strip() for part in payload.split(", "))
    if not fields:
        raise HaasReplyError(f"reply without a value: {payload[:60]!r}")
    return Reply(label.upper(), tuple(fields))


class Framer:
    """Cuts the byte stream into reply payloads; bytes outside a frame are counted as noise."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        self._buffer = bytearray()
        self.noise_bytes = 0

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        frames = self._stx_etb() if self.framing == "stx-etb" else self._prompt()
        if len(self._buffer) > MAX_FRAME:
            self.noise_bytes += len(self._buffer)
            self._buffer.clear()
        return frames

    def _stx_etb(self) -> list[str]:
        frames: list[str] = []
        while (end := self._buffer.find(ETB)) >= 0:
            chunk = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            start = chunk.rfind(STX)
            self._count_noise(chunk if start < 0 else chunk[:start])
            if start >= 0:
                frames.append(_text(chunk[start + 1 :]))
        start = self._buffer.rfind(STX)
        if start > 0:  # text before an unfinished frame: the echoed request or noise
            self._count_noise(bytes(self._buffer[:start]))
            del self._buffer[:start]
        elif start < 0 and (newline := self._buffer.rfind(b"\n")) >= 0:
            self._count_noise(bytes(self._buffer[: newline + 1]))
            del self._buffer[: newline + 1]
        return frames

    def _prompt(self) -> list[str]:
        frames: list[str] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            text = _text(bytes(self._buffer[:end]))
            del self._buffer[: end + 1]
            if text:
                frames.append(text)
        return frames

    def _count_noise(self, chunk: bytes) -> None:
        text = _text(chunk)
        # The RS-232 control echoes each request ("Q500"): expected, not noise.
        if text and not all(line.strip().upper().startswith(("Q", "?Q")) for line in text.splitlines()):
            self.noise_bytes += len(chunk)


def _text(chunk: bytes) -> str:
    return chunk.decode("ascii", errors="replace").strip(_TRIM)


def request(command: str, framing: Framing) -> bytes:
    """``?Q500\\r\\n`` over TCP (as TrakHound and Lemoine send), ``Q500\\r\\n`` on RS-232."""
    return (f"?{command}" if framing == "prompt" else command).encode("ascii") + b"\r\n"


def _hms(value: str) -> float:
    hours, minutes, seconds = (int(v) for v in value.split(":"))
    return float(hours * 3600 + minutes * 60 + seconds)


def _int(value: str) -> int:
    return int(value.split(".", maxsplit=1)[0])


def _mode(value: str) -> str:
    return value.strip("()").upper()


# command -> (labels it answers with, reading key, value conversion of the last field)
_SIMPLE: dict[str, tuple[str, str, Callable[[str], object]]] = {
    "Q100": ("SERIAL NUMBER", "q100_serial", str),
    "Q101": ("SOFTWARE VERSION", "q101_software", str),
    "Q102": ("MODEL", "q102_model", str),
    "Q104": ("MODE", "q104_mode", _mode),
    "Q200": ("TOOL CHANGES", "q200_tool_changes", _int),
    "Q201": ("USING TOOL", "q201_tool", str),
    "Q300": ("P.O. TIME", "q300_power_on_s", _hms),
    "Q301": ("C.S. TIME", "q301_motion_s", _hms),
    "Q303": ("LAST CYCLE", "q303_last_cycle_s", _hms),
    "Q304": ("PREV CYCLE", "q304_prev_cycle_s", _hms),
    "Q402": ("M30 #1", "q402_m30_1", _int),
    "Q403": ("M30 #2", "q403_m30_2", _int),
}
COMMANDS = (*_SIMPLE, "Q500", "Q600")
# Q500 says only that an alarm is on, not which: one alarm stands for all.
_ALARM = {"code": "ALARM ON", "message": "alarm on the control (Q500)", "severity": "fault"}


def labels(command: str) -> tuple[str, ...]:
    base = command.split(maxsplit=1)[0]
    if base == "Q500":
        return ("PROGRAM", "STATUS")
    if base == "Q600":
        return ("MACRO",)
    return (_SIMPLE[base][0],)


def answers(command: str, reply: Reply) -> bool:
    """True when ``reply`` is the answer to ``command`` (and not to another client's request)."""
    return reply.label in labels(command)


def readings(command: str, reply: Reply, ts: datetime) -> list[Reading]:
    """Readings from the reply to ``command``; HaasReplyError when its values are malformed."""
    try:
        return _readings(command, reply, ts)
    except (ValueError, IndexError) as err:
        raise HaasReplyError(f"malformed reply to {command}: {reply}") from err


def _readings(command: str, reply: Reply, ts: datetime) -> list[Reading]:
    base, _, argument = command.partition(" ")
    if base == "Q500":
        if reply.label == "STATUS":  # "STATUS, BUSY" while the program runs
            return [Reading("q500_status", reply.fields[0].upper(), ts), Reading("q500_alarm", None, ts)]
        program, status, _, parts = reply.fields[:4]
        return [
            Reading("q500_program", program, ts),
            Reading("q500_status", status.upper(), ts),
            Reading("q500_parts", _int(parts), ts),
            Reading("q500_alarm", _ALARM if status.upper() == "ALARM ON" else None, ts),
        ]
    if base == "Q600":
        return [Reading(f"q600_{argument.strip()}", float(reply.fields[-1]), ts)]
    _, key, convert = _SIMPLE[base]
    return [Reading(key, convert(reply.fields[-1]), ts)]
