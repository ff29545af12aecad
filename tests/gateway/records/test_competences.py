"""Competences: the référentiel imported all or nothing, validations by masters with their evidence, grids, privacy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.store.models import AuditEntry, CompetenceRecord, CompetenceValidation
from tests.gateway.records.conftest import World, at, site_client

EXAMPLE = (Path(__file__).parents[3] / "examples" / "referentiel-exemple.csv").read_bytes()


async def _import(w: World, body: bytes, role: str = "admin") -> Any:
    return await w.client.post(
        "/api/competences/import", content=body, headers={**w.as_(role), "Content-Type": "text/csv"}
    )


async def _competence(w: World, code: str = "C2.2") -> int:
    found = await w.ok("GET", "/api/competences", params={"diploma": "EXEMPLE-CAP"})
    return int(next(c["id"] for c in found if c["code"] == code))


async def test_the_example_imports_once_and_a_second_import_updates_labels_only(world: World) -> None:
    w = world
    assert (await _import(w, EXAMPLE)).json() == {"created": 10, "updated": 0}
    changed = EXAMPLE.replace(b"Lire un dessin", b"Lire un plan")
    assert (await _import(w, changed)).json() == {"created": 0, "updated": 1}
    assert w.count(CompetenceRecord) == 10


async def test_a_file_with_problems_imports_nothing_and_names_each_line(world: World) -> None:
    w = world
    response = await _import(w, "diplome;bloc;code;libelle\nCAP;B1;C1;ok\nCAP;B1;;x\n".encode("cp1252"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "referentiel_refused"
    assert detail["problems"] == [{"line": 3, "column": "code", "kind": "empty", "value": ""}]
    assert "rien n'a été enregistré" in detail["message"]
    assert w.count(CompetenceRecord) == 0
    assert (await _import(w, b"x" * (1024 * 1024 + 1))).status_code == 422
    assert (await _import(w, EXAMPLE, role="student")).status_code == 403


async def test_a_master_validates_against_the_students_own_session_and_the_student_reads_their_grid(
    world: World,
) -> None:
    w = world
    await _import(w, EXAMPLE)
    c22 = await _competence(w)
    session = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    student = w.ids["student"]
    first = {
        "competence_id": c22,
        "level": "en_cours",
        "comment": "série lancée sans attendre",
        "session_id": session["id"],
    }
    await w.ok("POST", f"/api/students/{student}/competences", json=first)
    w.clock.now = at(60)
    await w.ok("POST", f"/api/students/{student}/competences", json={"competence_id": c22, "level": "acquis"})
    grid = await w.ok("GET", f"/api/students/{student}/competences", "student", params={"diploma": "EXEMPLE-CAP"})
    assert len(grid) == 8
    line = next(g for g in grid if g["competence"]["code"] == "C2.2")
    assert line["level"] == "acquis"
    assert [(v["level"], v["by"], v["session_id"]) for v in line["validations"]] == [
        ("acquis", "master", None),
        ("en_cours", "master", session["id"]),
    ]
    assert all(g["level"] is None for g in grid if g["competence"]["code"] != "C2.2")


async def test_validations_are_refused_when_wrong_and_write_nothing(world: World) -> None:
    w = world
    await _import(w, EXAMPLE)
    c22 = await _competence(w)
    tom = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    leas = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    before = (w.count(CompetenceValidation), w.count(AuditEntry))
    cases = [
        (
            f"/api/students/{tom['id']}/competences",
            {"competence_id": c22, "level": "acquis", "session_id": leas["id"]},
            422,
        ),
        (f"/api/students/{tom['id']}/competences", {"competence_id": c22, "level": "parfait"}, 422),
        (f"/api/students/{tom['id']}/competences", {"competence_id": 999999, "level": "acquis"}, 404),
        ("/api/students/999999/competences", {"competence_id": c22, "level": "acquis"}, 404),
        (f"/api/students/{tom['id']}/competences", {"competence_id": c22, "level": "acquis", "comment": "a\x00"}, 422),
    ]
    for path, body, status in cases:
        response = await w.call("POST", path, json=body)
        assert response.status_code == status, (body, response.text)
    assert (w.count(CompetenceValidation), w.count(AuditEntry)) == before
    refused = await w.call(
        "POST", f"/api/students/{tom['id']}/competences", "student", json={"competence_id": c22, "level": "acquis"}
    )
    assert refused.status_code == 403
    other = await w.call("GET", f"/api/students/{tom['id']}/competences", "student")
    assert other.status_code == 403


async def test_the_class_grid_as_a_french_spreadsheet(world: World) -> None:
    w = world
    await _import(w, EXAMPLE)
    c22, c31 = await _competence(w), await _competence(w, "C3.1")
    student = w.ids["student"]
    await w.ok("POST", f"/api/students/{student}/competences", json={"competence_id": c22, "level": "maitrise"})
    await w.ok("POST", f"/api/students/{student}/competences", json={"competence_id": c31, "level": "non_acquis"})
    sheet = (
        await w.call("GET", "/api/competences/grid.csv", params={"class_name": "CAP1", "diploma": "EXEMPLE-CAP"})
    ).text
    header, lea = sheet.lstrip("\ufeff").splitlines()
    assert header == "Élève;C1.1;C1.2;C1.3;C2.1;C2.2;C2.3;C3.1;C3.2"
    assert lea == "Léa M.;;;;;maîtrisé;;non acquis;"


async def test_a_class_name_that_no_header_can_hold_still_names_the_file(world: World) -> None:
    """A class typed as "CAP1 "Ā"": HTTP headers are Latin-1 and a quote ends a name (it was a 500)."""
    w = world
    await _import(w, EXAMPLE)
    answer = await w.call("GET", "/api/competences/grid.csv", params={"class_name": 'CAP1 "Ā"'})
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"competences-CAP1 _A_.csv\"; filename*=UTF-8''competences-CAP1%20%22%C4%80%22.csv"
    )


async def test_validations_are_exported_and_erased_with_the_student(world: World) -> None:
    w = world
    await _import(w, EXAMPLE)
    c22 = await _competence(w)
    tom = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    await w.ok(
        "POST",
        f"/api/students/{tom['id']}/competences",
        json={"competence_id": c22, "level": "acquis", "comment": "bien"},
    )
    exported = await w.ok("GET", f"/api/students/{tom['id']}/export")
    assert [(v["level"], v["comment"]) for v in exported["competence_validations"]] == [("acquis", "bien")]
    await w.ok("DELETE", f"/api/students/{tom['id']}")
    assert w.count(CompetenceValidation) == 0
    with w.sessions() as db:
        left = db.query(AuditEntry).filter_by(entity="competence_validation").all()
        assert all(e.after == {"erased": "personal data removed"} and e.entity_id is None for e in left)


async def _evidence_world(w: World) -> dict[str, Any]:
    """Léa on PO-1 op 20 (first part OK by a master), then on op 10; Tom on op 10 only, his own first part."""
    order = w.ids["order"]
    await w.ok("POST", f"/api/orders/{order}/operations", json={"number": 20, "programs": ["O2000"]})
    ops = {o["number"]: o["id"] for o in await w.ok("GET", f"/api/orders/{order}/operations")}
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    tom_id = (await w.ok("POST", "/api/students", json=tom))["id"]
    await w.authorise(tom_id)
    on = {"order_id": order}
    lea_20 = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", **on, "operation": 20})
    w.clock.now = at(5)
    ok = await w.ok("POST", f"/api/operations/{ops[20]}/first-part", json={"verdict": "OK", "machine": "mill"})
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(6)
    lea_10 = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", **on, "operation": 10})
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(8)
    tom_10 = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-TOM", **on, "operation": 10})
    w.clock.now = at(9)
    await w.ok("POST", f"/api/operations/{ops[10]}/first-part", json={"verdict": "OK", "machine": "mill"})
    toms = [a for a in await w.ok("GET", f"/api/orders/{order}/first-parts") if a["session_id"] == tom_10["id"]]
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-TOM"})
    return {"ops": ops, "tom": tom_id, "lea_20": lea_20, "lea_10": lea_10, "ok": ok, "toms_ok": toms[0]}


async def test_evidence_an_approval_fills_its_session_and_operation_a_session_its_operation(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await _import(w, EXAMPLE)
    c22, c31 = await _competence(w), await _competence(w, "C3.1")
    e = await _evidence_world(w)
    student = w.ids["student"]
    on_approval = await w.ok(
        "POST",
        f"/api/students/{student}/competences",
        json={"competence_id": c22, "level": "acquis", "approval_id": e["ok"]["id"]},
    )
    assert (on_approval["session_id"], on_approval["operation_id"], on_approval["approval_id"]) == (
        e["lea_20"]["id"],
        e["ops"][20],
        e["ok"]["id"],
    )
    on_session = await w.ok(
        "POST",
        f"/api/students/{student}/competences",
        json={"competence_id": c31, "level": "en_cours", "session_id": e["lea_10"]["id"]},
    )
    assert (on_session["operation_id"], on_session["approval_id"]) == (e["ops"][10], None)
    on_operation = await w.ok(
        "POST",
        f"/api/students/{student}/competences",
        json={"competence_id": c31, "level": "acquis", "operation_id": e["ops"][20]},
    )
    assert (on_operation["session_id"], on_operation["operation_id"]) == (None, e["ops"][20])
    # The practice log's record and the grid print the evidence; the form offers her sessions and first parts.
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get(f"/students/{student}/log", headers=w.as_("student"))
        grid = await client.get(f"/students/{student}/competences", headers=w.as_("student"))
        form = await client.get(f"/students/{student}/competences", headers=w.as_("admin"))
    assert page.status_code == 200, page.text
    assert "PO-1 op 20, 1re pièce OK" in page.text
    assert "PO-1 op 10" in page.text
    assert "PO-1 op 20, 1re pièce OK" in grid.text
    assert form.status_code == 200
    offered = form.text.split('name="approval_id"')[1].split("</select>")[0]
    assert f'<option value="{e["ok"]["id"]}">' in offered
    assert "PO-1 op 20" in offered
    assert f'value="{e["toms_ok"]["id"]}"' not in offered  # only the first parts of her own sessions


async def test_evidence_that_is_not_the_students_work_is_refused_and_nothing_is_written(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await _import(w, EXAMPLE)
    c22 = await _competence(w)
    e = await _evidence_world(w)
    lea, tom = w.ids["student"], e["tom"]
    before = (w.count(CompetenceValidation), w.count(AuditEntry))
    base = {"competence_id": c22, "level": "acquis"}
    cases = [
        (tom, {"approval_id": e["ok"]["id"]}, 422, "evidence_of_another_student"),
        (lea, {"approval_id": e["toms_ok"]["id"]}, 422, "evidence_of_another_student"),
        (tom, {"session_id": e["lea_10"]["id"]}, 422, "evidence_of_another_student"),
        (tom, {"operation_id": e["ops"][20]}, 422, "evidence_not_worked"),
        (lea, {"session_id": e["lea_20"]["id"], "operation_id": e["ops"][10]}, 422, "evidence_mismatch"),
        (lea, {"approval_id": e["ok"]["id"], "session_id": e["lea_10"]["id"]}, 422, "evidence_mismatch"),
        (lea, {"approval_id": e["ok"]["id"], "operation_id": e["ops"][10]}, 422, "evidence_mismatch"),
        (lea, {"approval_id": 999999}, 404, "first_part_approval_not_found"),
        (lea, {"operation_id": 999999}, 404, "operation_not_found"),
        (lea, {"approval_id": 2**40}, 422, None),
        (lea, {"operation_id": "x"}, 422, None),
    ]
    for student, evidence, status, code in cases:
        response = await w.call("POST", f"/api/students/{student}/competences", json={**base, **evidence})
        assert response.status_code == status, (evidence, response.text)
        if code is not None:
            assert response.json()["detail"]["code"] == code, evidence
    assert (w.count(CompetenceValidation), w.count(AuditEntry)) == before
    student_try = await w.call(
        "POST", f"/api/students/{lea}/competences", "student", json={**base, "approval_id": e["ok"]["id"]}
    )
    assert student_try.status_code == 403
    # The page's form says why, with what was typed, and writes nothing either.
    form = {"competence_id": str(c22), "level": "acquis", "approval_id": str(e["toms_ok"]["id"])}
    async with site_client(databases[backend], w.clock) as client:
        page = await client.post(f"/students/{lea}/competences", data=form, headers=w.as_("admin"))
    assert page.status_code == 422, page.text
    assert "celle de cet élève" in page.text
    assert w.count(CompetenceValidation) == before[0]
