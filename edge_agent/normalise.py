"""Raw readings to canonical ``MachineState``: profile mapping, value maps, scaling and type coercion.

Pure apart from logging. With a profile, a reading whose key is some signal's
``source`` becomes that signal's target field (value map first, then scale and
offset). A reading whose key is already a canonical field name and is claimed by
no signal passes through unchanged: that is how drivers without a profile (the
simulator) and the ``availability`` readings of ``pipeline`` (link up, link lost) get in. Values that
cannot be coerced to the field's type are dropped with one warning per
(field, value); nothing here raises on bad data.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError

from edge_agent.contract import Alarm, Availability, Execution, MachineState, Mode
from edge_agent.drivers import Batch
from edge_agent.observations import Observation
from edge_agent.profiles import MARKERS, TARGETS, Profile, SignalMap

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=StrEnum)

# Enough to cover every real signal; past it a flapping bad value must not grow memory forever.
_MAX_WARNED = 1024
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class _UnusableError(ValueError):
    """A value that cannot become the target field's type (internal, never escapes)."""


_DROP = object()


def _enum(kind: type[E]) -> Callable[[Any], E]:
    def coerce(value: Any) -> E:
        if isinstance(value, kind):
            return value
        if isinstance(value, str):
            try:
                return kind(value.strip().upper())
            except ValueError:
                pass
        raise _UnusableError

    return coerce


def _text(max_length: int) -> Callable[[Any], str | None]:
    def coerce(value: Any) -> str | None:
        if isinstance(value, bool):
            raise _UnusableError
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            raise _UnusableError
        text = value.strip()
        if len(text) > max_length:
            raise _UnusableError
        return text or None

    return coerce


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _UnusableError
    if isinstance(value, int):
        return value
    number = _number(value)
    if not number.is_integer():
        raise _UnusableError
    return int(number)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise _UnusableError
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError as err:
            raise _UnusableError from err
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise _UnusableError
    return float(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _UnusableError


def _alarms(value: Any) -> tuple[Alarm, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, Alarm | dict | str) else value
    if not isinstance(items, list | tuple):
        raise _UnusableError
    try:
        return tuple(_alarm(item) for item in items)
    except ValidationError as err:
        raise _UnusableError from err


def _alarm(item: Any) -> Alarm:
    if isinstance(item, Alarm):
        return item
    if isinstance(item, str):
        return Alarm(code=item.strip())
    if isinstance(item, dict):
        return Alarm.model_validate(item)
    raise _UnusableError


# One coercer per canonical target: a new field is a new row.
COERCERS: dict[str, Callable[[Any], Any]] = {
    "availability": _enum(Availability),
    "execution": _enum(Execution),
    "mode": _enum(Mode),
    "program": _text(256),
    "line": _integer,
    "part_count": _integer,
    "tool": _text(64),
    "spindle_speed": _number,
    "spindle_load": _number,
    "feed_rate": _number,
    "feed_override": _number,
    "spindle_override": _number,
    "alarms": _alarms,
    "emergency_stop": _flag,
    "program_end": _flag,
    "control_reset": _flag,
}
_NOT_NULL = frozenset({"availability", "alarms"})
_INTEGERS = frozenset({"line", "part_count"})


@dataclass(frozen=True, slots=True)
class Normalised:
    """What one batch says: canonical values of the fields it carried, and its markers."""

    ts: datetime
    values: dict[str, Any]
    markers: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Route:
    target: str
    signal: SignalMap | None
    unless: tuple[str, ...] = ()  # the sources this fallback stands in for: once one of them is seen, it is not used


class Normaliser:
    def __init__(self, profile: Profile | None) -> None:
        self._routes: dict[str, list[_Route]] = {}
        if profile is not None:
            for target, signal in profile.signals.items():
                chain = signal.chain()
                for n, choice in enumerate(chain):
                    before = tuple(earlier.source for earlier in chain[:n])
                    self._routes.setdefault(choice.source, []).append(_Route(target, choice, before))
        for name in TARGETS:
            self._routes.setdefault(name, [_Route(name, None)])
        # Sources that some fallback stands in for, once seen: a control that has the node once has it.
        self._preferred = {source for routes in self._routes.values() for route in routes for source in route.unless}
        self._seen: set[str] = set()
        self._warned: set[tuple[str, str]] = set()
        self._ignored: set[str] = set()

    def apply(self, state: MachineState, batch: Batch) -> Observation:
        """The state after ``batch``; ``batch`` must not be empty (its latest ts is the observation's)."""
        read = self.read(batch)
        return Observation(ts=read.ts, state=state.model_copy(update=read.values), markers=read.markers)

    def read(self, batch: Batch) -> Normalised:
        if not batch:
            raise ValueError("an empty batch has no time stamp")
        values: dict[str, Any] = {}
        markers: set[str] = set()
        # Seen before the batch is mapped: the preferred source wins whatever the order within a batch.
        self._seen.update(reading.key for reading in batch if reading.key in self._preferred)
        for reading in batch:
            routes = self._routes.get(reading.key)
            if routes is None:
                self._note_ignored(reading.key)
                continue
            for route in routes:
                if any(source in self._seen for source in route.unless):
                    continue
                target, signal = route.target, route.signal
                value = self._convert(target, signal, reading.value)
                if value is _DROP:
                    continue
                if target in MARKERS:
                    if value:
                        markers.add(target)
                else:
                    values[target] = value
        return Normalised(ts=max(r.ts for r in batch), values=values, markers=frozenset(markers))

    def _convert(self, target: str, signal: SignalMap | None, raw: Any) -> Any:
        value = raw
        if signal is not None and signal.map:
            value = _lookup(signal.map, raw, _DROP if signal.unmapped == "drop" else raw)
            if value is _DROP:
                return _DROP
        if value is None and target not in _NOT_NULL:
            return None
        try:
            value = COERCERS[target](value)
            if signal is not None and (signal.scale != 1.0 or signal.offset != 0.0):
                value = _scaled(target, value, signal)
        except _UnusableError:
            self._warn(target, raw)
            return _DROP
        return value

    def _warn(self, target: str, raw: Any) -> None:
        key = (target, repr(raw)[:200])
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(key)
        logger.warning("dropped value %r for %s: cannot be read as that field's type", raw, target)

    def _note_ignored(self, key: str) -> None:
        if key not in self._ignored and len(self._ignored) < _MAX_WARNED:
            self._ignored.add(key)
            logger.debug("ignoring reading %r: no profile signal maps it", key)


def _lookup(table: dict[str, Any], raw: Any, default: Any) -> Any:
    """Value-map lookup by the raw value's text (``1.0`` matches ``"1"``, ``True`` matches ``"true"``)."""
    if isinstance(raw, bool):
        keys: tuple[str, ...] = ("true" if raw else "false", str(raw))
    elif isinstance(raw, float) and raw.is_integer():
        keys = (str(int(raw)), str(raw))
    elif isinstance(raw, str):
        keys = (raw, raw.strip())
    else:
        keys = (str(raw),)
    for key in keys:
        if key in table:
            return table[key]
    return default


def _scaled(target: str, value: Any, signal: SignalMap) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    result = value * signal.scale + signal.offset
    if not math.isfinite(result):
        raise _UnusableError
    return round(result) if target in _INTEGERS else float(result)
