"""The master's calendar page: French by default, server-side checks with the error next to its field and
the typed values kept, audited saves; on SQLite and PostgreSQL through the whole gateway app."""

from __future__ import annotations

from html import unescape

from gateway.store.models import AuditEntry, CalendarClosure, SiteCalendar
from tests.gateway.records.conftest import World, site_client


def _form(**fields: str) -> dict[str, str]:
    base = {f"day{i}": "08:00-12:00, 13:00-17:00" for i in range(5)} | {"day5": "", "day6": ""}
    base |= {"timezone": "Europe/Paris", "public_holidays": "national", "school_zone": "", "threshold_min": "5"}
    return base | fields


async def test_the_calendar_page_saves_and_refuses_with_errors_next_to_fields(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    admin = w.as_("admin")
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get("/calendar?site=lyon", headers=admin)
        assert page.status_code == 200
        assert "Calendrier d'ouverture" in unescape(page.text)
        assert 'value="08:00-12:00, 13:00-17:00"' in page.text
        bad = _form(day2="8h-25h", threshold_min="0", timezone="Lune/Mer")
        refused = await client.post("/calendar?site=lyon", data=bad, headers=admin)
        assert refused.status_code == 422
        assert 'id="error-day2"' in refused.text
        assert "Horaires du jour 3 (1 = lundi) : « 8h-25h » ne se lit pas" in unescape(refused.text)
        assert 'id="error-threshold_min"' in refused.text
        assert 'id="error-timezone"' in refused.text
        assert 'value="8h-25h"' in refused.text  # what was typed stays
        assert 'value="Lune/Mer"' in refused.text
        assert w.count(SiteCalendar) == 0
        good = _form(day5="8h-12h", school_zone="A", alarm_prefills_breakdown="on")
        saved = await client.post("/calendar?site=lyon", data=good, headers=admin, follow_redirects=False)
        assert saved.status_code == 303
        english = await client.get("/calendar?site=lyon&saved=1&lang=en", headers=admin)
        assert "Opening calendar" in english.text
        assert 'value="08:00-12:00"' in english.text  # Saturday, as the gateway writes it
        closure = {"c_first": "2026-12-21", "c_last": "2026-12-18", "c_label": ""}
        refused = await client.post("/calendar/closures?site=lyon", data=closure, headers=admin)
        assert refused.status_code == 422
        assert 'id="error-c_last"' in refused.text
        assert 'id="error-c_label"' in refused.text
        closure = {"c_first": "2026-12-21", "c_last": "2027-01-01", "c_label": "Noël"}
        added = await client.post("/calendar/closures?site=lyon", data=closure, headers=admin, follow_redirects=False)
        assert added.status_code == 303
        gone = await client.post("/calendar/closures/999999/delete?site=lyon", headers=admin)
        assert gone.status_code == 404
        huge = await client.post(f"/calendar/closures/{2**40}/delete?site=lyon", headers=admin)
        assert huge.status_code == 404
        foreign = await client.post(
            "/calendar?site=lyon", data=good, headers={**admin, "Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
        student = await client.get("/calendar?site=lyon", headers=w.as_("student"))
        assert student.status_code == 403
    with w.sessions() as db:
        row = db.query(SiteCalendar).one()
        assert (row.school_zone, row.week[5], row.stop_threshold_s) == ("A", "08:00-12:00", 300)
        assert [c.label for c in db.query(CalendarClosure)] == ["Noël"]
        assert {e.entity for e in db.query(AuditEntry)} >= {"site_calendar", "calendar_closure"}
