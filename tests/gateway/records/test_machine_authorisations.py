"""Machine authorisations at check-in: refused with what is missing and nothing written; the master on duty recorded."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from gateway.store.models import AuditEntry, Authorisation, WorkSessionRecord
from tests.gateway.records.conftest import World

TOM = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
DATES = {"granted_on": "2026-09-01", "training_on": "2026-09-02", "medical_valid_until": "2027-08-31"}


async def _tom(w: World) -> int:
    return int((await w.ok("POST", "/api/students", json=TOM))["id"])


async def _badge_in(w: World) -> Any:
    return await w.call("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-TOM"})


async def _refused(w: World, *missing: str) -> dict[str, Any]:
    before = (w.count(WorkSessionRecord), w.count(AuditEntry))
    response = await _badge_in(w)
    assert response.status_code == 403, response.text
    detail: dict[str, Any] = response.json()["detail"]
    assert detail["code"] == "not_authorised"
    assert detail["params"]["missing"] == list(missing)
    assert "Tom B." in detail["message"]
    assert "mill" in detail["message"]
    assert (w.count(WorkSessionRecord), w.count(AuditEntry)) == before  # nothing written
    return detail


async def test_no_authorisation_no_check_in(world: World) -> None:
    await _tom(world)
    detail = await _refused(world, "no_authorisation")
    assert "aucune habilitation" in detail["message"]


async def test_an_authorisation_on_another_machine_does_not_count(world: World) -> None:
    w = world
    tom = await _tom(w)
    await w.ok("POST", "/api/authorisations", json={"student_id": tom, "machine_id": w.machines["lathe"], **DATES})
    await _refused(w, "no_authorisation")
    await w.ok("POST", "/api/authorisations", json={"student_id": tom, "machine_id": w.machines["mill"], **DATES})
    assert (await _badge_in(w)).status_code == 201


async def test_expired_medical_fitness_and_missing_training_are_named_with_the_date(world: World) -> None:
    w = world
    tom = await _tom(w)
    grant = {**DATES, "medical_valid_until": "2026-11-20", "training_on": None}
    await w.ok("POST", "/api/authorisations", json={"student_id": tom, "group_id": w.ids["workshop"], **grant})
    detail = await _refused(w, "training_missing", "medical_fitness_expired")
    assert detail["params"]["until"] == "20/11/2026"
    assert "20/11/2026" in detail["message"]


async def test_a_group_not_regulated_asks_for_no_dates(world: World) -> None:
    w = world
    tom = await _tom(w)
    bench = {"name": "Banc de mesure", "regulated": False, "machine_ids": [w.machines["mill"]]}
    group = await w.ok("POST", "/api/machine-groups", json=bench)
    await w.ok(
        "POST", "/api/authorisations", json={"student_id": tom, "group_id": group["id"], "granted_on": "2026-09-01"}
    )
    await _refused(w, "training_missing", "medical_fitness_missing")  # the mill is also in the regulated workshop
    await w.ok("PATCH", f"/api/machine-groups/{w.ids['workshop']}", json={"machine_ids": [w.machines["lathe"]]})
    assert (await _badge_in(w)).status_code == 201


async def test_a_revoked_authorisation_no_longer_counts_and_stays_listed(world: World) -> None:
    w = world
    tom = await _tom(w)
    grant = await w.ok("POST", "/api/authorisations", json={"student_id": tom, "group_id": w.ids["workshop"], **DATES})
    revoked = await w.ok("POST", f"/api/authorisations/{grant['id']}/revoke")
    assert revoked["revoked_by"] == "master"
    assert revoked["revoked"] is not None
    await _refused(w, "no_authorisation")
    listed = await w.ok("GET", "/api/authorisations", params={"student_id": tom})
    assert [a["id"] for a in listed] == [grant["id"]]


async def test_supervised_only_needs_a_master_on_duty_and_the_session_records_them(world: World) -> None:
    w = world
    tom = await _tom(w)
    grant = {"student_id": tom, "group_id": w.ids["workshop"], "supervised_only": True, **DATES}
    await w.ok("POST", "/api/authorisations", json=grant)
    detail = await _refused(w, "master_on_duty_required")
    assert "de service" in detail["message"]
    await w.ok("POST", "/api/duty", params={"site": "lyon"})
    assert [d["master"] for d in await w.ok("GET", "/api/duty", params={"site": "lyon"})] == ["master"]
    session = await _badge_in(w)
    assert session.status_code == 201, session.text
    with w.sessions() as db:
        assert db.get_one(WorkSessionRecord, session.json()["id"]).master_on_duty == "master"
    await w.ok("DELETE", "/api/duty", params={"site": "lyon"})
    assert await w.ok("GET", "/api/duty", params={"site": "lyon"}) == []


async def test_a_session_without_a_master_on_duty_records_nobody(world: World) -> None:
    w = world
    session = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    with w.sessions() as db:
        assert db.get_one(WorkSessionRecord, session["id"]).master_on_duty is None


async def test_the_inspection_list_per_student_and_per_machine(world: World) -> None:
    w = world
    tom = await _tom(w)
    await w.ok("POST", "/api/authorisations", json={"student_id": tom, "machine_id": w.machines["lathe"], **DATES})
    mine = await w.ok("POST", "/api/authorisations", json={"student_id": tom, "group_id": w.ids["workshop"], **DATES})
    await w.ok("POST", f"/api/authorisations/{mine['id']}/revoke")
    sheet = (await w.call("GET", "/api/authorisations/list.csv", params={"student_id": tom})).text
    lines = sheet.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Élève;Classe;Machine ou groupe;Accordée le;Par;Valable jusqu'au")
    assert len(lines) == 3
    assert any("Tom B.;CAP1;Atelier;01/09/2026;master;;non;02/09/2026;31/08/2027;" in line for line in lines)
    assert any(line.startswith("Tom B.;CAP1;lyon/lathe;") for line in lines)
    per_machine = (await w.call("GET", "/api/authorisations/list.csv", params={"machine_id": w.machines["lathe"]})).text
    # The lathe is in the workshop group: Léa's and Tom's group grants and Tom's own grant on the lathe.
    assert per_machine.count("Tom B.") == 2
    assert per_machine.count("Léa M.") == 1
    both = await w.call("GET", "/api/authorisations/list.csv", params={"student_id": tom, "machine_id": 1})
    assert both.status_code == 422
    pdf = await w.call("GET", "/api/authorisations/list.pdf", params={"machine_id": w.machines["lathe"]})
    assert pdf.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        "Habilitations machines",
        "Tom B.",
        "Léa M.",
        "lyon/lathe",
        "31/08/2027",
        "Visa du directeur",
        "Page 1",
    ):
        assert expected in text, expected


async def test_invalid_grants_are_refused_and_nothing_is_written(world: World) -> None:
    w = world
    before = w.count(Authorisation)
    cases = [
        ({"student_id": w.ids["student"], **DATES}, 422),  # neither machine nor group
        ({"student_id": w.ids["student"], "machine_id": 1, "group_id": 1, **DATES}, 422),
        ({"student_id": 999999, "group_id": w.ids["workshop"], **DATES}, 404),
        ({"student_id": w.ids["student"], "machine_id": 999999, **DATES}, 404),
        ({"student_id": w.ids["student"], "group_id": w.ids["workshop"], **DATES, "valid_until": "2026-08-01"}, 422),
        ({"student_id": w.ids["student"], "group_id": w.ids["workshop"], **DATES, "granted_on": "1900-01-01"}, 422),
        ({"student_id": w.ids["student"], "group_id": w.ids["workshop"], **DATES, "note": "x"}, 422),
    ]
    for body, status in cases:
        response = await w.call("POST", "/api/authorisations", json=body)
        assert response.status_code == status, (body, response.text)
    assert w.count(Authorisation) == before


async def test_a_students_authorisations_are_exported_and_erased_with_them(world: World) -> None:
    w = world
    tom = await _tom(w)
    await w.ok("POST", "/api/authorisations", json={"student_id": tom, "group_id": w.ids["workshop"], **DATES})
    exported = await w.ok("GET", f"/api/students/{tom}/export")
    assert [a["granted_on"] for a in exported["machine_authorisations"]] == ["2026-09-01"]
    await w.ok("DELETE", f"/api/students/{tom}")
    with w.sessions() as db:
        assert db.query(Authorisation).filter_by(student_id=tom).count() == 0
        entries = db.query(AuditEntry).filter_by(entity="authorisation").all()
        assert all(e.after is None or e.after.get("student_id") != tom for e in entries)
