"""The agent's optional ``/metrics`` endpoint: Prometheus text format over a minimal HTTP server.

``[agent] metrics_listen = "127.0.0.1:9101"`` turns it on. Only ``GET /metrics`` and
``GET /healthz`` are served, one request per connection; anything else is a 404. It runs
on the agent's own event loop, so a scrape that answers also says the loop is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent import __version__
from edge_agent.stats import AgentStats
from plumbing.prometheus import CONTENT_TYPE, Exposition, Labels

logger = logging.getLogger(__name__)

_REQUEST_TIMEOUT_S = 5.0
_MAX_HEADER_LINES = 100


@dataclass(frozen=True, slots=True)
class Backlog:
    unsent_events: int
    unsent_telemetry: int
    oldest_unsent_age_s: float
    over_budget: bool


def render(stats: AgentStats, backlog: Backlog, *, agent: str, site: str) -> str:
    """The exposition text; pure, so its format is tested without a socket."""
    machines = sorted(stats.machines.items())
    families: list[tuple[str, str, str, float | list[tuple[Labels, float]]]] = [
        ("info", "gauge", "The agent's identity and version.",
         [({"agent": agent, "site": site, "version": __version__}, 1)]),
        ("start_time_seconds", "gauge", "When the agent started, in seconds since the epoch.",
         stats.started_at),
        ("events_stored_total", "counter", "Events and state snapshots committed to the outbox.",
         stats.events_stored),
        ("telemetry_stored_total", "counter", "Telemetry samples committed to the outbox.",
         stats.telemetry_stored),
        ("messages_published_total", "counter", "Outbox messages handed to the MQTT client, replays included.",
         stats.published),
        ("messages_acknowledged_total", "counter", "Messages the broker acknowledged (QoS 0: written to the socket).",
         stats.acknowledged),
        ("messages_refused_total", "counter", "Messages the broker refused, such as Not authorized; kept unsent.",
         stats.refused),
        ("outbox_unsent", "gauge", "Messages in the outbox not yet acknowledged by the broker.",
         [({"kind": "event"}, backlog.unsent_events), ({"kind": "telemetry"}, backlog.unsent_telemetry)]),
        ("outbox_oldest_unsent_age_seconds", "gauge", "Age of the oldest unacknowledged event; 0 when none.",
         backlog.oldest_unsent_age_s),
        ("outbox_over_budget", "gauge", "1 while unsent events exceed outbox.event_budget.",
         backlog.over_budget),
        ("mqtt_connected", "gauge", "1 while the agent is connected to the broker.", stats.mqtt_connected),
        ("mqtt_reconnects_total", "counter", "Connections to the broker after the first one.",
         stats.mqtt_reconnects),
        ("mqtt_connect_failures_total", "counter", "Connection attempts the broker refused or that did not reach it.",
         stats.mqtt_connect_failures),
        ("machine_available", "gauge", "1 while the machine's link is up (availability AVAILABLE).",
         [({"machine": m}, s.available) for m, s in machines]),
        ("machine_reconnects_total", "counter", "Attempts to link to the machine again after the first.",
         [({"machine": m}, s.reconnects) for m, s in machines]),
        ("replay_requests_total", "counter", "Replay requests from the gateway that were served.",
         stats.replay_requests),
        ("replayed_messages_total", "counter", "Events published again for replay requests.", stats.replayed),
    ]  # fmt: skip
    out = Exposition()
    for name, kind, help_text, samples in families:
        out.add(f"atelier_edge_{name}", kind, help_text, samples)
    return out.text()


class MetricsServer:
    """Serves ``body()`` on ``GET /metrics``; ``GET /healthz`` answers ``ok`` while the loop runs."""

    def __init__(self, body: Callable[[], str]) -> None:
        self._body = body
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Raises OSError when the address cannot be bound."""
        self._server = await asyncio.start_server(self._handle, host, port)

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                method, path = await asyncio.wait_for(_read_request(reader), _REQUEST_TIMEOUT_S)
            except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return  # a client that does not speak HTTP gets nothing
            status, content_type, body = self._respond(method, path)
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + (payload if method != "HEAD" else b"")
            )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _respond(self, method: str, path: str) -> tuple[str, str, str]:
        if path not in {"/metrics", "/healthz"}:
            return "404 Not Found", "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n"
        if method not in {"GET", "HEAD"}:
            return "405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n"
        if path == "/healthz":
            return "200 OK", "text/plain; charset=utf-8", "ok\n"
        try:
            return "200 OK", CONTENT_TYPE, self._body()
        except Exception as err:  # a failing figure must not take the agent down; say it once per scrape
            logger.error("metrics: cannot collect the figures: %s", err)  # noqa: TRY400 - one line, no traceback
            return "500 Internal Server Error", "text/plain; charset=utf-8", f"cannot collect the figures: {err}\n"


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """Method and path of the request line; the headers are read and ignored."""
    parts = (await reader.readuntil(b"\n")).decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    for _ in range(_MAX_HEADER_LINES):
        if (await reader.readuntil(b"\n")).strip() == b"":
            return parts[0], parts[1].split("?", 1)[0]
    raise ValueError("too many header lines")
