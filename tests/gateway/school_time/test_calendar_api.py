"""``/api/calendars``: a site's opening calendar edited through the API, validated, audited, on both databases."""

from __future__ import annotations

from gateway.store.models import AuditEntry
from tests.gateway.records.conftest import World


async def test_a_site_without_a_calendar_has_the_school_week(world: World) -> None:
    found = await world.ok("GET", "/api/calendars/lyon")
    assert found["week"][:5] == ["08:00-12:00, 13:00-17:00"] * 5
    assert found["week"][5:] == ["", ""]
    assert found["public_holidays"] == "national"
    assert found["stop_threshold_s"] == 300
    sites = await world.ok("GET", "/api/calendars")
    assert [c["site"] for c in sites] == ["lyon"]


async def test_the_calendar_is_edited_and_audited(world: World) -> None:
    week = ["8h-17h"] * 5 + ["", "-"]
    body = {"week": week, "timezone": "Europe/Paris", "school_zone": "A", "public_holidays": "alsace-moselle"}
    saved = await world.ok("PATCH", "/api/calendars/lyon", json=body)
    assert saved["week"] == ["08:00-17:00"] * 5 + ["", ""]
    assert saved["school_zone"] == "A"
    assert saved["public_holidays"] == "alsace-moselle"
    again = await world.ok("PATCH", "/api/calendars/lyon", json={"school_zone": None})
    assert again["school_zone"] is None
    with world.sessions() as db:
        actions = [(e.action, e.entity) for e in db.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions[-2:] == [("create", "site_calendar"), ("update", "site_calendar")]


async def test_closures_and_exceptions_are_added_and_removed(world: World) -> None:
    closure = await world.ok(
        "POST", "/api/calendars/lyon/closures", json={"first": "2026-12-21", "last": "2027-01-01", "label": "Noël"}
    )
    extra = {"machine": "mill", "first": "2026-11-28", "last": "2026-11-28", "kind": "extra"}
    extra |= {"start_time": "09:00", "end_time": "12:00", "label": "portes ouvertes"}
    exception = await world.ok("POST", "/api/calendars/lyon/exceptions", json=extra)
    found = await world.ok("GET", "/api/calendars/lyon")
    assert [c["label"] for c in found["closures"]] == ["Noël"]
    assert [(e["machine"], e["kind"], e["start_time"]) for e in found["exceptions"]] == [("mill", "extra", "09:00")]
    await world.ok("DELETE", f"/api/calendars/closures/{closure['id']}")
    await world.ok("DELETE", f"/api/calendars/exceptions/{exception['id']}")
    found = await world.ok("GET", "/api/calendars/lyon")
    assert found["closures"] == []
    assert found["exceptions"] == []
    with world.sessions() as db:
        entities = {e.entity for e in db.query(AuditEntry).filter(AuditEntry.action == "delete")}
    assert entities == {"calendar_closure", "calendar_exception"}


async def test_hostile_calendars_are_refused_with_a_code(world: World) -> None:
    cases = [
        ({"week": ["25:00-26:00"] + [""] * 6}, "opening_hours_invalid"),
        ({"week": ["12:00-08:00"] + [""] * 6}, "opening_hours_invalid"),
        ({"week": ["08:00-12:00, 11:00-13:00"] + [""] * 6}, "opening_hours_invalid"),
        ({"timezone": "Mars/Olympus"}, "time_zone_unknown"),
    ]
    for body, code in cases:
        response = await world.call("PATCH", "/api/calendars/lyon", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"]["code"] == code
    reversed_dates = {"first": "2026-12-21", "last": "2026-12-01", "label": "x"}
    response = await world.call("POST", "/api/calendars/lyon/closures", json=reversed_dates)
    assert response.json()["detail"]["code"] == "dates_reversed"
    no_hours = {"machine": "mill", "first": "2026-11-28", "last": "2026-11-28", "kind": "extra"}
    response = await world.call("POST", "/api/calendars/lyon/exceptions", json=no_hours)
    assert response.json()["detail"]["code"] == "exception_hours_needed"
    assert (await world.call("GET", "/api/calendars/lyon", role="student")).status_code == 403
    assert (await world.call("GET", "/api/calendars/a%20b")).status_code == 422
