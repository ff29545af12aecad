"""The practice log as a diploma record over a period: page, PDF and CSV agree; bad periods are refused with
a reason; a student still reads only their own log, whatever the parameters. SQLite and PostgreSQL.

Léa works on PO-1 (customer Acme) on Monday 23 November 2026 and practises on Tuesday 1 December; a master
validates one competence on each day. The gateway runs in Paris time.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
from pypdf import PdfReader

from gateway.config import RecordsSection
from tests.gateway.records.conftest import World, add_cycle, at, site_client

PARIS = RecordsSection(timezone="Europe/Paris")
DECEMBER_1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tuesday, 09:00 in Paris
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
REFERENTIEL = "diploma;block;code;label\nCAP;B1;C1.1;Régler la machine\nCAP;B2;C2.1;Contrôler une pièce\n"


async def relogin(w: World) -> None:
    login = {"username": "master", "password": "master-pass"}
    w.tokens["admin"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    login = {"username": "lea", "password": "lea-pass-1"}
    w.tokens["student"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]


async def two_days(w: World) -> None:
    w.app.state.records.settings = PARIS
    imported = await w.client.post(
        "/api/competences/import", content=REFERENTIEL.encode(), headers={**w.as_("admin"), "Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    codes = {c["code"]: c["id"] for c in await w.ok("GET", "/api/competences")}
    monday = await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"]})
    for k in range(3):
        add_cycle(w.sessions, w.machines["mill"], at(10 * k), at(10 * k + 5))
    w.clock.now = at(50)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    student = w.ids["student"]
    body = {"competence_id": codes["C1.1"], "level": "en_cours", "comment": "réglage lent", "session_id": monday["id"]}
    await w.ok("POST", f"/api/students/{student}/competences", json=body)
    w.clock.now = DECEMBER_1
    await relogin(w)
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    add_cycle(w.sessions, w.machines["mill"], DECEMBER_1.replace(minute=10), DECEMBER_1.replace(minute=14))
    w.clock.now = DECEMBER_1.replace(minute=40)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    body = {"competence_id": codes["C2.1"], "level": "maitrise", "comment": "mesure juste"}
    await w.ok("POST", f"/api/students/{student}/competences", json=body)
    w.clock.now = NOW
    await relogin(w)


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def sheet(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_page_pdf_and_csv_hold_the_same_period(world: World, databases: dict[str, str], backend: str) -> None:
    w = world
    await two_days(w)
    student = w.ids["student"]
    december = {"from": "2026-11-30", "to": "2026-12-04"}
    async with site_client(databases[backend], w.clock, PARIS) as client:
        admin = w.as_("admin")
        page = await client.get(f"/students/{student}/log", params=december, headers=admin)
        pdf = await client.get(f"/students/{student}/log.pdf", params=december, headers=admin)
        whole = await client.get(f"/students/{student}/log.pdf", headers=admin)
        english = await client.get(f"/students/{student}/log.pdf", params={**december, "lang": "en"}, headers=admin)
    assert page.status_code == 200, page.text
    assert "Période du 30/11/2026 au 04/12/2026" in page.text
    sessions = page.text.split('id="sessions"')[1].split("</table>")[0]
    assert "01/12/2026 09:00" in sessions
    assert "23/11/2026" not in sessions
    assert 'id="orders"' not in page.text  # no order in December: practice only
    competences = page.text.split('id="competences"')[1].split("</table>")[0]
    assert "C2.1" in competences
    assert "maîtrisé" in competences
    assert "mesure juste" in competences
    assert "C1.1" not in competences
    # The links carry the period, so that the PDF and the CSV print what the page shows.
    assert "from=2026-11-30&amp;to=2026-12-04" in page.text.split('id="pdf-link"')[1].split(">")[0]
    assert "from=2026-11-30&amp;to=2026-12-04" in page.text.split('id="csv-link"')[1].split(">")[0]

    text = pdf_text(pdf)
    assert "Période du 30/11/2026 au 04/12/2026" in text
    assert "C2.1" in text
    assert "C1.1" not in text
    count = len(PdfReader(io.BytesIO(pdf.content)).pages)
    assert [f"Page {n} / {count}" in text for n in range(1, count + 1)] == [True] * count
    everything = pdf_text(whole)
    # No period asked: the whole log, from the first session's day to today.
    assert "Période du 23/11/2026 au 04/12/2026" in everything
    assert "C1.1" in everything
    assert "C2.1" in everything
    assert "PO-1" in everything
    assert "Acme" in everything
    assert "Period from 30/11/2026 to 04/12/2026" in pdf_text(english)

    rows = sheet(await w.call("GET", f"/api/students/{student}/practice-log.csv", params=december))
    assert [r["Début"] for r in rows] == ["01/12/2026 09:00"]
    rows = sheet(await w.call("GET", f"/api/students/{student}/practice-log.csv"))
    assert [(r["Commande"], r["Client"]) for r in rows] == [("PO-1", "Acme"), ("Entraînement", "")]


async def test_the_customer_can_be_hidden_everywhere(world: World, databases: dict[str, str], backend: str) -> None:
    w = world
    await two_days(w)
    student = w.ids["student"]
    hide = {"customer": "hide"}
    async with site_client(databases[backend], w.clock, PARIS) as client:
        page = await client.get(f"/students/{student}/log", params=hide, headers=w.as_("admin"))
        pdf = await client.get(f"/students/{student}/log.pdf", params=hide, headers=w.as_("admin"))
    assert page.status_code == 200
    orders = page.text.split('id="orders"')[1].split("</table>")[0]
    assert "PO-1" in orders
    assert "Acme" not in orders
    assert 'name="customer" value="hide" checked' in page.text
    assert "customer=hide" in page.text.split('id="pdf-link"')[1].split(">")[0]
    text = pdf_text(pdf)
    assert "PO-1" in text
    assert "Acme" not in text
    rows = sheet(await w.call("GET", f"/api/students/{student}/practice-log.csv", params=hide))
    assert [r["Client"] for r in rows] == ["", ""]


async def test_setup_and_cycle_times_against_the_standard(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await two_days(w)
    async with site_client(databases[backend], w.clock, PARIS) as client:
        page = await client.get(f"/students/{w.ids['student']}/log", headers=w.as_("admin"))
    row = page.text.split('id="orders"')[1].split("<tbody>")[1].split("</tr>")[0]
    cells = [c.split(">", 1)[1] for c in row.split("</td>")[:-1]]
    # PO-1: standard 300 s; three completed cycles of 5 minutes: mean 5:00, on standard (1,00).
    assert cells[0].endswith("PO-1")
    assert "5:00" in cells[6]
    assert "5:00" in cells[7]
    assert "1,00" in cells[8]


async def test_bad_periods_are_refused_with_their_reason(world: World, databases: dict[str, str], backend: str) -> None:
    w = world
    student = w.ids["student"]
    w.clock.now = NOW
    await relogin(w)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"from": "2026-12-05", "to": "2026-12-01"}, "period_order"),
        ({"from": "1999-01-01"}, "period_range"),
        ({"to": "31/12/2026"}, "period_date"),
        ({"from": "9" * 5000}, "period_date"),
        ({"from": "2026-02-30"}, "period_date"),
    ]
    async with site_client(databases[backend], w.clock, PARIS) as client:
        for params, code in cases:
            page = await client.get(f"/students/{student}/log", params=params, headers=w.as_("admin"))
            assert page.status_code == 422, (params, page.status_code)
            assert 'id="period-error"' in page.text
            assert 'id="sessions"' not in page.text
            pdf = await client.get(f"/students/{student}/log.pdf", params=params, headers=w.as_("admin"))
            assert pdf.status_code == 422
            assert pdf.headers["content-type"].startswith("text/html")
            api = await w.call("GET", f"/api/students/{student}/practice-log.csv", params=params)
            assert api.status_code == 422, (params, api.text)
            assert api.json()["detail"]["code"] == code
    mixed = {"from": "2026-12-01", "since": "2026-12-01T00:00:00Z"}
    api = await w.call("GET", f"/api/students/{student}/practice-log.csv", params=mixed)
    assert api.json()["detail"]["code"] == "period_mixed"


async def test_a_student_reads_only_their_own_log_whatever_the_parameters(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    await two_days(w)
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    other = (await w.ok("POST", "/api/students", json=tom))["id"]
    mine = w.ids["student"]
    asks = [{}, {"from": "2026-11-01", "to": "2026-12-04"}, {"customer": "hide"}, {"from": "garbage", "to": "x"}]
    async with site_client(databases[backend], w.clock, PARIS) as client:
        student = w.as_("student")
        for params in asks:
            for path in (f"/students/{other}/log", f"/students/{other}/log.pdf"):
                response = await client.get(path, params=params, headers=student)
                assert response.status_code == 403, (path, params)
                assert "Acme" not in response.text
                assert "PO-1" not in response.text
            csv_response = await w.call("GET", f"/api/students/{other}/practice-log.csv", "student", params=params)
            assert csv_response.status_code == 403, params
        own = await client.get(f"/students/{mine}/log.pdf", params=asks[1], headers=student)
        assert "Période du 01/11/2026 au 04/12/2026" in pdf_text(own)
        for role in (None, "viewer", "kiosk"):
            response = await client.get(f"/students/{mine}/log", params=asks[1], headers=w.as_(role))
            assert response.status_code in (303, 401, 403), (role, response.status_code)
