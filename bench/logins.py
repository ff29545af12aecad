"""Anonymous logins against the real gateway: what a flood of argon2 work does to everyone else.

The gateway runs as a process (``python -m atelier gateway run``) with the production
argon2id cost. N clients post wrong passwords for an existing master as fast as they
are answered, while one probe times ``GET /api/health`` every 50 ms and the gateway's
RSS is sampled. Baseline: the same probe and RSS on the idle gateway in the same run.
The login throttle is lifted for the run (where the gateway has one), so that every
attempt reaches the password check: the figure is the cost of hashing, not of refusing.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx

from atelier.broker import free_port, wait_for_port
from bench.common import Figure, Process, broker, env_int, gateway_toml, report, rss_mb, workdir
from gateway import admin
from gateway.config import RecordsSection

PROBE_EVERY_S = 0.05


async def _probe(base: str, stop: asyncio.Event) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            await client.get("/api/health")
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(PROBE_EVERY_S)
    return latencies


async def _guesser(base: str, stop: asyncio.Event, answers: dict[int, int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        n = 0
        while not stop.is_set():
            n += 1
            response = await client.post("/api/auth/login", json={"username": "master", "password": f"guess-{n:06d}"})
            answers[response.status_code] = answers.get(response.status_code, 0) + 1


async def _sample_rss(pid: int, stop: asyncio.Event) -> float:
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.1)
    return peak


async def _phase(base: str, pid: int, clients: int, seconds: float) -> tuple[list[float], float, dict[int, int]]:
    stop = asyncio.Event()
    answers: dict[int, int] = {}
    probe = asyncio.create_task(_probe(base, stop))
    rss = asyncio.create_task(_sample_rss(pid, stop))
    guessers = [asyncio.create_task(_guesser(base, stop, answers)) for _ in range(clients)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*guessers)
    return await probe, await rss, answers


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _unthrottled(path: Path) -> None:
    lifted = {"login_failures_per_address": 1_000_000, "login_failures_per_username": 1_000_000}
    known = [f"{k} = {v}\n" for k, v in lifted.items() if k in RecordsSection.model_fields]
    if known:
        path.write_text(path.read_text() + "\n[records]\n" + "".join(known))


def run() -> list[Figure]:
    seconds = env_int("BENCH_LOGINS_SECONDS", 10)
    figures = []
    with workdir("logins") as root, broker(root) as b:
        port = free_port()
        config = gateway_toml(root, b, db_url=f"sqlite:///{root / 'gw.db'}", http_port=port)
        _unthrottled(config)
        assert admin.create_admin(config, "master", "the-right-password") == 0
        gateway = Process(["gateway", "run", "-c", str(config)], root / "gw.log")
        try:
            wait_for_port("127.0.0.1", port, timeout_s=30)
            base = f"http://127.0.0.1:{port}"
            idle, idle_rss, _ = asyncio.run(_phase(base, gateway.pid, 0, seconds / 2))
            print(
                f"== logins: idle /api/health p50 {statistics.median(idle):.1f} ms, "
                f"p99 {_pct(idle, 0.99):.1f} ms; RSS {idle_rss:.0f} MiB",
                flush=True,
            )
            for clients in (8, 16):
                busy, busy_rss, answers = asyncio.run(_phase(base, gateway.pid, clients, seconds))
                print(f"   {clients} guessers: answers {answers}", flush=True)
                checked = sum(v for k, v in answers.items() if k in (401, 200))
                figures += [
                    Figure(
                        f"/api/health p50, {clients} guessers",
                        statistics.median(busy),
                        "ms",
                        "idle p50",
                        statistics.median(idle),
                        "-",
                    ),
                    Figure(
                        f"/api/health p99, {clients} guessers",
                        _pct(busy, 0.99),
                        "ms",
                        "idle p99",
                        _pct(idle, 0.99),
                        "< 100 ms",
                    ),
                    Figure(f"/api/health max, {clients} guessers", max(busy), "ms", "idle max", max(idle), "-"),
                    Figure(f"gateway RSS peak, {clients} guessers", busy_rss, "MiB", "idle", idle_rss, "< 1.5 x idle"),
                    Figure(f"password checks/s, {clients} guessers", checked / seconds, "/s", "-", 0, "-"),
                ]
        finally:
            gateway.stop()
    report(figures)
    return figures
