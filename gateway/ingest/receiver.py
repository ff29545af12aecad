"""The MQTT session in a process of its own, so that receiving does not hold back writing.

Measured (docs/performance.md, "The chain"): with paho's network thread in the
gateway's interpreter, the database thread spent three quarters of its time
waiting to take the GIL back after each SQLite step while paho parsed the next
messages; a batch took 59.5 ms in the gateway against 21 ms on its own. Here
the ``MqttConsumer`` runs in a child process that sends what it receives in
small batches over a pipe and takes acknowledgements and publications back
over another, in order. The child ignores SIGTERM and SIGINT (systemd and a
terminal signal the whole group): it stops when the gateway tells it to, or
at once when the gateway is gone (the pipe closes), leaving unacknowledged
messages to the broker's persistent session as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from gateway.config import GatewaySettings
from gateway.ingest.consumer import MqttConsumer
from gateway.ingest.messages import Received
from plumbing import logs

logger = logging.getLogger(__name__)

SEND_EVERY_S = 0.002  # how long a received message may wait in the child before it is sent on
MAX_ITEMS_PER_SEND = 1000
STOP_TIMEOUT_S = 10.0
RESPAWN_AFTER_S = 1.0


class Receiver:
    """What ingest needs of an MQTT consumer (start, pause, acknowledge, publish, stop, its state)."""

    def __init__(self, settings: GatewaySettings, deliver: Callable[[Sequence[Received]], None]) -> None:
        self._settings = settings
        self._deliver = deliver
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._process: Any = None
        self._commands: Connection | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")  # forking a process with threads is unsafe
        items_r, items_w = context.Pipe(duplex=False)
        commands_r, commands_w = context.Pipe(duplex=False)
        process = context.Process(
            target=_child, args=(self._settings, items_w, commands_r), name="atelier-gateway-mqtt", daemon=True
        )
        process.start()
        items_w.close()
        commands_r.close()
        with self._lock:
            self._process, self._commands = process, commands_w
        self._reader = threading.Thread(target=self._read, args=(items_r,), name="mqtt-receiver", daemon=True)
        self._reader.start()

    def _read(self, items: Connection) -> None:
        """On a thread: messages and state from the child, until it ends."""
        try:
            while True:
                kind, payload = items.recv()
                if kind == "items":
                    self._deliver([Received(*fields) for fields in payload])
                else:
                    connected, subscribed, self.connections = payload
                    _set(self.connected, connected)
                    _set(self.subscribed, subscribed)
        except (EOFError, OSError):
            pass
        finally:
            items.close()
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopping:
            # The gateway goes on: what the child held unacknowledged comes back from the broker.
            logger.error("the MQTT receiver process ended; starting it again in %.0f s", RESPAWN_AFTER_S)
            time.sleep(RESPAWN_AFTER_S)
            if not self._stopping:
                self._spawn()

    def _send(self, command: tuple[Any, ...]) -> bool:
        with self._lock:
            if self._commands is None:
                return False
            try:
                self._commands.send(command)
            except (OSError, ValueError):
                return False  # the child is gone; the reader starts another
            return True

    def pause(self) -> None:
        self._send(("pause",))

    def ack_all(self, items: Sequence[Received]) -> None:
        self._send(("ack", [(item.mid, item.qos, item.generation) for item in items]))

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> bool:
        return self.connected.is_set() and self._send(("publish", topic, payload, qos, retain))

    def stop(self) -> None:
        self._stopping = True
        self._send(("stop",))
        process = self._process
        if process is not None:
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                logger.warning("the MQTT receiver did not stop within %.0f s; killing it", STOP_TIMEOUT_S)
                process.kill()
                process.join()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT_S)
        with self._lock:
            if self._commands is not None:
                self._commands.close()
                self._commands = None
        self.connected.clear()
        self.subscribed.clear()


def _set(event: threading.Event, value: bool) -> None:
    if value:
        event.set()
    else:
        event.clear()


# --- the child process ---------------------------------------------------------------------------


def _child(settings: GatewaySettings, items: Connection, commands: Connection) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.setup()
    pending: list[Received] = []
    lock = threading.Lock()

    def deliver(item: Received) -> None:  # on paho's network thread
        with lock:
            pending.append(item)

    consumer = MqttConsumer(settings, deliver)
    done = threading.Event()
    sender = threading.Thread(target=_forward, args=(consumer, pending, lock, items, done), daemon=True)
    sender.start()
    consumer.start()
    try:
        while True:
            command = commands.recv()
            match command[0]:
                case "ack":
                    for mid, qos, generation in command[1]:
                        consumer.ack_id(mid, qos, generation)
                case "publish":
                    consumer.publish(command[1], command[2], qos=command[3], retain=command[4])
                case "pause":
                    consumer.pause()
                case "stop":
                    break
    except (EOFError, OSError):
        os._exit(0)  # the gateway is gone: leave at once, the broker keeps the session
    consumer.stop()
    done.set()
    sender.join(STOP_TIMEOUT_S)


def _forward(
    consumer: MqttConsumer, pending: list[Received], lock: threading.Lock, items: Connection, done: threading.Event
) -> None:
    """On a thread of the child: received messages in batches, and the session's state when it changes."""
    state: tuple[bool, bool, int] | None = None
    try:
        while not done.is_set():
            with lock:
                batch = pending[:MAX_ITEMS_PER_SEND]
                del pending[:MAX_ITEMS_PER_SEND]
            now = (consumer.connected.is_set(), consumer.subscribed.is_set(), consumer.connections)
            if now != state:
                items.send(("state", now))
                state = now
            if batch:
                # Plain tuples: a slotted dataclass pickles field by field in Python, several times slower.
                items.send(("items", [_fields(item) for item in batch]))
            if len(batch) < MAX_ITEMS_PER_SEND:
                time.sleep(SEND_EVERY_S)
    except (OSError, ValueError):
        os._exit(0)  # the gateway is gone


def _fields(item: Received) -> tuple[Any, ...]:
    return (item.topic, item.payload, item.mid, item.qos, item.retain, item.generation, item.received_at)
