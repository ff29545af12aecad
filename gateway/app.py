"""Wiring and signal handling: migrations, ingest and the HTTP server in one asyncio loop.

``main`` and ``check`` are what ``atelier gateway run|check -c FILE`` call;
``serve`` runs the gateway in-process (tests, the demo) until ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from gateway import closing_sweep, config, restore, rollup_job
from gateway.errors import GatewayError, StoreError
from gateway.influx import InfluxSettings, InfluxSink
from gateway.ingest.projection import Projector
from gateway.ingest.service import Ingest
from gateway.live import LiveView
from gateway.network_collector import NetworkCollector
from gateway.network_publisher import NetworkPublisher
from gateway.store.db import Database, make_engine, upgrade
from gateway.web.app import create_app
from gateway.web.services import Services
from plumbing import logs, sdnotify, tlsfiles, tomlconfig

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: ``serve`` owns SIGTERM/SIGINT and flushes ingest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: config.GatewaySettings, *, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or for ever); raise GatewayError if the gateway cannot start."""
    stop = stop or asyncio.Event()
    listener = _listen(settings.http.host, settings.http.port)
    engine = make_engine(settings.database.url)  # the gateway's one engine: ingest, pages and records share it
    try:
        home = settings.gateway.only_site
        await asyncio.to_thread(upgrade, settings.database.url, engine=engine, site=home)
        database = Database(engine)
        try:
            services = await asyncio.to_thread(_build_services, settings, database)
        except SQLAlchemyError as err:
            raise StoreError(f"cannot read the store: {err}") from err
        # Sessions left open while the gateway was down end at their own closing hours before anyone reads them.
        zone = settings.records.timezone
        await asyncio.to_thread(closing_sweep.sweep, database, zone)
        app = create_app(settings, services)
        server = _Server(server_config(app, settings.http))
        await _run_server(server, listener, stop, services, settings=settings)
    finally:
        listener.close()
        engine.dispose()


WS_MAX_BYTES = 64 * 1024  # the status page sends nothing; a client cannot make the gateway buffer more


