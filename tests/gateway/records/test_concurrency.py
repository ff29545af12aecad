"""Fifty kiosk actions at once against the real app, on a real SQLite file and the local PostgreSQL.

The start of a class: every student badges at once, some twice (a double swipe),
two students at the same machine in the same second, others end their session
with a double click, and scrap declarations are sent twice. The requests run
concurrently in the app's worker threads (the ASGI transport hands sync routes to
the same thread pool uvicorn uses). Every effect must happen exactly once, every
refusal must be a 409 that says why, and no request may fail with a 500.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from gateway import auth
from gateway.store import authorisations_repo, students_repo
from gateway.store.models import AuditEntry, Machine, ScrapRecord, WorkSessionRecord
from tests.gateway.records.conftest import World, add_machine, at, site_client

MACHINES = 10
OPEN_FIRST = 5  # machines 0-4 have a session to end; machines 5-9 are free


def _setup(w: World) -> list[str]:
    """Ten machines, each with its kiosk token; twenty students with badges; sessions on machines 0-4."""
    names = [f"m{i}" for i in range(MACHINES)]
    for name in names:
        w.machines[name] = add_machine(w.sessions, name)
    tokens = []
    with w.sessions.begin() as s:
        for i, name in enumerate(names):
            machine = s.get_one(Machine, w.machines[name])
            token, _ = auth.create_api_token(
                db=s, who="t", now=at(0), role="kiosk", label=f"kiosk {i}", machine=machine
            )
            tokens.append(token)
        machine_ids = [w.machines[name] for name in names]
        group = authorisations_repo.create_group(
            db=s, who="t", now=at(0), name="Tous les postes", regulated=True, machine_ids=machine_ids
        )
        for k in range(2 * MACHINES):
            person = {
                "first_name": f"É{k}",
                "last_initial": "D",
                "class_name": "CAP1",
                "track": "CAP",
                "badge": f"B{k}",
            }
            student = students_repo.create_student(db=s, who="t", now=at(0), fields=person)
            grant = {"student_id": student.id, "group_id": group.id, "granted_on": date(2026, 9, 1)}
            grant |= {"training_on": date(2026, 9, 2), "medical_valid_until": date(2027, 8, 31)}
            authorisations_repo.grant(db=s, who="t", now=at(0), fields=grant)
    return tokens


async def _post(client: httpx.AsyncClient, token: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


async def test_fifty_concurrent_kiosk_actions_each_happen_once_and_none_fails(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    tokens = _setup(w)
    order = w.ids["order"]
    async with site_client(databases[backend], w.clock) as client:
        for i in range(OPEN_FIRST):  # students B0-B4 are at machines 0-4 since 8:00
            response = await _post(client, tokens[i], "/api/sessions/check-in", {"badge": f"B{i}", "order_id": order})
            assert response.status_code == 201, response.text
        w.clock.now = at(60)
        calls: list[tuple[str, int, str, dict[str, Any]]] = []
        for i in range(OPEN_FIRST):  # each ends their session with a triple click: 15
            calls += [("out", i, "/api/sessions/check-out", {"badge": f"B{i}"})] * 3
        for i in range(OPEN_FIRST, MACHINES):  # B5-B9 badge three times, B15-B19 twice, on the same machine: 25
            calls += [("in", i, "/api/sessions/check-in", {"badge": f"B{i}", "order_id": order})] * 3
            calls += [("in", i, "/api/sessions/check-in", {"badge": f"B{i + MACHINES}", "order_id": order})] * 2
        for i in range(OPEN_FIRST):  # five scrap declarations, each sent twice: 10
            scrap = {"order_id": order, "quantity": i + 1, "reason": "burr", "inspected_by": "M. Roux"}
            calls += [("scrap", i, "/api/scrap", {**scrap, "idempotency_key": f"scrap-key-{i:04d}"})] * 2
        assert len(calls) == 50
        started = time.perf_counter()
        responses = await asyncio.gather(*(_post(client, tokens[i], path, body) for _, i, path, body in calls))
        elapsed = time.perf_counter() - started

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 201, 409}, [(r.status_code, r.text) for r in responses if r.status_code >= 500]
    by_call: dict[tuple[str, int, str], list[httpx.Response]] = defaultdict(list)
    for (kind, i, _, body), response in zip(calls, responses, strict=True):
        by_call[(kind, i, str(body.get("badge") or body.get("idempotency_key")))].append(response)

    # Check-outs: each session ended once, every click answered with the same ended session.
    for i in range(OPEN_FIRST):
        clicks = by_call[("out", i, f"B{i}")]
        assert {r.status_code for r in clicks} == {200}
        assert len({(r.json()["id"], r.json()["ended"]) for r in clicks}) == 1
    # Check-ins: one student per machine; the winner's swipes all name one session, created once;
    # the other student is told the machine is taken.
    winners = 0
    for i in range(OPEN_FIRST, MACHINES):
        mine, theirs = by_call[("in", i, f"B{i}")], by_call[("in", i, f"B{i + MACHINES}")]
        for swipes, rivals in ((mine, theirs), (theirs, mine)):
            if any(r.status_code < 300 for r in swipes):
                winners += 1
                assert sorted(r.status_code for r in swipes) == [200] * (len(swipes) - 1) + [201]
                assert len({r.json()["id"] for r in swipes}) == 1
                assert {r.json()["detail"]["code"] for r in rivals} == {"machine_taken"}
    assert winners == MACHINES - OPEN_FIRST
    # Scrap: each declaration stored once, both clicks answered with it.
    for i in range(OPEN_FIRST):
        clicks = by_call[("scrap", i, f"scrap-key-{i:04d}")]
        assert sorted(r.status_code for r in clicks) == [200, 201]
        assert clicks[0].json() == clicks[1].json()

    with w.sessions() as s:
        sessions = list(s.scalars(select(WorkSessionRecord)))
        audits = Counter(s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "work_session")))
        declared = list(s.scalars(select(ScrapRecord)))
    assert len(sessions) == MACHINES
    assert sum(1 for r in sessions if r.ended is None) == MACHINES - OPEN_FIRST
    assert len({r.student_id for r in sessions}) == MACHINES  # nobody is in two places
    assert (audits["create"], audits["check_out"]) == (MACHINES, OPEN_FIRST)
    assert sorted(r.quantity for r in declared) == [1, 2, 3, 4, 5]
    print(f"\n{backend}: 50 concurrent kiosk actions in {elapsed:.2f} s, statuses {dict(statuses)}")
