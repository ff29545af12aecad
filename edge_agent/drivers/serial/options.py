"""Options of the ``serial`` driver, one model per dialect, checked once when the driver is built.

A profile gives the defaults (dialect, line settings, poll rate, commands) and a
machine's ``options`` table adds where the machine is (``port``) and overrides
the rest. Line settings come from ``serial_link.LineSettings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from edge_agent.drivers.serial import haas_q
from edge_agent.drivers.serial.link import LineSettings
from plumbing import tomlconfig
from plumbing.tomlconfig import ConfigError, Problem

# A Unix socket path longer than this cannot be bound (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107


class GrblOptions(LineSettings):
    dialect: Literal["grbl"]
    baudrate: int = 115200
    poll_interval_s: float = Field(default=0.2, ge=0.2, le=10, description="status polls; GRBL asks for 5 Hz at most")
    stop_timeout_s: float = Field(default=10.0, gt=0, description="feed hold to standstill before the soft reset")
    control_socket: Path | None = Field(default=None, description="where 'atelier edge send' reaches this machine")
    state_dir: Path | None = Field(default=None, description="set by the agent: the control socket goes under it")

    def socket_path(self, machine_id: str) -> Path | None:
        if self.control_socket is not None:
            return self.control_socket
        return control_socket_path(self.state_dir, machine_id) if self.state_dir is not None else None


def control_socket_path(state_dir: Path, machine_id: str) -> Path:
    """The one place that says where a GRBL machine's control socket lives under the agent's state_dir."""
    return state_dir / "control" / f"{machine_id}.sock"


class HaasOptions(LineSettings):
    dialect: Literal["haas-q"]
    framing: Literal["auto", "stx-etb", "prompt"] = Field(
        default="auto", description="auto: '>' prompt over socket://, STX/ETB on a serial line"
    )
    poll_interval_s: float = Field(default=1.0, ge=0.1, le=600, description="time between polling rounds")
    reply_timeout_s: float = Field(default=2.0, gt=0, le=60)
    # Q500 before Q402: a program ending between the two is then seen as BUSY plus a counter step.
    commands: tuple[str, ...] = ("Q104", "Q500", "Q402", "Q403", "Q303", "Q304", "Q201", "Q300", "Q301")
    macros: tuple[int, ...] = Field(default=(), description="macro variables read with Q600 each round")

    @field_validator("commands")
    @classmethod
    def _known_commands(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in haas_q.COMMANDS or c == "Q600"]
        if unknown:
            raise ValueError(f"unknown Q commands {unknown}; known: {', '.join(haas_q.COMMANDS[:-1])}")
        return value

    @property
    def resolved_framing(self) -> haas_q.Framing:
        if self.framing == "auto":
            return "prompt" if self.is_tcp else "stx-etb"
        return self.framing


class LineboxOptions(LineSettings):
    dialect: Literal["linebox"]
    spindle_on_a: float = Field(default=1.0, gt=0, description="current from which the spindle counts as on")
    spindle_off_a: float = Field(default=0.6, ge=0, description="current below which it counts as off again")


SerialOptions = GrblOptions | HaasOptions | LineboxOptions
DIALECTS: dict[str, type[SerialOptions]] = {"grbl": GrblOptions, "haas-q": HaasOptions, "linebox": LineboxOptions}


def parse_options(machine_id: str, options: dict[str, Any]) -> SerialOptions:
    """Validate a machine's merged options; ConfigError naming ``options.<key>`` on any problem."""
    where = f"machine {machine_id}"
    dialect = options.get("dialect")
    if dialect not in DIALECTS:
        expected = f"a dialect, one of {', '.join(DIALECTS)}"
        raise ConfigError([Problem(where, "options.dialect", repr(dialect) if dialect else "", expected)])
    model = DIALECTS[dialect]
    if "state_dir" not in model.model_fields:  # the agent gives it to every serial machine; only GRBL uses it
        options = {k: v for k, v in options.items() if k != "state_dir"}
    parsed = tomlconfig.validate(model, options, file=where, prefix="options")
    if isinstance(parsed, GrblOptions):
        path = parsed.socket_path(machine_id)
        if path is not None and len(str(path).encode()) > MAX_SOCKET_PATH:
            expected = f"a control socket path of at most {MAX_SOCKET_PATH} bytes (set options.control_socket)"
            raise ConfigError([Problem(where, "options.control_socket", str(path), expected)])
    return parsed
