"""A Haas control answering Q commands: on a pseudo-terminal (RS-232, STX/ETB) or a TCP port (NGC, ``>``).

``HaasMachine`` runs cycles in real time: ``idle_s`` waiting, then ``cycle_s``
running program ``program`` (Q500 answers ``STATUS, BUSY``), then M30 steps the
part counters (Q500 PARTS, Q402, Q403) and sets the last-cycle time (Q303).
``hold()``, ``alarm()`` and ``mode`` change it on demand; ``cycles`` records what
it made. The TCP server accepts two clients and sends every reply to both, as
the real control does.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from atelier.simulators.device import PtyDevice

STX, ETB = b"\x02", b"\x17"
MAX_CLIENTS = 2


def hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:05d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@dataclass
class HaasMachine:
    program: str = "O01234"
    cycle_s: float = 1.0
    idle_s: float = 0.5
    mode: str = "MEM"
    parts: int = 0
    running: bool = False
    auto: bool = True  # start the next cycle by itself after idle_s
    status: str = "IDLE"  # IDLE, FEED HOLD, ALARM ON while not running
    cycles: list[tuple[float, float]] = field(default_factory=list)  # (start, end) monotonic
    last_cycle_s: float = 0.0
    prev_cycle_s: float = 0.0
    tool: int = 1
    _since: float = field(default_factory=time.monotonic)
    _held: bool = False
    _powered: float = field(default_factory=time.monotonic)

    def tick(self, now: float) -> None:
        if self._held or self.status == "ALARM ON":
            return
        if self.running and now - self._since >= self.cycle_s:
            self.running, self.parts = False, self.parts + 1
            self.prev_cycle_s, self.last_cycle_s = self.last_cycle_s, now - self._since
            self.cycles.append((self._since, now))
            self._since = now
        elif not self.running and self.auto and self.mode == "MEM" and now - self._since >= self.idle_s:
            self.running, self._since, self.status = True, now, "IDLE"
            self.tool = self.tool % 12 + 1

    def hold(self, on: bool = True) -> None:
        self._held = on
        self.status = "FEED HOLD" if on else "IDLE"

    def alarm(self) -> None:
        self.running, self.status = False, "ALARM ON"

    def answer(self, command: str) -> str | None:
        """The reply payload to ``Qnnn [arg]``; None for a line that is not a Q command."""
        word, _, argument = command.strip().lstrip("?").upper().partition(" ")
        if not word.startswith("Q"):
            return None
        now = time.monotonic()
        table = {
            "Q100": "SERIAL NUMBER, 1234567",
            "Q101": "SOFTWARE VERSION, 100.16.000.1031",
            "Q102": "MODEL, VF2D",
            "Q104": f"MODE, ({self.mode})",
            "Q200": f"TOOL CHANGES, {len(self.cycles)}",
            "Q201": f"USING TOOL, {self.tool}",
            "Q300": f"P.O. TIME, {hms(now - self._powered)}",
            "Q301": f"C.S. TIME, {hms(sum(end - start for start, end in self.cycles))}",
            "Q303": f"LAST CYCLE, {hms(self.last_cycle_s)}",
            "Q304": f"PREV CYCLE, {hms(self.prev_cycle_s)}",
            "Q402": f"M30 #1, {self.parts}",
            "Q403": f"M30 #2, {self.parts}",
        }
        if word == "Q500":
            if self.running and not self._held:
                return "STATUS, BUSY"
            status = "FEED HOLD" if self._held else self.status
            return f"PROGRAM, {self.program}, {status}, PARTS, {self.parts}"
        if word == "Q600":
            return "MACRO, 1200.000000" if argument.strip().isdigit() else "INVALID NUMBER"
        return table.get(word, "UNKNOWN")


class HaasPtySimulator(PtyDevice):
    """RS-232: the control echoes the request line, then sends the reply between STX and ETB."""

    def __init__(self, machine: HaasMachine | None = None, link: Path | None = None, *, echo: bool = True) -> None:
        super().__init__(link)
        self.machine = machine or HaasMachine()
        self.echo = echo
        self.requests: list[str] = []
        self._buffer = b""

    def received(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            line = raw.decode("ascii", errors="replace").strip()
            if not line:
                continue
            self.requests.append(line)
            if self.echo:
                self.send(line.encode() + b"\r\n")
            reply = self.machine.answer(line)
            if reply is not None:
                self.send(STX + reply.encode() + ETB)
                if reply == "INVALID NUMBER":
                    self.send(b"\r\n")  # the extra line that follows this error

    def tick(self, now: float) -> None:
        self.machine.tick(now)

    def inject(self, data: bytes) -> None:
        """Bytes on the line that nobody asked for: another client's reply, noise."""
        with self.lock:
            self.send(data)


class HaasTcpSimulator:
    """NGC over Ethernet: ``>`` + payload + CR LF, then a ``>`` prompt; replies go to every client."""

    def __init__(self, machine: HaasMachine | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.machine = machine or HaasMachine()
        self.host, self.port = host, port
        self.requests: list[str] = []
        self._listener: socket.socket | None = None
        self._clients: dict[socket.socket, bytes] = {}
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.RLock()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def start(self) -> None:
        self._listen()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="HaasTcpSimulator")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self.unplug()
        self._selector.close()

    def unplug(self) -> None:
        """The control is switched off: connections drop and the port stops listening."""
        with self.lock:
            for sock in [*self._clients, *([self._listener] if self._listener else [])]:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                sock.close()
            self._clients.clear()
            self._listener = None

    def replug(self) -> None:
        with self.lock:
            if self._listener is None:
                self._listen()

    def inject(self, payload: str) -> None:
        with self.lock:
            self._broadcast(f">{payload}\r\n>".encode())

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(4)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                events = self._selector.select(0.01) if self._selector.get_map() else []
                for key, _ in events:
                    self._ready(key.fileobj)  # type: ignore[arg-type]
                self.machine.tick(time.monotonic())
            if not events:
                time.sleep(0.005)

    def _ready(self, sock: socket.socket) -> None:
        if sock is self._listener:
            client, _ = sock.accept()
            if len(self._clients) >= MAX_CLIENTS:
                client.close()
                return
            client.setblocking(False)
            self._clients[client] = b""
            self._selector.register(client, selectors.EVENT_READ)
            return
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._selector.unregister(sock)
            self._clients.pop(sock, None)
            sock.close()
            return
        buffer = self._clients[sock] + data
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            self._request(raw.decode("ascii", errors="replace").strip())
        self._clients[sock] = buffer

    def _request(self, line: str) -> None:
        if not line:
            return
        self.requests.append(line)
        reply = self.machine.answer(line)
        if reply is not None:
            self._broadcast(f">{reply}\r\n>".encode())

    def _broadcast(self, data: bytes) -> None:
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.sendall(data)
