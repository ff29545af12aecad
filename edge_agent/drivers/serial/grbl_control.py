"""How ``atelier edge send MACHINE FILE`` reaches the running agent: one Unix socket per GRBL machine.

The GRBL port has one owner, the running driver, so a program is handed to it
rather than streamed by the command. While connected, the driver listens on
``<state_dir>/control/<machine>.sock`` (or ``options.control_socket``). A
client connects, writes one JSON object on one line and reads one JSON object
back; then the connection closes::

    {"op": "send", "name": "bracket.nc", "gcode": "G21\\nG0 X1\\n..."}  -> {"ok": true, "lines": 812}
    {"op": "hold"} | {"op": "resume"} | {"op": "stop"}                -> {"ok": true}
    {"op": "status"}          -> {"ok": true, "state": "Run", "job": {"program": ..., "line": 12, "lines": 812}}
    any refusal               -> {"ok": false, "error": "busy: bracket.nc is running (line 12 of 812)"}

The program travels inside the request, so the agent never needs read access
to the user's files, and nothing is queued: a machine that is not connected
refuses at once instead of starting a program later, unattended. The socket
is created 0660, so only the agent's user and group may move the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from edge_agent.errors import DriverError

logger = logging.getLogger(__name__)

MAX_REQUEST = 16 * 1024 * 1024  # a large G-code file, with room to spare
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() or self.path.is_symlink():
                if _answers(self.path):
                    raise DriverError(f"{self.path} is in use: is another agent serving this machine?")
                self.path.unlink()  # left behind by an agent that was killed
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_REQUEST)
            self.path.chmod(0o660)
        except OSError as err:
            raise DriverError(f"cannot open the control socket {self.path}: {err}") from err
        logger.info("control socket %s ready", self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 30)
            reply = await self._reply(line)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (OSError, TimeoutError, ValueError) as err:  # a client that went away or sent too much
            logger.debug("control socket %s: %s", self.path, err)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _reply(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"ok": False, "error": "the request is not one line of JSON"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "the request is not a JSON object"}
        return await self.handler(request)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class ControlUnavailableError(DriverError):
    """Nobody listens on the machine's control socket: agent stopped or machine not connected."""


def request(path: Path, payload: dict[str, Any], timeout_s: float = 15.0) -> dict[str, Any]:
    """Blocking client for the CLI: one request, one reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as err:
            raise ControlUnavailableError(str(err)) from err
        try:
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as err:
            raise DriverError(f"the agent did not answer on {path}: {err}") from err
    try:
        reply: dict[str, Any] = json.loads(data)
    except json.JSONDecodeError as err:
        raise DriverError(f"the agent sent an unreadable reply on {path}") from err
    return reply


def send_program(config_path: Path, machine: str, file: Path) -> int:
    """``atelier edge send MACHINE FILE``: hand a program to the running agent; 0 started, 1 refused, 2 bad input."""
    from edge_agent.drivers.serial.grbl_stream import ProgramError, load_program
    from plumbing.tomlconfig import ConfigError

    try:
        path = _socket_for(config_path, machine)
        text = file.read_text(encoding="ascii")
        lines = load_program(text)
    except (ConfigError, ProgramError, OSError, UnicodeDecodeError) as err:
        problem = f"{file}: {err}" if isinstance(err, ProgramError | OSError | UnicodeDecodeError) else str(err)
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        reply = request(path, {"op": "send", "name": file.name, "gcode": text})
    except ControlUnavailableError:
        reply = {"error": f"not connected, or the edge agent is not running (nobody listens on {path})"}
    except DriverError as err:
        reply = {"error": str(err)}
    if not reply.get("ok"):
        print(f"error: machine {machine} did not start {file.name}: {reply.get('error')}", file=sys.stderr)
        return 1
    print(f"{file.name} started on {machine} ({len(lines)} lines)")
    return 0


def _socket_for(config_path: Path, machine: str) -> Path:
    from edge_agent import config, profiles
    from edge_agent.drivers.serial.options import GrblOptions, parse_options
    from plumbing.tomlconfig import ConfigError, Problem

    edge = config.load(config_path)
    found = next((m for m in edge.machines if m.id == machine), None)
    if found is None:
        known = ", ".join(m.id for m in edge.machines)
        raise ConfigError([Problem(str(config_path), "machines", machine, f"a machine id, one of {known}")])
    not_grbl = ConfigError([Problem(str(config_path), "machines", machine, "a serial machine with dialect 'grbl'")])
    if found.driver != "serial":
        raise not_grbl
    profile = profiles.load(found.profile, edge.profiles_dir) if found.profile else None
    options = profile.merged_options(found.options) if profile else dict(found.options)
    parsed = parse_options(machine, {"state_dir": str(edge.agent.state_dir), **options})
    if not isinstance(parsed, GrblOptions):
        raise not_grbl
    path = parsed.socket_path(machine)
    assert path is not None  # state_dir is always set here
    return path
