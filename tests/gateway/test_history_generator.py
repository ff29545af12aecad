"""``bench.history`` (issue 18) writes history the gateway reads as its own: a week of a small school, fast.

The generator runs as the command a benchmark runs (``python -m bench.history``): tests and bench never
import each other. Then the real app, over the same SQLite file, renders the master's pages from it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text

from gateway.config import DatabaseSection, GatewaySection, GatewaySettings, RecordsSection
from gateway.live import LiveView
from gateway.store.attribution_repo import Attribution, attribute, spans_of
from gateway.store.db import make_engine, session_factory
from gateway.store.models import WorkSessionRecord
from gateway.web.app import create_app
from gateway.web.services import Services

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # the generator's "now": the evening of its last day
MASTER = {"username": "bench-master", "password": "bench-master-pass"}


def generate(url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.history", url, *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one() or 0)
    finally:
        engine.dispose()


def test_a_week_of_history_is_consistent_and_the_pages_render_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    printed = generate(url, "0.02", "1", "3")  # 7 days, one school, 3 machines
    assert "rows in" in printed
    cycles = scalar(url, "SELECT count(*) FROM cycles")
    assert cycles > 300  # 6 school days × 3 machines × about a hundred
    # Each completed cycle counted its part at its end; aborted ones none.
    completed = scalar(url, "SELECT count(*) FROM cycles WHERE outcome = 'completed'")
    assert scalar(url, "SELECT sum(count) FROM part_counts") == completed
    assert scalar(url, "SELECT count(*) FROM part_counts p LEFT JOIN cycles c ON c.machine_id = p.machine_id "
                       "AND c.ended = p.ts WHERE c.id IS NULL") == 0  # fmt: skip
    assert scalar(url, "SELECT count(*) FROM cycles WHERE ended <= started") == 0
    # Every cycle falls in a work session of its machine; the machines run on school days only (Friday 20 to
    # Friday 27 November: no weekend).
    outside = (
        "SELECT count(*) FROM cycles c WHERE NOT EXISTS (SELECT 1 FROM work_sessions w WHERE "
        "w.machine_id = c.machine_id AND w.started <= c.started AND c.ended <= w.ended)"
    )
    assert scalar(url, outside) == 0
    assert scalar(url, "SELECT count(*) FROM state_changes WHERE ts < '2026-11-20' OR ts >= '2026-11-28'") == 0
    assert scalar(url, "SELECT count(*) FROM state_changes WHERE strftime('%w', ts) IN ('0', '6')") == 0
    # Sessions on one machine never overlap, as check-in guarantees.
    overlapping = (
        "SELECT count(*) FROM work_sessions a JOIN work_sessions b ON a.machine_id = b.machine_id AND a.id < b.id "
        "AND a.started < b.ended AND b.started < a.ended"
    )
    assert scalar(url, overlapping) == 0
    # Nor do a student's sessions, on any machine: check-in refuses a student already at a machine.
    busy = overlapping.replace("a.machine_id = b.machine_id", "a.student_id = b.student_id")
    assert scalar(url, busy) == 0
    _windows_attribute_as_one_span(url)
    asyncio.run(_pages_render(url))


def _windows_attribute_as_one_span(url: str) -> None:
    """A student's sessions read window by window (``spans_of``) own exactly what one span from her first
    check-in to her last would give them, with everybody else's work in between left unread."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            for student_id in db.scalars(select(WorkSessionRecord.student_id).distinct().limit(5)):
                rows = list(db.scalars(select(WorkSessionRecord).where(WorkSessionRecord.student_id == student_id)))
                mine = {r.id for r in rows}
                whole = {
                    m: (
                        min(r.started for r in rows if r.machine_id == m),
                        max(r.ended or r.started for r in rows if r.machine_id == m),
                    )
                    for m in {r.machine_id for r in rows}
                }  # every generated session is closed
                by_window = attribute(db=db, spans=spans_of(rows), assigned_to=mine)
                by_span = attribute(db=db, spans=whole, assigned_to=mine)
                assert _owned(by_window, mine) == _owned(by_span, mine) != (set(), set())
    finally:
        engine.dispose()


def _owned(found: Attribution, mine: set[int]) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    cycles = {(c.row.id, c.owner.id) for c in found.cycles if c.owner is not None and c.owner.id in mine}
    parts = {(p.row.id, p.owner.id) for p in found.parts if p.owner is not None and p.owner.id in mine}
    return cycles, parts


async def _pages_render(url: str) -> None:
    settings = GatewaySettings(
        gateway=GatewaySection(id="t"), database=DatabaseSection(url=url), records=RecordsSection()
    )
    app = create_app(settings, Services(live=LiveView()))
    app.state.records.clock = lambda: NOW
    order = scalar(url, "SELECT order_id FROM work_sessions WHERE order_id IS NOT NULL LIMIT 1")
    student = scalar(url, "SELECT student_id FROM work_sessions WHERE student_id IS NOT NULL LIMIT 1")
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            login = await client.post("/api/auth/login", json=MASTER)
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            for path in (
                "/orders",
                f"/orders/{order}",
                f"/students/{student}/log",
                "/utilisation?week=2026-W48",
                "/api/reports/orders.csv",
            ):
                response = await client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.text[:300])
            oee = (await client.get("/api/reports/oee?period=week&date=2026-11-23", headers=headers)).json()
            assert len(oee) == 3
            assert all(0 < row["availability"] <= 1 for row in oee), oee
            stops = (await client.get("/api/stops?period=week&date=2026-11-23", headers=headers)).json()
            assert any(s["reason"] is not None for s in stops)  # the generator's classifications meet derived stops
    finally:
        app.state.records.close()
