"""The kiosk's actions: by badge only, idempotent (a double click does one thing), errors that speak French.

Errors carry a stable code and parameters, and a message in the caller's
language with names, machine labels and local times, never an id or UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.config import RecordsSection
from gateway.error_messages import MESSAGES, Named, render
from gateway.store.models import AuditEntry, ScrapRecord, WorkSessionRecord
from tests.gateway.records.conftest import World, at

SCRAP = {"quantity": 2, "reason": "bore oversize", "inspected_by": "M. Roux", "idempotency_key": "k-0001-abcdef"}


async def _tom(w: World) -> int:
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    tom_id = int((await w.ok("POST", "/api/students", json=tom))["id"])
    await w.authorise(tom_id)
    return tom_id


def _audits(w: World, action: str) -> int:
    with w.sessions() as session:
        return session.query(AuditEntry).filter_by(action=action, entity="work_session").count()


# --- issue 12: by badge only ----------------------------------------------------


async def test_a_kiosk_checks_in_by_badge_only_and_a_master_still_may_by_id(world: World) -> None:
    w = world
    refused = await w.call("POST", "/api/sessions/check-in", "kiosk", json={"student_id": w.ids["student"]})
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "kiosk_badge_only"
    assert w.count(WorkSessionRecord) == 0
    made = await w.call(
        "POST", "/api/sessions/check-in", "admin", json={"machine": "mill", "student_id": w.ids["student"]}
    )
    assert made.status_code == 201


async def test_a_kiosk_checks_out_only_with_the_badge_of_the_student_in_the_session(world: World) -> None:
    w = world
    await _tom(w)
    session = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(30)
    bare = await w.call("POST", "/api/sessions/check-out", "kiosk", json={})
    assert (bare.status_code, bare.json()["detail"]["code"]) == (422, "badge_required")
    other = await w.call("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-TOM"})
    assert (other.status_code, other.json()["detail"]["code"]) == (409, "not_your_session")
    unknown = await w.call("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-NOBODY"})
    assert (unknown.status_code, unknown.json()["detail"]["code"]) == (404, "badge_unknown")
    with w.sessions() as s:
        assert s.get_one(WorkSessionRecord, session["id"]).ended is None
    ended = await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    assert (ended["id"], ended["ended"]) == (session["id"], at(30).isoformat().replace("+00:00", "Z"))
    # A master may still end a session without a badge.
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-TOM"})
    assert (await w.call("POST", "/api/sessions/check-out", "admin", json={"machine": "mill"})).status_code == 200


# --- idempotent actions ---------------------------------------------------------


async def test_the_same_check_in_twice_gives_the_same_session(world: World) -> None:
    w = world
    body = {"badge": "B-LEA", "order_id": w.ids["order"]}
    first = await w.call("POST", "/api/sessions/check-in", "kiosk", json=body)
    w.clock.now = at(0.1)
    second = await w.call("POST", "/api/sessions/check-in", "kiosk", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert (w.count(WorkSessionRecord), _audits(w, "create")) == (1, 1)
    # Another order is another request: refused, not merged.
    practice = await w.call("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    assert (practice.status_code, practice.json()["detail"]["code"]) == (409, "student_busy")


async def test_the_same_check_out_twice_ends_the_session_once(world: World) -> None:
    w = world
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(20)
    first = await w.call("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(20.1)
    second = await w.call("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert _audits(w, "check_out") == 1
    # Another badge on the now empty machine is told nobody is there.
    await _tom(w)
    nobody = await w.call("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-TOM"})
    assert (nobody.status_code, nobody.json()["detail"]["code"]) == (409, "nobody_checked_in")


async def test_the_same_scrap_declaration_twice_declares_once(world: World) -> None:
    w = world
    body = {**SCRAP, "order_id": w.ids["order"]}
    first = await w.call("POST", "/api/scrap", "kiosk", json=body)
    second = await w.call("POST", "/api/scrap", "kiosk", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert w.count(ScrapRecord) == 1
    reused = await w.call("POST", "/api/scrap", "kiosk", json={**body, "quantity": 3})
    assert (reused.status_code, reused.json()["detail"]["code"]) == (409, "idempotency_key_reused")
    # Without a key, every declaration is a new one (a master's script may mean it).
    for _ in range(2):
        await w.ok("POST", "/api/scrap", json={k: v for k, v in body.items() if k != "idempotency_key"})
    assert w.count(ScrapRecord) == 3
    progress = await w.ok("GET", f"/api/orders/{w.ids['order']}/progress")
    assert progress["scrap"] == 6


# --- errors with a code, parameters and a French message -----------------------


async def _taken(w: World, role: str, **params: Any) -> dict[str, Any]:
    w.app.state.records.settings = RecordsSection(timezone="Europe/Paris")
    w.clock.now = datetime(2026, 11, 23, 8, 51, tzinfo=UTC)  # 9:51 in Paris
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    await _tom(w)
    response = await w.call("POST", "/api/sessions/check-in", role, json={"badge": "B-TOM"}, params=params)
    assert response.status_code == 409
    detail: dict[str, Any] = response.json()["detail"]
    return detail


async def test_an_error_says_who_where_and_when_in_french_without_ids_or_utc(world: World) -> None:
    detail = await _taken(world, "kiosk")
    assert detail["code"] == "machine_taken"
    assert detail["params"]["machine"] == "lyon/mill"
    assert detail["params"]["since"] == "2026-11-23T08:51:00Z"
    assert detail["message"] == "La machine mill est déjà occupée par Léa M. depuis le 23/11 à 09:51."


async def test_the_message_follows_the_callers_language(world: World) -> None:
    detail = await _taken(world, "kiosk", lang="en")
    assert detail["message"] == "Machine mill is already taken by Léa M. since 23/11 09:51."
    world.client.cookies.set("atelier_lang", "en")
    response = await world.client.post("/api/sessions/check-in", json={"badge": "B-TOM"}, headers=world.as_("kiosk"))
    world.client.cookies.clear()
    assert response.json()["detail"]["message"].startswith("Machine mill is already taken")


def test_a_student_name_is_written_only_for_callers_who_may_read_it() -> None:
    params = {"machine": Named("lyon/mill", "mill"), "student": Named(7, "Léa M.", personal=True), "since": None}
    assert "Léa" in render("machine_taken", params, lang="fr", zone=UTC, names=True)
    hidden = render("machine_taken", params, lang="fr", zone=UTC, names=False)
    assert "Léa" not in hidden
    assert "un élève" in hidden


def test_every_code_has_a_french_and_an_english_message() -> None:
    assert set(MESSAGES["fr"]) == set(MESSAGES["en"])