def server_config(app: FastAPI, http: config.HttpSection) -> uvicorn.Config:
    """uvicorn for the gateway: TLS when configured, forwarded headers only from the proxies listed."""
    tls = http.tls
    return uvicorn.Config(
        app,
        host=http.host,
        port=http.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        ws_max_size=WS_MAX_BYTES,
        proxy_headers=bool(http.trusted_proxies),
        forwarded_allow_ips=list(http.trusted_proxies) or None,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is a clear error and not a half-started gateway."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise GatewayError(f"cannot listen on {host}:{port}: {err}") from err
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise GatewayError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    return sock


def _build_services(settings: config.GatewaySettings, database: Database) -> Services:
    projector = Projector(database.sessions)
    projector.load()
    zone = settings.records.zone()
    live = LiveView(zone=zone)
    with database.sessions() as db:
        live.load(
            restore.machine_views(db=db, now=datetime.now(UTC), zone=zone),
            restore.agents_online(db=db),
        )
        tracker = restore.gap_tracker(
            db=db,
            timeout_s=settings.ingest.gap_timeout_s,
            now=time.monotonic(),
            max_span=settings.ingest.replay_max_span,
        )
    sink = _influx_sink(settings)
    observers = [] if sink is None else [sink.observe]
    ingest = Ingest(settings=settings, projector=projector, live=live, tracker=tracker, observers=observers)
    return Services(live=live, ingest=ingest, database=database, influx=sink)


def _influx_sink(settings: config.GatewaySettings) -> InfluxSink | None:
    section = settings.influx
    if section is None:
        return None
    token = section.token or ""
    if section.token_file is not None:
        try:
            token = section.token_file.read_text().strip()
        except OSError as err:
            raise GatewayError(f"cannot read influx.token_file {str(section.token_file)!r}: {err.strerror}") from err
    return InfluxSink(
        InfluxSettings(
            url=section.url,
            token=token,
            org=section.org,
            bucket=section.bucket,
            batch_size=section.batch_size,
            flush_interval_s=section.flush_interval_s,
            max_buffer=section.max_buffered_lines,
            timeout_s=section.timeout_s,
            retry_max_s=section.retry_max_s,
        )
    )


async def _run_server(
    server: _Server,
    listener: socket.socket,
    stop: asyncio.Event,
    services: Services,
    *,
    settings: config.GatewaySettings,
) -> None:
    zone = settings.records.timezone
    task = asyncio.create_task(server.serve(sockets=[listener]), name="http")
    stopper = asyncio.create_task(stop.wait(), name="stop")
    watchdog = asyncio.create_task(_watchdog(server, services), name="watchdog")
    assert services.database is not None  # serve() builds the gateway's own
    closing = asyncio.create_task(closing_sweep.run(services.database, zone), name="closing-time")
    rollups = asyncio.create_task(rollup_job.run(services.database, settings.records), name="day-summaries")
    network = _start_network(settings, services)
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sdnotify.stopping()
        server.should_exit = True
        stopper.cancel()
        watchdog.cancel()
        closing.cancel()
        rollups.cancel()
        network()
        await task
    if not server.started and not stop.is_set():
        raise GatewayError("the gateway did not start; see the log above")


def _start_network(settings: config.GatewaySettings, services: Services) -> Callable[[], None]:
    """The network's jobs this gateway has (docs/network.md); returns what stops them."""
    database = services.database
    assert database is not None  # serve() builds the gateway's own
    stops: list[Callable[[], object]] = []
    if settings.network.publish:
        ingest = services.ingest
        # The gateway's own MQTT session, as replay requests: no second connection to the school's broker.
        publisher = NetworkPublisher(settings, database, lambda: None if ingest is None else ingest.consumer)
        stops.append(asyncio.create_task(publisher.run(), name="network-publisher").cancel)
    if settings.network.collect:
        collector = NetworkCollector(settings, database)
        collector.start()
        stops.append(collector.stop)

    def stop() -> None:
        for each in stops:
            each()

    return stop


async def _watchdog(server: _Server, services: Services) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    scheme = "https" if server.config.is_ssl else "http"
    sdnotify.ready(f"serving {scheme} on {server.config.host}:{server.config.port}")
    logger.info("gateway ready %s=%s:%d", scheme, server.config.host, server.config.port)
    interval = sdnotify.watchdog_interval_s()
    if interval is None:
        return
    while True:
        await asyncio.sleep(interval)
        if services.ingest is None or services.ingest.healthy:
            sdnotify.watchdog()
        else:
            logger.error("ingest is not running; withholding the watchdog ping so systemd restarts the gateway")


def _load(config_path: Path) -> config.GatewaySettings | None:
    try:
        return config.load(config_path)
    except tomlconfig.ConfigError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return None


def main(config_path: Path) -> int:
    settings = _load(config_path)
    if settings is None:
        return EXIT_CONFIG
    if problems := _check_files(settings, config_path):  # a restart cannot fix a certificate file either
        print(*problems, sep="\n", file=sys.stderr)
        return EXIT_CONFIG
    # One line per request and per migration step would drown what needs a look.
    logs.setup(quiet=["uvicorn.access", "alembic.runtime.migration"])
    try:
        asyncio.run(_main(settings))
    except GatewayError as err:
        logger.error("gateway stopped: %s", err)  # noqa: TRY400 - the message says it all, no traceback
        print(f"atelier gateway: {err}", file=sys.stderr)
        return EXIT_FAILURE
    logger.info("gateway stopped cleanly")
    return EXIT_OK


async def _main(settings: config.GatewaySettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop=stop)


def check(config_path: Path) -> int:
    settings = _load(config_path)
    if settings is None:
        return EXIT_CONFIG
    problems = _check_files(settings, config_path)
    try:
        make_engine(settings.database.url).dispose()
    except (StoreError, ImportError) as err:
        problems.append(f"{config_path}: database.url: {err}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    influx = "" if settings.influx is None else f", influx {settings.influx.url} bucket {settings.influx.bucket}"
    print(
        f"{config_path}: OK (gateway {settings.gateway.id}, site {', '.join(settings.gateway.sites)}, "
        f"broker {settings.broker.host}:{settings.broker.port}, "
        f"{'https' if settings.http.tls else 'http'} {settings.http.host}:{settings.http.port}{influx})"
    )
    return EXIT_OK


def _check_files(settings: config.GatewaySettings, config_path: Path) -> list[str]:
    files: dict[str, Path | None] = {}
    tls = settings.broker.tls
    problems = []
    if tls is not None:
        problems = tlsfiles.problems(config_path, ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file)
    if (served := settings.http.tls) is not None:
        problems += tlsfiles.problems(
            config_path, ca_file=None, cert_file=served.cert_file, key_file=served.key_file, section="http.tls"
        )
    if settings.influx is not None:
        files["influx.token_file"] = settings.influx.token_file
    return [str(problem) for problem in problems] + [
        f"{config_path}: {key}: file not found (found {str(path)!r})"
        for key, path in files.items()
        if path is not None and not path.is_file()
    ]
