"""Start a private mosquitto with the broker configuration Atelier ships.

Used by ``atelier demo`` and by the tests, which kill and restart it. The
configuration keeps what the broker accepted (``persistence true``) and lifts
the per-client queue limits: mosquitto's default ``max_queued_messages 1000``
silently drops QoS 1 messages for a subscriber that falls behind, which would
lose cycles while a gateway is down. The limit is a hundred million, not 0
(unlimited): with 0, mosquitto 2.0.11 (Debian 12) drops a client's connection
on the packet that follows a publish its ACL denied, so one machine missing
from an agent's ACL would hold back all the others (tests/test_bus_security.py).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.contract import MAX_PAYLOAD_BYTES

BROKER_SETTINGS = """\
# Atelier broker settings: keep what was accepted, never drop queued QoS 1 messages.
persistence true
persistence_location {data_dir}/
autosave_interval 1
autosave_on_changes false
max_queued_messages 100000000
max_queued_bytes 0
max_inflight_messages 0
# The contract's payload limit (64 KiB) plus room for the topic and headers: a bigger packet is refused at the
# door and its sender disconnected ("Packet too large"), before any client buffers it.
max_packet_size {packet_limit}
persistent_client_expiration 14d
# Started as root, mosquitto would drop to the 'mosquitto' user and could not write data_dir.
user {user}
"""

# Room for the fixed header, the topic (atelier/v1/{site}/{machine}/telemetry is under 160 bytes) and
# MQTT 5 properties around a payload at the limit.
PACKET_OVERHEAD_BYTES = 1024


def broker_settings(*, data_dir: str | Path, user: str) -> str:
    """The settings part of mosquitto.conf. ``max_packet_size`` and not ``message_size_limit``: mosquitto 2.0.11
    deprecates the latter and, unlike its manual says, disconnects with "Protocol error" instead of refusing
    the one message; a payload between the two limits reaches the gateway, which dead-letters it with why."""
    return BROKER_SETTINGS.format(data_dir=data_dir, user=user, packet_limit=MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES)


LISTENER = """\
listener {port} {host}
allow_anonymous true
"""


def end_process(process: subprocess.Popen[bytes], sig: signal.Signals, timeout_s: float) -> None:
    """Send ``sig`` and wait; a process still alive after ``timeout_s`` is killed."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class OwnedProcess:
    """A child process this object started and ends: signalled with a deadline, then forgotten."""

    process: subprocess.Popen[bytes] | None

    def _signal(self, sig: signal.Signals, timeout_s: float) -> None:
        if self.process is not None:
            end_process(self.process, sig, timeout_s)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class BrokerError(RuntimeError):
    pass


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise BrokerError("mosquitto is not installed: run 'make demo' or 'apt-get install mosquitto'")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout_s} s")


@dataclass
class Broker(OwnedProcess):
    """A mosquitto process on a loopback port, with its persistence in ``data_dir``."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port(self.host)

    @property
    def config_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "mosquitto.log"

    def write_config(self) -> Path:
        text = broker_settings(data_dir=self.data_dir, user=getpass.getuser()) + LISTENER.format(
            port=self.port, host=self.host
        )
        self.config_path.write_text(text + self.extra_config)
        return self.config_path

    def start(self) -> None:
        self.write_config()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [find_mosquitto(), "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.host, self.port)
        except BrokerError:
            self.stop()
            raise BrokerError(f"mosquitto did not start; see {self.log_path}") from None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop cleanly: mosquitto saves its persistence file on SIGTERM."""
        self._signal(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """SIGKILL: whatever was not saved yet is lost, like a power cut of the broker."""
        self._signal(signal.SIGKILL, 5.0)

    def restart(self) -> None:
        self.stop()
        self.start()
