"""A pseudo-terminal standing in for a serial device, served by a thread, that can be unplugged."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import tty
from pathlib import Path

logger = logging.getLogger(__name__)

TICK_S = 0.005


class PtyDevice:
    """Subclasses implement ``received`` (bytes from the driver) and ``tick`` (simulated time passes).

    ``link``, when given, is a symlink kept pointing at the current pseudo-terminal, like
    /dev/serial/by-id/... for a USB adapter: it vanishes on ``unplug`` and returns on ``replug``.
    """

    def __init__(self, link: Path | None = None) -> None:
        self.link = link
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.lock = threading.RLock()

    @property
    def path(self) -> str:
        """What a driver opens: the stable link if there is one, else the pseudo-terminal itself."""
        return str(self.link) if self.link is not None else self._slave_name

    def start(self) -> None:
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name=type(self).__name__)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._close()

    def unplug(self) -> None:
        """The cable is pulled: the driver's next read or write fails."""
        with self.lock:
            self._close()

    def replug(self) -> None:
        with self.lock:
            if self._master is None:
                self._open()
                self.plugged_in()

    def plugged_in(self) -> None:
        """Called after ``replug``; a device that resets on power-up says so here."""

    def received(self, data: bytes) -> None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Simulated time advances; ``now`` is time.monotonic()."""

    def send(self, data: bytes) -> None:
        """Bytes to the driver; lost (as on a real line) when nobody reads or the device is unplugged."""
        master = self._master
        if master is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(master, data)

    def _open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave, self._slave_name = master, slave, os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._slave_name)
            tmp.replace(self.link)

    def _close(self) -> None:
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def _run(self) -> None:
        while not self._stop.is_set():
            master = self._master
            if master is None:
                time.sleep(TICK_S)
                self._tick()
                continue
            try:
                ready, _, _ = select.select([master], [], [], TICK_S)
                data = os.read(master, 4096) if ready else b""
            except (OSError, ValueError):  # unplugged under our feet
                data = b""
            with self.lock:
                if data and self._master is not None:
                    self.received(data)
            self._tick()

    def _tick(self) -> None:
        with self.lock:
            try:
                self.tick(time.monotonic())
            except Exception:  # a simulator bug must not hang the test that drives it
                logger.exception("%s failed", type(self).__name__)
                raise
