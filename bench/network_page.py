"""``python -m bench network_page``: the network page and its CSV at a year of 35 schools (issues 17 and 18).

It seeds PostgreSQL with what the network's gateway keeps after a year of 35 schools × 20 machines
(``harness.network_year``: a final day message per school and day, today's hours, stored through
``network_repo.keep``), then starts the real gateway app in this process (``bench.pages.gateway_app``) and
times ``/network`` and ``/network.csv``: cold (the first request of a fresh app) and warm (repeated), p50
and p95, beside the bare SQL that sums the same rows. Target (issue 18): p95 < 1 s.

Knobs (environment): ``BENCH_NETWORK_SITES`` (35), ``BENCH_NETWORK_MACHINES`` (20), ``BENCH_NETWORK_DAYS``
(365), ``BENCH_NETWORK_WARM`` (20), ``BENCH_NETWORK_COLD`` (5), ``BENCH_NETWORK_DB`` (reuse this database,
seeded by an earlier run with ``BENCH_NETWORK_KEEP=1``, instead of making one).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

from sqlalchemy import create_engine, text

from bench.common import PG_ADMIN_URL, env_int, percentile
from bench.history import ADMIN, NOW, ZONE
from bench.pages import bare_ms, gateway_app, load_average
from gateway import auth
from gateway.store.db import make_engine, session_factory, upgrade
from harness.network_year import messages, store

TARGET_MS = 1000.0
PATHS = ("/network", "/network.csv")
BARE = (
    "SELECT p.site, p.day, p.period, sum(f.planned_h), sum(f.running_h), sum(f.good) FROM network_periods p "
    "JOIN network_machine_figures f ON f.period_id = p.id WHERE p.day >= :first GROUP BY p.site, p.day, p.period"
)


def _url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def seed(url: str, sites: int, machines: int, days: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        began = time.perf_counter()
        count = store(sessions, messages(sites=sites, machines=machines, days=days, now=NOW, zone=ZONE))
        with sessions.begin() as db:
            auth.create_user(db=db, who="bench", now=NOW, username=ADMIN[0], password=ADMIN[1], role="admin",
                             student_id=None)  # fmt: skip
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM network_machine_figures")).scalar_one()
            conn.execute(text("ANALYZE"))
        print(f"seeded {count:,} aggregates ({rows:,} machine rows) of {sites} schools × {machines} machines "
              f"× {days} days and today's hours in {time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    finally:
        engine.dispose()


def time_pages(url: str) -> None:
    cold_n, warm_n = env_int("BENCH_NETWORK_COLD", 5), env_int("BENCH_NETWORK_WARM", 20)
    cold: dict[str, list[float]] = {p: [] for p in PATHS}
    for _ in range(cold_n):
        for path in PATHS:
            with gateway_app(url) as (_app, client, headers):
                began = time.perf_counter()
                response = client.get(path, headers=headers)
                cold[path].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text[:300]
    engine = make_engine(url)
    first = NOW.date() - timedelta(weeks=8)  # the page's eight weeks
    bare = percentile(bare_ms(engine, BARE, {"first": first}), 50)
    engine.dispose()
    with gateway_app(url) as (_app, client, headers):
        for path in PATHS:
            warm = []
            for _ in range(warm_n):
                began = time.perf_counter()
                response = client.get(path, headers=headers)
                warm.append((time.perf_counter() - began) * 1000)
            p95 = percentile(warm + cold[path], 95)
            print(f"  {path:14} cold p50 {percentile(cold[path], 50):7.1f} p95 {percentile(cold[path], 95):7.1f} | "
                  f"warm p50 {percentile(warm, 50):7.1f} p95 {percentile(warm, 95):7.1f} ms (n={len(warm)}) | "
                  f"bare SQL {bare:6.1f} ms | {'ok' if p95 < TARGET_MS else 'SLOW'} (target p95 < 1000 ms) | "
                  f"{len(response.content):,} bytes", flush=True)  # fmt: skip


def run() -> None:
    sites, machines = env_int("BENCH_NETWORK_SITES", 35), env_int("BENCH_NETWORK_MACHINES", 20)
    days = env_int("BENCH_NETWORK_DAYS", 365)
    print(f"network_page: /network and /network.csv on PostgreSQL ({load_average()})", flush=True)
    reuse = os.environ.get("BENCH_NETWORK_DB")
    admin = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    name = reuse or f"atelier_bench_network_{uuid.uuid4().hex[:8]}"
    try:
        if not reuse:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            seed(_url(name), sites, machines, days)
        time_pages(_url(name))
    finally:
        if not reuse and not os.environ.get("BENCH_NETWORK_KEEP"):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        elif not reuse:
            print(f"kept the database {name} (BENCH_NETWORK_DB={name} reuses it)")
        admin.dispose()
    print(load_average())
