"""CSV for French spreadsheets (and the raw CSV kept for scripts), order references everywhere, no formulas."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from pypdf import PdfReader

from gateway.config import RecordsSection
from gateway.web.csv_export import neutralise
from gateway.web.formats import hours_minutes
from tests.gateway.records.conftest import World, add_cycle, at, site_client

BOM = "\ufeff"


async def _morning(w: World) -> None:
    """Léa on the mill 8:00-8:47 for PO-1 (9:00-9:47 in Paris): three cycles of 125.5 s, one part scrapped."""
    w.app.state.records.settings = RecordsSection(timezone="Europe/Paris")
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"]})
    for k in range(3):
        start = at(10 * k).replace(microsecond=123456)
        add_cycle(w.sessions, w.machines["mill"], start, start.replace(second=0) + (at(2.0915) - at(0)))
    scrap = {"order_id": w.ids["order"], "quantity": 1, "reason": "bavure", "inspected_by": "M. Roux"}
    await w.ok("POST", "/api/scrap", "kiosk", json=scrap)
    w.clock.now = at(47).replace(microsecond=654321)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})


async def _sheet(w: World, path: str, role: str = "admin", **params: Any) -> list[list[str]]:
    response = await w.call("GET", path, role, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


async def test_the_orders_csv_is_for_a_french_spreadsheet(world: World) -> None:
    w = world
    await _morning(w)
    header, row = await _sheet(w, "/api/reports/orders.csv")
    assert header[:3] == ["Client", "Référence", "Pièce"]
    line = dict(zip(header, row, strict=True))
    assert (line["Référence"], line["Faites"], line["Rebuts"], line["Bonnes"]) == ("PO-1", "3", "1", "2")
    assert line["Échéance"] == "24/11/2026 09:00"  # due 8:00 UTC the next day, shown in Paris
    assert (line["Statut"], line["En retard"]) == ("ouverte", "non")
    english = dict(zip(*(await _sheet(w, "/api/reports/orders.csv", lang="en")), strict=True))
    assert (english["Reference"], english["Status"], english["Late"]) == ("PO-1", "open", "no")


async def test_the_practice_logs_csv_has_names_hours_as_h_mm_and_decimal_commas(world: World) -> None:
    w = world
    await _morning(w)
    header, row = await _sheet(w, "/api/reports/practice-logs.csv")
    line = dict(zip(header, row, strict=True))
    assert (line["Élève"], line["Classe"], line["Séances"]) == ("Léa M.", "CAP1", "1")
    assert (line["Heures"], line["Heures de coupe"]) == ("0:47", "0:06")
    assert (line["Cycle moyen (s)"], line["Pièces faites"], line["Bonnes"]) == ("125,5", "3", "2")
    assert "N°" not in header  # people, not ids


async def test_a_students_own_csv_has_local_times_machine_labels_and_order_references(world: World) -> None:
    w = world
    await _morning(w)
    header, row = await _sheet(w, f"/api/students/{w.ids['student']}/practice-log.csv", "student")
    line = dict(zip(header, row, strict=True))
    assert (line["Machine"], line["Commande"]) == ("mill", "PO-1")
    assert (line["Début"], line["Fin"]) == ("23/11/2026 09:00", "23/11/2026 09:47")
    assert (line["Cycles"], line["Temps de coupe"], line["Pièces"]) == ("3", "0:06", "3")


async def test_the_raw_csv_is_kept_for_scripts(world: World) -> None:
    w = world
    await _morning(w)
    raw = await w.call("GET", "/api/reports/orders.csv", params={"format": "raw"})
    assert 'filename="orders.raw.csv"' in raw.headers["content-disposition"]
    assert not raw.text.startswith(BOM)
    orders = list(csv.DictReader(io.StringIO(raw.text)))
    assert [(o["id"], o["reference"], o["made"], o["late"]) for o in orders] == [
        (str(w.ids["order"]), "PO-1", "3", "False")
    ]
    assert orders[0]["due"] == "2026-11-24T08:00:00+00:00"
    logs = await w.call("GET", "/api/reports/practice-logs.csv", params={"format": "raw"})
    assert [(r["name"], r["session_h"], r["mean_cycle_s"]) for r in csv.DictReader(io.StringIO(logs.text))] == [
        ("Léa M.", "0.78", "125.5")
    ]
    mine = await w.call("GET", f"/api/students/{w.ids['student']}/practice-log.csv", params={"format": "raw"})
    rows = list(csv.DictReader(io.StringIO(mine.text)))
    assert [(r["machine"], r["order"], r["cycles"]) for r in rows] == [("lyon/mill", str(w.ids["order"]), "3")]


@pytest.mark.parametrize("evil", ["=HYPERLINK(1)", "+1", "-1+2", "@SUM(1)", "\t=1", "\r=1"])
async def test_no_csv_cell_from_an_untrusted_string_can_run_as_a_formula(world: World, evil: str) -> None:
    w = world
    order = {"customer_id": w.ids["customer"], "reference": evil, "part_number": "X", "quantity": 1}
    order_id = (await w.ok("POST", "/api/orders", json=order))["id"]
    await w.ok("PATCH", f"/api/students/{w.ids['student']}", json={"first_name": evil})
    await w.ok("POST", "/api/sessions/check-in", json={"machine": "mill", "badge": "B-LEA", "order_id": order_id})
    paths = ["/api/reports/orders.csv", "/api/reports/practice-logs.csv"]
    paths.append(f"/api/students/{w.ids['student']}/practice-log.csv")
    for path in paths:
        for flavour in ("sheet", "raw"):
            text = (await w.call("GET", path, params={"format": flavour})).content.decode("utf-8-sig")
            delimiter = ";" if flavour == "sheet" else ","
            cells = [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]
            if not (path.endswith("practice-log.csv") and flavour == "raw"):  # that one holds ids only
                assert any(cell.startswith(f"'{evil}") for cell in cells), (path, flavour, cells)
            assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells), (path, flavour)
            assert not any(cell.startswith("-") and not _number(cell) for cell in cells), (path, flavour)


def _number(cell: str) -> bool:
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return True


def test_the_formatting_helpers() -> None:
    assert [hours_minutes(s) for s in (0, 179, 180, 3599, 3600, 4500, 36000)] == [
        "0:00",
        "0:03",
        "0:03",
        "1:00",
        "1:00",
        "1:15",
        "10:00",
    ]
    assert [neutralise(t) for t in ("=1", "\r1", "a=1", "")] == ["'=1", "'\r1", "a=1", ""]


async def test_orders_are_shown_by_reference_on_the_log_page_and_in_the_pdf(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await _morning(w)
    async with site_client(databases[backend], w.clock) as client:
        page = await client.get(f"/students/{w.ids['student']}/log", headers=w.as_("admin"))
        pdf = await client.get(f"/students/{w.ids['student']}/log.pdf", headers=w.as_("admin"))
    assert page.status_code == pdf.status_code == 200
    sessions = page.text.split('id="sessions"')[1]
    assert "PO-1" in sessions
    assert f"#{w.ids['order']}" not in sessions
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "PO-1" in text
    assert f"#{w.ids['order']}" not in text
    log = await w.ok("GET", f"/api/students/{w.ids['student']}/practice-log")
    assert log["sessions"][0]["order_reference"] == "PO-1"
