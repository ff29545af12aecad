"""A profile file drafted from browsed OPC UA variables, for a workshop master to check and finish.

Pure: variables in, TOML text out. Source keys are the variables' browse names
(made unique with their parent's name); canonical fields get a guessed source
where a browse name looks like a known SINUMERIK, OPC 40501 or generic name,
and a commented placeholder otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Browse-name patterns (lower case, regex) per canonical field, most specific first.
GUESSES: dict[str, tuple[str, ...]] = {
    "execution": (r"^progstatus$", r"^programstate$", r"^currentstate$", r"^channelstate$", r"execution", r"^run$"),
    "mode": (r"^opmode$", r"^channelmode$", r"^operationmode$", r"mode"),
    "program": (r"^progname$", r"^programname$", r"^name$", r"program"),
    "part_count": (r"^actparts$", r"^runscompleted$", r"part.*count|count.*part|parts"),
    "tool": (r"^acttnumber$", r"tool"),
    "spindle_speed": (r"^actspeed$", r"spindle.*speed|speed"),
    "spindle_override": (r"^speedovr$", r"spindle.*override"),
    "feed_rate": (r"^actfeedrateipo$", r"feed.*rate"),
    "feed_override": (r"^feedrateipoovr$", r"feed.*override|feed.*ovr"),
    "alarms": (r"^alarmno$", r"alarm"),
}
VALUE_HINTS = {
    "execution": "ACTIVE, READY, INTERRUPTED, FEED_HOLD, STOPPED, PROGRAM_STOPPED, PROGRAM_COMPLETED",
    "mode": "AUTOMATIC, MANUAL, MANUAL_DATA_INPUT, EDIT, SEMI_AUTOMATIC",
}


@dataclass(frozen=True, slots=True)
class Variable:
    path: tuple[str, ...]  # browse names from the browse start
    node_id: str  # with the namespace as a URI
    data_type: str
    value: Any


def keys_for(variables: list[Variable]) -> dict[str, Variable]:
    """Readable unique source keys: the browse name, prefixed with parents' names where it repeats."""
    out: dict[str, Variable] = {}
    for var in variables:
        for depth in range(1, len(var.path) + 1):
            key = _identifier("_".join(var.path[-depth:]))
            if key not in out:
                out[key] = var
                break
        else:
            out[f"{_identifier(var.path[-1])}_{len(out)}"] = var
    return out


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "node"


def guess(keys: dict[str, Variable]) -> dict[str, str]:
    """A likely source key per canonical field (each key used once)."""
    chosen: dict[str, str] = {}
    for field, patterns in GUESSES.items():
        for pattern in patterns:
            match = next(
                (k for k, v in keys.items() if k not in chosen.values() and re.search(pattern, v.path[-1].lower())),
                None,
            )
            if match is not None:
                chosen[field] = match
                break
    return chosen


def skeleton(url: str, variables: list[Variable]) -> str:
    keys = keys_for(variables)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Profile skeleton written by 'atelier edge browse' from {url} on {stamp}.",
        "# Check every guessed signal, fill in the value maps, delete the nodes you do not need.",
        "",
        "[profile]",
        f"name = {json.dumps('New OPC UA control (' + url + ')')}",
        'driver = "opcua"',
        "verified = false",
        'notes = "Drafted by atelier edge browse; signals and value maps not checked yet."',
        "",
        "[options]",
        'mode = "subscribe"',
        "",
        "[options.nodes]",
    ]
    for key, var in keys.items():
        lines.append(f"{key} = {json.dumps(var.node_id)}  # {var.data_type}, was {_comment(var.value)}")
    chosen = guess(keys)
    for field in GUESSES:
        lines.append("")
        prefix = "" if field in chosen else "# "
        lines.append(f"{prefix}[signals.{field}]")
        lines.append(f"{prefix}source = {json.dumps(chosen.get(field, 'KEY_FROM_OPTIONS_NODES'))}")
        if field in VALUE_HINTS:
            lines.append(f"{prefix}map = {{}}  # raw value -> {VALUE_HINTS[field]}")
    return "\n".join(lines) + "\n"


def _comment(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."
