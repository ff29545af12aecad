"""Parts for tests of the network's deployment shapes (docs/network.md): a school's internet link that a
test can cut, a tap on a broker that keeps every message it sees, a logged-in HTTP client of a running
gateway, and a search of everything a store holds. Used by ``test_three_schools.py``."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from atelier.broker import Broker, free_port
from gateway.admin import create_admin


class CuttableLink:
    """A TCP relay between a school's bridge and the central broker: the school's internet link.

    ``cut`` closes every connection through it and refuses new ones, as a link that is down; the bridge
    retries until ``restore``. The broker on either side never notices anything but a lost connection.
    """

    def __init__(self, target: Broker) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._target = (target.host, target.port)
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(8)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="link-accept").start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                inner, _ = listener.accept()
            except OSError:  # cut: the listener is closed
                return
            try:
                outer = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(inner)
                continue
            outer.settimeout(None)
            with self._lock:
                self._open += [inner, outer]
            for source, sink in ((inner, outer), (outer, inner)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True, name="link-pump").start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass(frozen=True, slots=True)
class Seen:
    at: float  # time.time() when the tap received it
    topic: str
    payload: bytes


@dataclass
class Tap:
    """Every message published on ``topic`` at ``broker`` from now on, with the time it was seen."""

    broker: Broker
    topic: str
    seen: list[Seen] = field(default_factory=list)
    _client: Any = None

    def __enter__(self) -> Tap:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-tap-{uuid.uuid4().hex[:8]}")
        subscribed = threading.Event()
        client.on_message = lambda _c, _u, m: self.seen.append(Seen(time.time(), m.topic, bytes(m.payload)))
        client.on_subscribe = lambda *_args: subscribed.set()
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        client.subscribe(self.topic, qos=1)
        if not subscribed.wait(10):
            raise AssertionError(f"no subscription to {self.topic} on {self.broker.port}")
        self._client = client
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def of(self, suffix: str) -> list[Seen]:
        return [s for s in list(self.seen) if s.topic.endswith(suffix)]


def make_master(config: Path, username: str, password: str, sites: list[str] | None = None) -> None:
    """``atelier gateway create-admin USERNAME --password-stdin -c CONFIG [--site SITE ...]``, as the operator
    types it."""
    assert create_admin(config, username, password, sites=sites) == 0


class Web:
    """A person's browser on a running gateway: logged in once, then every request carries the token."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._client = httpx.Client(base_url=self.base, timeout=15)
        login = self._client.post("/api/auth/login", json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        self._client.headers["Authorization"] = f"Bearer {login.json()['token']}"

    def get(self, path: str) -> httpx.Response:
        return self._client.get(path)

    def close(self) -> None:
        self._client.close()


def sqlite_text(path: Path) -> str:
    """Every row of every table of a SQLite store, as text (what a search for a name goes through)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return "\n".join(conn.iterdump())


def postgres_tables(url: str) -> dict[str, str]:
    """Every row of every table of a PostgreSQL database, as text, by table."""
    import psycopg  # only the PostgreSQL tests need it

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    tables: dict[str, str] = {}
    with psycopg.connect(plain, autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for name in names:
            rows = conn.execute(f'SELECT t::text FROM "{name}" t').fetchall()  # names from the catalog
            tables[name] = "\n".join(str(r[0]) for r in rows)
    return tables
