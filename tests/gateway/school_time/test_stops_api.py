"""Stops through the API on real SQLite and PostgreSQL: listed, classified at the kiosk and by a master,
planned stops taken off planned busy time, exported as CSV."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from gateway.store.models import AuditEntry, StopClassification
from tests.gateway.records.conftest import World, add_state, at, site_client

MONDAY = "2026-11-23"


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _morning(w: World) -> None:
    """Cutting 8:00-9:00, idle 9:00-9:20 (a stop), cutting, 3 min idle at 10:00 (no stop), cutting, stopped
    (alarm time) 10:10-10:37, cutting since."""
    mill = w.machines["mill"]
    steps = ((0, "ACTIVE"), (60, "READY"), (80, "ACTIVE"), (120, "READY"), (123, "ACTIVE"), (130, "STOPPED"))
    for minute, execution in (*steps, (157, "ACTIVE")):
        add_state(w.sessions, mill, at(minute), "AVAILABLE", execution)
    w.clock.now = at(180)


async def test_stops_are_listed_unclassified_then_classified(world: World) -> None:
    w = world
    await _morning(w)
    found = await w.ok("GET", "/api/stops", params={"date": MONDAY, "machine": "mill"})
    assert [(s["start"], s["seconds"], s["reason"]) for s in found] == [
        (z(at(60)), 1200, None),
        (z(at(130)), 1620, "panne"),  # an alarm: "panne" pre-filled, the site's default
    ]
    # Check in Léa at the kiosk: she says why the machine stopped last.
    response = await w.call("POST", "/api/stops/classify", "kiosk", json={"started": z(at(130)), "reason": "panne"})
    assert response.json()["detail"]["code"] == "stop_needs_student"
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"]})
    last = await w.ok("GET", "/api/stops/last", "kiosk")
    assert last["start"] == z(at(130))
    earlier = await w.call("POST", "/api/stops/classify", "kiosk", json={"started": z(at(60)), "reason": "cours"})
    assert earlier.json()["detail"]["code"] == "stop_not_found"  # the kiosk classifies only the last one
    said = await w.ok("POST", "/api/stops/classify", "kiosk", json={"started": z(at(130)), "reason": "controle"})
    assert (said["reason"], said["category"]) == ("controle", "setup")
    # A master classifies the first as a lesson (planned downtime) and corrects the second.
    await w.ok("POST", "/api/stops/classify", json={"machine": "mill", "started": z(at(60)), "reason": "cours"})
    await w.ok("POST", "/api/stops/classify", json={"machine": "mill", "started": z(at(130)), "reason": "panne"})
    found = await w.ok("GET", "/api/stops", params={"date": MONDAY, "machine": "mill"})
    assert [(s["reason"], s["category"], s["prefilled"]) for s in found] == [
        ("cours", "planned", False),
        ("panne", "technical", False),
    ]
    assert w.count(StopClassification) == 2
    with w.sessions() as db:
        entities = [e.entity for e in db.query(AuditEntry).filter(AuditEntry.entity == "stop_classification")]
    assert len(entities) == 3
    report = (await w.ok("GET", "/api/reports/oee", params={"date": MONDAY, "machine": "mill"}))[0]
    # Planned 8:00-11:00 so far; the 20-minute lesson is planned downtime: PBT 2 h 40.
    assert (report["planned_s"], report["planned_downtime_s"], report["planned_busy_s"]) == (10800, 1200, 9600)
    assert report["availability"] == pytest.approx(report["actual_production_s"] / 9600)


async def test_hostile_classifications_are_refused(world: World) -> None:
    w = world
    await _morning(w)
    unknown = {"machine": "mill", "started": z(at(61)), "reason": "cours"}
    assert (await w.call("POST", "/api/stops/classify", json=unknown)).json()["detail"]["code"] == "stop_not_found"
    bad_reason = {"machine": "mill", "started": z(at(60)), "reason": "sieste"}
    response = await w.call("POST", "/api/stops/classify", json=bad_reason)
    assert response.json()["detail"]["code"] == "stop_reason_not_found"
    injected = {"machine": "mill", "started": z(at(60)), "reason": "=cmd()"}
    assert (await w.call("POST", "/api/stops/classify", json=injected)).status_code == 422
    assert (await w.call("GET", "/api/stops", "student")).status_code == 403


async def test_alarms_prefill_breakdown_where_the_school_says_so(world: World) -> None:
    w = world
    await _morning(w)
    found = await w.ok("GET", "/api/stops", params={"date": MONDAY, "machine": "mill"})
    assert [(s["alarm"], s["reason"], s["prefilled"]) for s in found] == [(False, None, False), (True, "panne", True)]
    await w.ok("PATCH", "/api/calendars/lyon", json={"alarm_prefills_breakdown": False})
    found = await w.ok("GET", "/api/stops", params={"date": MONDAY, "machine": "mill"})
    assert [s["reason"] for s in found] == [None, None]


async def test_reason_codes_are_edited_per_site(world: World) -> None:
    w = world
    reasons = await w.ok("GET", "/api/stop-reasons/lyon")
    assert [r["code"] for r in reasons][:3] == ["reglage", "changement_outil", "controle"]
    assert {r["category"] for r in reasons} == {"setup", "organisation", "technical", "planned"}
    added = await w.ok("POST", "/api/stop-reasons/lyon", json={"code": "essai", "label": "Essai", "category": "setup"})
    assert added["active"] is True
    again = await w.call("POST", "/api/stop-reasons/lyon", json={"code": "essai", "label": "X", "category": "setup"})
    assert again.json()["detail"]["code"] == "stop_reason_code_taken"
    await w.ok("PATCH", "/api/stop-reasons/lyon/cours", json={"active": False})
    reasons = {r["code"]: r for r in await w.ok("GET", "/api/stop-reasons/lyon")}
    assert reasons["cours"]["active"] is False
    assert reasons["essai"]["label"] == "Essai"


async def test_the_stops_csv_in_both_flavours(world: World) -> None:
    w = world
    await _morning(w)
    sheet = await w.call("GET", "/api/stops/export.csv", params={"date": MONDAY})
    text = sheet.content.decode("utf-8")
    assert text.startswith("\ufeffMachine;Début;Fin;Durée;Cause;Catégorie;Alarme;Pré-rempli")
    assert "lyon/mill;23/11/2026 09:00;23/11/2026 09:20;0:20;non renseigné;non renseigné;non;non" in text
    raw = (await w.call("GET", "/api/stops/export.csv", params={"date": MONDAY, "format": "raw"})).text
    assert raw.splitlines()[0] == "machine,start,end,duration,reason,category,alarm,prefilled"
    assert "lyon/mill,2026-11-23T09:00:00+00:00,2026-11-23T09:20:00+00:00,1200.0," in raw


async def test_the_report_page_shows_stops_by_category_and_a_pareto_that_sums_to_the_lost_time(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await _morning(w)
    await w.ok("POST", "/api/stops/classify", json={"machine": "mill", "started": z(at(60)), "reason": "reglage"})
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get("/utilisation?week=2026-W48", headers=w.as_("admin"))
    assert page.status_code == 200
    text = page.text
    assert '<svg class="chart pareto"' in text
    rows = re.findall(r'<tr data-reason="(\w+)"><td>([^<]+)</td><td class="num">(\d+:\d\d)</td>', text)
    assert [(code, hours) for code, _, hours in rows] == [("panne", "0:27"), ("reglage", "0:20")]
    lost = re.search(r'id="lost">(\d+:\d\d)<', text)
    assert lost is not None
    assert lost[1] == "0:47"  # 27 + 20 minutes: the Pareto sums to the lost time
    setup = re.search(r'data-category="setup"><span>[^<]+</span><strong>(\d+:\d\d)<', text)
    assert setup is not None
    assert setup[1] == "0:20"
