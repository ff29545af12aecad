"""The edge agent process: wiring, signals, housekeeping, and ``check`` for a configuration file.

Exit codes: 0 after a clean stop (SIGTERM, SIGINT), 1 on a runtime failure,
2 on a configuration error (restarting cannot fix a bad file).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path

from edge_agent import config as edge_config
from edge_agent.config import EdgeConfig, MachineConfig
from edge_agent.drivers import Driver
from edge_agent.errors import EdgeAgentError
from edge_agent.metrics import Backlog, MetricsServer, render
from edge_agent.outbox import Outbox
from edge_agent.pipeline import Backoff, Reassertions, build_driver, load_profile, run_machine
from edge_agent.profiles import Profile
from edge_agent.publisher import Publisher
from edge_agent.stats import AgentStats, CountingDriver, CountingOutbox
from plumbing import logs, sdnotify, tlsfiles
from plumbing.tomlconfig import ConfigError, Problem

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
PRUNE_INTERVAL_S = 300.0


def _backoff(machine: MachineConfig) -> Backoff:
    return Backoff(first_s=min(Backoff().first_s, machine.reconnect_max_s), max_s=machine.reconnect_max_s)


def _prepare(config: EdgeConfig) -> dict[str, tuple[MachineConfig, Profile | None, Driver]]:
    """Load every profile and build every driver before anything starts; raises ConfigError."""
    prepared = {}
    for machine in config.machines:
        profile = load_profile(machine, config.profiles_dir)
        try:
            driver = build_driver(machine, profile, config.agent.state_dir)
        except ValueError as err:
            problem = Problem("edge configuration", f"machines.{machine.id}.driver", machine.driver, str(err))
            raise ConfigError([problem]) from err
        prepared[machine.id] = (machine, profile, driver)
    return prepared


async def run(config: EdgeConfig, *, stop: asyncio.Event | None = None) -> None:
    """Run the agent until ``stop`` is set (or SIGTERM/SIGINT arrives)."""
    stop = stop or asyncio.Event()
    prepared = _prepare(config)
    try:
        config.agent.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EdgeAgentError(f"agent.state_dir: cannot create {config.agent.state_dir}: {err}") from err
    stats = AgentStats()
    outbox = CountingOutbox(
        config.agent.state_dir / "outbox.sqlite",
        stats=stats,
        agent=config.agent.id,
        site=config.agent.site,
        event_budget=config.outbox.event_budget,
        telemetry_budget=config.outbox.telemetry_budget,
        retention_s=config.outbox.retention_h * 3600,
    )
    try:
        reassertions = Reassertions()
        publisher = Publisher(
            config.broker,
            outbox,
            machines=tuple(prepared),
            max_inflight=config.outbox.max_inflight,
            stats=stats,
            on_reconnect=reassertions,
        )
        await _serve(config, prepared, outbox, publisher, stop, reassertions=reassertions)
    finally:
        outbox.close()


async def _serve(
    config: EdgeConfig,
    prepared: dict[str, tuple[MachineConfig, Profile | None, Driver]],
    outbox: Outbox,
    publisher: Publisher,
    stop: asyncio.Event,
    *,
    reassertions: Reassertions,
) -> None:
    loop = asyncio.get_running_loop()
    signals = _install_signals(loop, stop)
    stats = publisher.stats
    metrics = await _start_metrics(config, stats, outbox)
    publishing = asyncio.create_task(publisher.run(), name="publisher")
    workers = [
        asyncio.create_task(
            run_machine(
                machine,
                profile=profile,
                outbox=outbox,
                wake=publisher.wake,
                driver=CountingDriver(driver, stats.machine(machine.id)),
                backoff=_backoff(machine),
                reassertions=reassertions,
            ),
            name=f"machine-{machine.id}",
        )
        for machine, profile, driver in prepared.values()
    ]
    workers.append(asyncio.create_task(_housekeeping(outbox), name="housekeeping"))
    logger.info(
        "agent %s at site %s started: %d machines, broker %s:%d",
        config.agent.id, config.agent.site, len(prepared), config.broker.host, config.broker.port,
    )  # fmt: skip
    sdnotify.ready(f"{len(prepared)} machines")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({stopping, publishing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        logger.info("agent stopping")
        sdnotify.stopping()
        stopping.cancel()
        for task in workers:  # drivers first, so nothing new arrives while the publisher settles
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if metrics is not None:
            await metrics.close()
        publisher.stop()
        await publishing
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _start_metrics(config: EdgeConfig, stats: AgentStats, outbox: Outbox) -> MetricsServer | None:
    address = config.agent.metrics_address
    if address is None:
        return None

    def body() -> str:
        events, telemetry, oldest = outbox.backlog()
        age = max(time.time() - oldest, 0.0) if oldest is not None else 0.0
        backlog = Backlog(events, telemetry, age, outbox.over_budget)
        return render(stats, backlog, agent=config.agent.id, site=config.agent.site)

    server = MetricsServer(body)
    try:
        await server.start(*address)
    except OSError as err:
        # Observability must not stop the data: the agent runs on, and the scraper reports the target down.
        logger.error(  # noqa: TRY400 - one line, no traceback
            "agent.metrics_listen: cannot listen on %s: %s; running without /metrics",
            config.agent.metrics_listen, err.strerror or err,
        )  # fmt: skip
        return None
    logger.info("metrics on http://%s/metrics", config.agent.metrics_listen)
    return server


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not available outside the main thread (tests may run the agent in one).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    return installed


async def _housekeeping(outbox: Outbox) -> None:
    watchdog_s = sdnotify.watchdog_interval_s()
    interval = min(PRUNE_INTERVAL_S, watchdog_s) if watchdog_s else PRUNE_INTERVAL_S
    last_prune = 0.0
    loop = asyncio.get_running_loop()
    while True:
        if loop.time() - last_prune >= PRUNE_INTERVAL_S or last_prune == 0.0:
            last_prune = loop.time()
            try:
                deleted = outbox.prune()
            except EdgeAgentError as err:
                logger.warning("outbox prune failed: %s", err)
            else:
                stats = outbox.stats()
                logger.info(
                    "outbox: %d pruned, %d events and %d telemetry unsent, %d telemetry dropped, next seq %d",
                    deleted, stats.unsent_events, stats.unsent_telemetry, stats.dropped_telemetry, stats.next_seq,
                )  # fmt: skip
        sdnotify.watchdog()
        await asyncio.sleep(interval)


def _print_problems(err: ConfigError) -> None:
    for problem in err.problems:
        print(problem, file=sys.stderr)


def main(config_path: Path) -> int:
    # asyncua reports every reconnect attempt at INFO; the drivers say what matters.
    logs.setup(quiet=["asyncua"])
    config = _load_for_run(config_path)
    if config is None:
        return EXIT_CONFIG
    try:
        asyncio.run(run(config))
    except ConfigError as err:
        _print_problems(err)
        return EXIT_CONFIG
    except EdgeAgentError as err:
        logger.critical("agent stopped: %s", err)
        return EXIT_FAILURE
    except Exception as err:
        logger.critical("agent stopped on an unexpected error: %s", err, exc_info=err)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _load_for_run(config_path: Path) -> EdgeConfig | None:
    """The configuration, or None after printing its problems (the TLS files too: a restart cannot fix them)."""
    try:
        config = edge_config.load(config_path)
    except ConfigError as err:
        _print_problems(err)
        return None
    problems = _check_tls(config, config_path)
    for problem in problems:
        print(problem, file=sys.stderr)
    return None if problems else config


def check(config_path: Path) -> int:
    """Validate the file, every profile it names and every machine's driver options; print the verdict."""
    try:
        config = edge_config.load(config_path)
    except ConfigError as err:
        _print_problems(err)
        return EXIT_CONFIG
    problems = [*_check_machines(config, config_path), *_check_tls(config, config_path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    machines = ", ".join(f"{m.id} ({m.driver}{f', {m.profile}' if m.profile else ''})" for m in config.machines)
    metrics = f", metrics on {config.agent.metrics_listen}" if config.agent.metrics_listen else ""
    print(
        f"ok: {config_path}: agent {config.agent.id} at site {config.agent.site}, "
        f"broker {config.broker.host}:{config.broker.port}{metrics}, {len(config.machines)} machines: {machines}"
    )
    return EXIT_OK


def _check_machines(config: EdgeConfig, path: Path) -> list[str]:
    problems: list[str] = []
    for machine in config.machines:
        try:
            profile = load_profile(machine, config.profiles_dir)
        except ConfigError as err:
            problems.extend(f"{path}: machines.{machine.id}.profile: {p}" for p in err.problems)
            continue
        try:
            if profile is not None and profile.profile.driver != machine.driver:
                problems.append(
                    f"{path}: machines.{machine.id}.profile: {machine.profile} is a profile for the "
                    f"{profile.profile.driver!r} driver, but the machine uses {machine.driver!r}"
                )
                continue
            build_driver(machine, profile, config.agent.state_dir)
        except ConfigError as err:
            problems.extend(str(p) for p in err.problems)
        except (ValueError, EdgeAgentError, OSError) as err:
            problems.append(f"{path}: machines.{machine.id}: {err}")
    return problems


def _check_tls(config: EdgeConfig, path: Path) -> list[str]:
    tls = config.broker.tls
    if tls is None:
        return []
    problems = tlsfiles.problems(path, ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file)
    return [str(problem) for problem in problems]
