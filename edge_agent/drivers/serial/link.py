"""One serial port (or ``socket://host:port``) owned by one driver, read by a thread.

pyserial reads block, so a daemon thread per port reads whatever arrives and
hands it to the event loop; writes go through ``asyncio.to_thread`` under a
lock. Any failure of the port (USB adapter unplugged, pseudo-terminal closed,
TCP peer gone) surfaces as ``DriverError`` from ``read`` or ``write``:
``pipeline.run_machine`` marks the machine UNAVAILABLE and opens a new link later, so this
class never reopens anything itself.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType
from typing import Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, model_validator
from serial.tools import list_ports

from edge_agent.errors import DriverError

logger = logging.getLogger(__name__)

BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 250000, 460800, 921600)
_PARITY = {"none": serial.PARITY_NONE, "even": serial.PARITY_EVEN, "odd": serial.PARITY_ODD}
_POLL_S = 0.1  # how often the reader thread looks at its stop flag


class LineSettings(BaseModel):
    """Where the machine is and how its line is set; every dialect's options start with these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    port: str | None = Field(
        default=None,
        description="device path (prefer /dev/serial/by-id/..., stable across replugs) or socket://host:port",
    )
    usb_serial: str | None = Field(default=None, min_length=1, description="USB serial number of the adapter")
    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["none", "even", "odd"] = "none"
    stopbits: Literal[1, 2] = 1
    xonxoff: bool = False
    rtscts: bool = False
    read_timeout_s: float = Field(default=5.0, gt=0, le=600, description="silence after which the machine is off")
    write_timeout_s: float = Field(default=2.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one_port(self) -> LineSettings:
        if (self.port is None) == (self.usb_serial is None):
            raise ValueError("give either 'port' (a device path or socket://host:port) or 'usb_serial'")
        if self.baudrate not in BAUD_RATES:
            raise ValueError(f"baudrate {self.baudrate} is not one of {', '.join(map(str, BAUD_RATES))}")
        return self

    @property
    def is_tcp(self) -> bool:
        return bool(self.port and self.port.startswith("socket://"))

    def describe(self) -> str:
        return self.port or f"USB adapter {self.usb_serial}"


def find_usb(serial_number: str) -> str:
    """The device path of the USB serial adapter with this serial number."""
    for info in list_ports.comports():
        if info.serial_number == serial_number:
            return str(info.device)
    raise DriverError(f"no USB serial adapter with serial number {serial_number!r} is plugged in")


class SerialLink:
    """``async with SerialLink(settings) as link``: read and write bytes, fail with DriverError."""

    def __init__(self, settings: LineSettings) -> None:
        self.settings = settings
        self._port: serial.Serial | None = None
        self._queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_lock = asyncio.Lock()

    async def __aenter__(self) -> SerialLink:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        self._port = await asyncio.to_thread(self._open)
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._read_forever, args=(loop,), daemon=True, name="serial-reader")
        self._thread.start()
        logger.info("opened %s", self.settings.describe())

    def _open(self) -> serial.Serial:
        s = self.settings
        path = s.port if s.port is not None else find_usb(s.usb_serial or "")
        try:
            # A Serial for a device path, pyserial's socket handler for socket://host:port.
            port = serial.serial_for_url(path, do_not_open=True)
            port.baudrate, port.bytesize, port.parity = s.baudrate, s.bytesize, _PARITY[s.parity]
            port.stopbits, port.xonxoff, port.rtscts = s.stopbits, s.xonxoff, s.rtscts
            port.timeout, port.write_timeout = _POLL_S, s.write_timeout_s
            if not s.is_tcp:
                port.exclusive = True  # one owner per port: a second agent gets a clear error
            port.open()
        except (serial.SerialException, OSError, ValueError) as err:
            raise DriverError(f"cannot open {path}: {err}") from err
        if s.is_tcp:
            _keepalive(port)
        return port

    def _read_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        port = self._port
        assert port is not None
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as err:
                # TypeError/AttributeError: pyserial's socket handler after the socket closed.
                if not self._stop.is_set():
                    self._deliver(loop, err)
                return
            if data:
                self._deliver(loop, data)

    def _deliver(self, loop: asyncio.AbstractEventLoop, item: bytes | BaseException) -> None:
        try:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            self._stop.set()

    async def read(self, wait_s: float) -> bytes:
        """Bytes that arrived (waiting at most ``wait_s`` seconds, b"" if none); DriverError if the port failed."""
        try:
            item = await asyncio.wait_for(self._queue.get(), wait_s)
        except TimeoutError:
            return b""
        if isinstance(item, BaseException):
            raise DriverError(f"{self.settings.describe()} failed: {item}") from item
        return item

    async def write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise DriverError(f"{self.settings.describe()} is not open")
        async with self._write_lock:
            try:
                await asyncio.to_thread(port.write, data)
            except (serial.SerialException, OSError) as err:
                raise DriverError(f"writing to {self.settings.describe()} failed: {err}") from err

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
            self._thread = None
        if self._port is not None:
            port, self._port = self._port, None
            sock = getattr(port, "_socket", None)
            try:
                port.close()
            except (serial.SerialException, OSError) as err:
                logger.debug("closing %s: %s", self.settings.describe(), err)
            if isinstance(sock, socket.socket):
                # pyserial skips close() when shutdown() fails on a socket the peer already closed.
                sock.close()
            logger.info("closed %s", self.settings.describe())


def _keepalive(port: serial.SerialBase) -> None:
    # pyserial's socket:// handler keeps its socket private; keepalive notices a peer that vanished.
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


class LineSplitter:
    """Bytes to text lines on CR, LF or CR LF; over-long runs without a line end are dropped and counted."""

    def __init__(self, max_line: int = 256) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        parts = self._buffer.replace(b"\r", b"\n").split(b"\n")
        self._buffer = bytearray(parts.pop())
        if len(self._buffer) > self.max_line:
            self.dropped += 1
            self._buffer.clear()
        lines = []
        for part in parts:
            if len(part) > self.max_line:
                self.dropped += 1
            elif part:
                lines.append(part.decode("ascii", errors="replace"))
        return lines
