"""``python -m bench pages``: how each page a master uses grows with years of history (issue 18).

For each size of history (``bench.history``: 1 month, 1 year, 3 years of one school on SQLite by
default) it starts the real gateway app (``gateway.web.app.create_app``, pages and API, no
ingest) in this process, logs in as a master, and times every page and report: cold (the first
request after the app starts, a fresh app each time) and warm (repeated). Beside each page, in
the same run, the bare SQL aggregate that reads the same rows, so the ratio shows what the code
adds. Then a growth table, each page's time against the rows it shows, and a summary of the issue's targets
(``bench.targets``: every page p95 < 300 ms at three years, no page faster than linear, the network page
p95 < 1 s), with the load average of each run: the machine may be shared.

Knobs (environment): ``BENCH_PAGES_SIZES`` (years, comma separated: ``0.083,1,3``),
``BENCH_PAGES_MACHINES`` (20), ``BENCH_PAGES_WARM`` (most warm samples, 15), ``BENCH_PAGES_COLD`` (3),
``BENCH_PAGES_BUDGET_S`` (stop repeating a page after this long, at least one cold and one warm
sample, 20), ``BENCH_PAGES_DIR`` (keep the generated databases there and reuse them; default a
temporary folder),
``BENCH_PAGES_SKIP`` (pages whose name holds one of these words, comma separated, are left out),
``BENCH_PAGES_PG_SITES`` (0: skip; e.g. 35 for the network's per-site aggregate on PostgreSQL, with
``BENCH_PAGES_PG_YEARS``, 1, and ``BENCH_PAGES_PG_MACHINES``, 20), ``BENCH_PAGES_JSON`` (write the figures
there too: ``python -m bench.targets FILE`` judges them again).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from bench.common import PG_ADMIN_URL, percentile, workdir
from bench.history import ADMIN, END, NOW, ZONE, Spec, generate
from bench.targets import NETWORK_TARGET_MS, PageRun, SizeRun, growth_lines, page_line, summary_lines, to_json, verdict
from gateway.config import DatabaseSection, GatewaySection, GatewaySettings, RecordsSection
from gateway.live import LiveView
from gateway.rollup_job import one_round
from gateway.store.db import Database, make_engine, upgrade
from gateway.store.reports_repo import machine_reports
from gateway.store.session_backlog import due_chunks
from gateway.web.app import create_app
from gateway.web.services import Services

WEEK = date(2026, 11, 23)  # the last week of history, Monday
# A year back from the day after the last one, at the school's local midnight, as a year page would ask for it
# (at 00:00 UTC its first day would be a partial day, computed from raw rows every time).
YEAR_START = datetime(2025, 11, 28, tzinfo=ZoneInfo(ZONE))


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # GET this (with {order} and {student} filled in); empty: ``call`` instead
    baseline: str  # the bare SQL that reads the same rows (named parameters as for the path)
    shows: str  # SQL counting the rows the page shows: what its time should grow with at most linearly
    shows_what: str
    call: Callable[[Any], object] | None = None  # for what has no page: a function of the app


def _utilisation_year(app: Any) -> object:
    """A year of utilisation, as the week page computes a week: there is no year page yet."""
    state = app.state.records
    with state.reading(None) as db:  # the whole store, every site
        return machine_reports(db=db, start=YEAR_START, end=NOW, now=NOW, zone=state.settings.timezone)


SESSIONS_OF_ORDER = "SELECT machine_id, started, ended FROM work_sessions WHERE order_id = :order"
IN_SESSIONS = "JOIN work_sessions w ON w.machine_id = {t}.machine_id AND {t}.{ts} >= w.started AND {t}.{ts} <= w.ended"
MACHINES = ("SELECT count(*) FROM machines", "machines")
WEEK_DAYS = ("SELECT count(*) * 7 FROM machines", "machine-days of the week: constant")
OPEN_ORDERS = ("SELECT count(*) FROM orders WHERE status IN ('open', 'in_progress')", "open orders")


def _sessions_and_cycles(column: str, param: str) -> str:
    return (
        f"SELECT (SELECT count(*) FROM work_sessions WHERE {column} = :{param}) + "
        f"(SELECT count(*) FROM cycles c {IN_SESSIONS.format(t='c', ts='ended')} WHERE w.{column} = :{param})"
    )


STUDENT = (_sessions_and_cycles("student_id", "student"), "the student's sessions and cycles")
PAGES = (
    Page("wall /", "/", "SELECT id, site, name, last_state FROM machines", *MACHINES),
    Page("wall /api/machines", "/api/machines", "SELECT id, site, name, last_state FROM machines", *MACHINES),
    Page(
        "order board",
        "/orders",
        "SELECT w.order_id, sum(p.count) FROM part_counts p "
        + IN_SESSIONS.format(t="p", ts="ts")
        + " JOIN orders o ON o.id = w.order_id WHERE o.status IN ('open', 'in_progress') GROUP BY w.order_id",
        *OPEN_ORDERS,
    ),
    Page(
        "one order",
        "/orders/{order}",
        "SELECT count(*), sum(c.duration_s), sum(c.parts) FROM cycles c "
        + IN_SESSIONS.format(t="c", ts="ended")
        + " WHERE w.order_id = :order",
        _sessions_and_cycles("order_id", "order"),
        "the order's sessions and cycles",
    ),
    Page(
        "practice log",
        "/students/{student}/log",
        "SELECT count(*), sum(c.duration_s), sum(c.parts) FROM cycles c "
        + IN_SESSIONS.format(t="c", ts="ended")
        + " WHERE w.student_id = :student",
        *STUDENT,
    ),
    Page(
        "practice log PDF",
        "/students/{student}/log.pdf",
        "SELECT count(*), sum(c.duration_s), sum(c.parts) FROM cycles c "
        + IN_SESSIONS.format(t="c", ts="ended")
        + " WHERE w.student_id = :student",
        *STUDENT,
    ),
    Page(
        "utilisation week",
        f"/utilisation?week={WEEK.isocalendar().year}-W{WEEK.isocalendar().week:02d}",
        "SELECT machine_id, count(*), min(ts), max(ts) FROM state_changes WHERE ts >= :week AND ts < :week_end "
        "GROUP BY machine_id",
        *WEEK_DAYS,
    ),
    Page(
        "utilisation year (no page: machine_reports)",
        "",
        "SELECT machine_id, count(*), min(ts), max(ts) FROM state_changes WHERE ts >= :year GROUP BY machine_id",
        "SELECT count(*) FROM machine_days WHERE day >= :year_day",
        "machine-days of the year",
        call=_utilisation_year,
    ),
    Page(
        "OEE report (week)",
        f"/api/reports/oee?period=week&date={WEEK}",
        "SELECT machine_id, count(*), sum(duration_s), sum(parts) FROM cycles WHERE ended >= :week "
        "AND ended < :week_end GROUP BY machine_id",
        *WEEK_DAYS,
    ),
    Page(
        "stops Pareto (week)",
        f"/api/stops?period=week&date={WEEK}",
        "SELECT machine_id, count(*), min(ts), max(ts) FROM state_changes WHERE ts >= :week AND ts < :week_end "
        "GROUP BY machine_id",
        *WEEK_DAYS,
    ),
    Page(
        "stops CSV (week)",
        f"/api/stops/export.csv?period=week&date={WEEK}",
        "SELECT machine_id, count(*), min(ts), max(ts) FROM state_changes WHERE ts >= :week AND ts < :week_end "
        "GROUP BY machine_id",
        *WEEK_DAYS,
    ),
    Page(
        "orders CSV",
        "/api/reports/orders.csv",
        "SELECT w.order_id, sum(p.count) FROM part_counts p "
        + IN_SESSIONS.format(t="p", ts="ts")
        + " GROUP BY w.order_id",
        "SELECT count(*) FROM orders",
        "orders",
    ),
    Page(
        "practice logs CSV",
        "/api/reports/practice-logs.csv",
        "SELECT w.student_id, count(*), sum(c.duration_s) FROM cycles c "
        + IN_SESSIONS.format(t="c", ts="ended")
        + " GROUP BY w.student_id",
        "SELECT count(*) FROM work_sessions WHERE student_id IS NOT NULL",
        "students' sessions",
    ),
    Page(
        # What a master exports for the class she teaches: the class of the student above.
        "practice logs CSV, one class",
        "/api/reports/practice-logs.csv?class_name={klass}",
        "SELECT w.student_id, count(*), sum(c.duration_s) FROM cycles c "
        + IN_SESSIONS.format(t="c", ts="ended")
        + " JOIN students s ON s.id = w.student_id WHERE s.class_name = :klass GROUP BY w.student_id",
        "SELECT count(*) FROM work_sessions w JOIN students s ON s.id = w.student_id WHERE s.class_name = :klass",
        "the class's sessions",
    ),
)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@contextmanager
def gateway_app(url: str) -> Iterator[tuple[Any, TestClient, dict[str, str]]]:
    """The real gateway app over ``url`` on the history's clock, with a master's bearer token."""
    settings = GatewaySettings(
        gateway=GatewaySection(id="bench"), database=DatabaseSection(url=url), records=RecordsSection()
    )
    app = create_app(settings, Services(live=LiveView()))
    app.state.records.clock = lambda: NOW
    try:
        with TestClient(app, base_url="http://gateway") as client:
            login = client.post("/api/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
            login.raise_for_status()
            yield app, client, {"Authorization": f"Bearer {login.json()['token']}"}
    finally:
        app.state.records.close()


def subjects(engine: Engine) -> dict[str, Any]:
    """The order and the student a master would open: the ones with the most work sessions."""
    with engine.connect() as conn:
        order = conn.execute(
            text(
                "SELECT order_id FROM work_sessions WHERE order_id IS NOT NULL GROUP BY order_id "
                "ORDER BY count(*) DESC, order_id LIMIT 1"
            )
        ).scalar_one()
        student = conn.execute(
            text(
                "SELECT w.student_id FROM work_sessions w JOIN students s ON s.id = w.student_id WHERE s.active "
                "GROUP BY w.student_id ORDER BY count(*) DESC, w.student_id LIMIT 1"
            )
        ).scalar_one()
        klass = conn.execute(text("SELECT class_name FROM students WHERE id = :s"), {"s": student}).scalar_one()
    week = datetime.combine(WEEK, datetime.min.time(), tzinfo=NOW.tzinfo)
    return {
        "order": order,
        "student": student,
        "klass": klass,
        "week": week,
        "week_end": week + timedelta(days=7),
        "year": YEAR_START,
        "year_day": YEAR_START.date(),
    }


def bare_ms(engine: Engine, sql: str, params: dict[str, Any], repeat: int = 5) -> list[float]:
    found = []
    with engine.connect() as conn:
        wanted = {k: v for k, v in params.items() if f":{k}" in sql}
        for _ in range(repeat):
            began = time.perf_counter()
            conn.execute(text(sql), wanted).all()
            found.append((time.perf_counter() - began) * 1000)
    return found


CPU_MS: dict[str, list[float]] = {}  # page → CPU time of its warm requests (this process: app and client)


def request_ms(
    app: Any, client: TestClient, headers: dict[str, str], page: Page, params: dict[str, Any]
) -> tuple[float, int]:
    """Wall time of one request; its CPU time goes to ``CPU_MS``: on a shared machine, the steadier figure."""
    began, cpu = time.perf_counter(), time.process_time()
    if page.call is not None:
        page.call(app)
        status = 0
    else:
        response = client.get(page.path.format(**params), headers=headers)
        status = response.status_code
        response.read()
    CPU_MS.setdefault(page.name, []).append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - began) * 1000, status


def summarise_all(url: str) -> None:
    """What the gateway's hourly job does in its first rounds after an upgrade: every finished day summarised,
    every finished session's row prepared (over as many rounds as its budget needs). The pages are then timed
    as they run every day after (``machine_days`` and ``session_cycles`` current, today from raw). A store kept
    from an earlier run (``BENCH_PAGES_DIR``) is first brought to the current schema, as the gateway does."""
    upgrade(url)
    database = Database.at(url)
    before: int | None = None
    try:
        for number in range(1, 100):
            began = time.perf_counter()
            one_round(database, RecordsSection(), NOW)
            with database.reading() as db:
                left = sum(len(ids) for ids in due_chunks(db, now=NOW, zone=ZONE))
            print(
                f"  the hourly job's round {number} (days summarised, sessions prepared): "
                f"{time.perf_counter() - began:.1f} s, {left:,} sessions left",
                flush=True,
            )
            if not left or left == before:  # done, or no headway (PostgreSQL's grace: the next round will)
                break
            before = left
    finally:
        database.close()


def time_pages(url: str) -> dict[str, PageRun]:
    engine = make_engine(url)
    params = subjects(engine)
    cold_n, warm_n = int(_env("BENCH_PAGES_COLD", "3")), int(_env("BENCH_PAGES_WARM", "15"))
    budget = float(_env("BENCH_PAGES_BUDGET_S", "20"))
    skipped = [word for word in _env("BENCH_PAGES_SKIP", "").split(",") if word]
    pages = [p for p in PAGES if not any(word in p.name for word in skipped)]
    cold: dict[str, list[float]] = {p.name: [] for p in pages}
    statuses: dict[str, int] = {}
    for _ in range(cold_n):
        for page in pages:  # a fresh app per page: the first request after start
            if cold[page.name] and cold[page.name][0] > budget * 1000:
                continue  # one sample of a page this slow says enough
            with gateway_app(url) as (app, client, headers):
                ms, statuses[page.name] = request_ms(app, client, headers, page, params)
                cold[page.name].append(ms)
    timings: dict[str, PageRun] = {}
    CPU_MS.clear()
    with gateway_app(url) as (app, client, headers):
        for page in pages:
            warm: list[float] = []
            began = time.perf_counter()
            while len(warm) < warm_n and (not warm or time.perf_counter() - began < budget):
                warm.append(request_ms(app, client, headers, page, params)[0])
            bare = bare_ms(engine, page.baseline, params)
            timings[page.name] = PageRun(
                cold[page.name], warm, CPU_MS[page.name], bare, statuses[page.name], shown(engine, page, params),
                page.shows_what,
            )  # fmt: skip
    engine.dispose()
    return timings


def shown(engine: Engine, page: Page, params: dict[str, Any]) -> int:
    """The rows ``page`` shows (``Page.shows``)."""
    with engine.connect() as conn:
        wanted = {k: v for k, v in params.items() if f":{k}" in page.shows}
        return int(conn.execute(text(page.shows), wanted).scalar_one() or 0)


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {
            name: int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in ("cycles", "state_changes", "part_counts", "work_sessions", "orders", "students")
        }
    engine.dispose()
    return found


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def sqlite_sizes(root: Path) -> list[SizeRun]:
    machines = int(_env("BENCH_PAGES_MACHINES", "20"))
    results = []
    for years in (float(y) for y in _env("BENCH_PAGES_SIZES", "0.083,1,3").split(",")):
        path = root / f"history-{years:g}y-{machines}m.db"
        url = f"sqlite:///{path}"
        label = f"{years:g} year(s), 1 school, {machines} machines, SQLite"
        if not path.exists():
            counts = generate(url, Spec(years=years, machines=machines))
            print(f"generated {label}: {counts.total:,} rows in {counts.seconds:.0f} s", flush=True)
        rows = row_counts(url)
        print(f"\n{label}: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()) + f" | {load_average()}", flush=True)
        summarise_all(url)
        timings = time_pages(url)
        for name, timing in timings.items():
            print(page_line(name, timing), flush=True)
        load = load_average()  # after the run: its one-minute figure is the run's
        print(f"  ({load})", flush=True)
        results.append(SizeRun(label, years, load, rows, timings, os.getloadavg()[0], os.cpu_count() or 0))
    return results


def network(root: Path) -> dict[str, Any] | None:
    """A year of 35 schools on PostgreSQL: the per-site utilisation aggregate, computed from every school's
    machines (the network page itself, from the aggregates the schools publish: ``bench network_page``).
    Returns the year's figures for the summary; None when not asked for."""
    sites = int(_env("BENCH_PAGES_PG_SITES", "0"))
    if not sites:
        return None
    found: dict[str, Any] = {}
    years = float(_env("BENCH_PAGES_PG_YEARS", "1"))
    machines = int(_env("BENCH_PAGES_PG_MACHINES", "20"))
    name = f"atelier_bench_history_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        counts = generate(url, Spec(years=years, sites=sites, machines=machines))
        print(f"\ngenerated {years:g} year(s) of {sites} schools × {machines} machines on PostgreSQL: "
              f"{counts.total:,} rows in {counts.seconds:.0f} s | {load_average()}", flush=True)  # fmt: skip
        summarise_all(url)
        engine = make_engine(url)
        week = datetime.combine(WEEK, datetime.min.time(), tzinfo=NOW.tzinfo)
        with gateway_app(url) as (app, _client, _headers):
            state = app.state.records
            for label, start in (("week", week), ("year", YEAR_START)):
                samples = []
                for _ in range(3):
                    began = time.perf_counter()
                    with state.reading(None) as db:  # the whole store, every site
                        machine_reports(db=db, start=start, end=NOW, now=NOW, zone=state.settings.timezone)
                    samples.append((time.perf_counter() - began) * 1000)
                sql = (
                    "SELECT m.site, count(*), sum(c.duration_s), sum(c.parts) FROM cycles c JOIN machines m "
                    "ON m.id = c.machine_id WHERE c.ended >= :start GROUP BY m.site"
                )
                bare = bare_ms(engine, sql, {"start": start}, 3)
                p95 = percentile(samples, 95)
                print(f"  per-site utilisation ({label}, machine_reports of {sites * machines} machines): "
                      f"p50 {percentile(samples, 50):.0f} ms, p95 {p95:.0f} ms (n=3: the max) | bare SQL per-site sum "
                      f"{percentile(bare, 50):.0f} ms | p95 vs {NETWORK_TARGET_MS:.0f} ms: "
                      f"{verdict(p95, NETWORK_TARGET_MS)}", flush=True)  # fmt: skip
                found = {
                    "label": f"per-site utilisation over a {label}, {sites} schools × {machines} machines",
                    "p95_ms": p95,
                    "load": load_average(),
                }
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    _ = root
    return found


def run() -> None:
    print(f"pages: every page a master uses against history up to {END} ({load_average()})", flush=True)
    kept = os.environ.get("BENCH_PAGES_DIR")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        results = sqlite_sizes(Path(kept))
        aggregate = network(Path(kept))
    else:
        with workdir("pages") as root:
            results = sqlite_sizes(root)
            aggregate = network(root)
    print("\n".join(growth_lines(results) + summary_lines(results, aggregate)))
    saved = os.environ.get("BENCH_PAGES_JSON")
    if saved:
        Path(saved).write_text(to_json(results, aggregate))
        print(f"\nfigures written to {saved} (python -m bench.targets {saved} judges them again)")
    print(f"\n{load_average()}")
