"""Teaching on a real order, end to end in headless Chromium on the demo's real chain (issue 15's "done when").

The system is the one ``atelier demo`` starts (a private mosquitto, the gateway on SQLite, one edge
agent) with the SINUMERIK-shaped OPC UA mill at ten times its pace. A master prepares a two-operation
order, two students (only one of them authorised on the mill), a badge of their own, the school's
référentiel and the kiosk's token; then, on a tablet-sized kiosk:

- the student without an authorisation is refused and nothing is recorded for him;
- the authorised one checks in on operation 20; the mill's parts wait for the first-part approval
  (made, not good); the master approves with a badge at the kiosk, the series counts;
- she checks out, the master validates a competence on her grid against that session and its first part, and the PDF of
  her practice log for the day (the period) shows the order, the operation, the approval, the
  competence and the signature blocks.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, ViewportSize
from pypdf import PdfReader

from atelier.demo import DemoSystem
from tests.e2e.school_day import MASTER, MILL, PASSWORD, demo_with_master, said, scan, until_answered
from tests.gateway.browser import conftest as pages
from tests.gateway.browser.conftest import log_in, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = pages.browser  # headless Debian Chromium, as the page tests launch it

PARIS = ZoneInfo("Europe/Paris")
DESKTOP, TABLET = ViewportSize(width=1440, height=900), ViewportSize(width=1280, height=800)
REFERENCE, PART = "CMD-0515", "PALIER-B7"
INES, TOM = ("Inès", "B", "0009990011"), ("Tom", "R", "0009990012")  # first name, initial, badge
MASTER_BADGE = "0009990099"
MEASURED = "Ø 12,02 mm"
REFERENTIEL = Path(__file__).parents[2] / "examples" / "referentiel-exemple.csv"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoSystem]:
    with demo_with_master(tmp_path) as system:
        yield system


class Desk:
    """The master's calls to the API with the page's session cookie (what the desk's forms would send)."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base

    async def call(self, method: str, path: str, body: Any = None, *, expect: int | None = None) -> Any:
        response = await self.page.request.fetch(self.base + path, method=method, data=body)
        if expect is None:
            assert response.ok, f"{method} {path}: {response.status} {await response.text()}"
        else:
            assert response.status == expect, f"{method} {path}: {response.status} {await response.text()}"
        return await response.json()


async def _prepare(desk: Desk) -> dict[str, Any]:
    """The order in two operations, two students and one authorisation, the master's badge, the référentiel."""
    customer = await desk.call("POST", "/api/customers", {"name": "Hydraulique Jura", "contact": "Mme Vidal"})
    operations = [
        {"number": 10, "label": "Tournage", "first_part": False},
        {"number": 20, "label": "Fraisage", "first_part": True, "standard_cycle_s": 3.0},
    ]
    order = await desk.call(
        "POST",
        "/api/orders",
        {"customer_id": customer["id"], "reference": REFERENCE, "part_number": PART, "quantity": 20}
        | {"operations": operations},
    )
    ids: dict[str, Any] = {"order": order["id"]}
    for first, initial, badge in (INES, TOM):
        body = {"first_name": first, "last_initial": initial, "class_name": "CAP1-B", "track": "CAP", "badge": badge}
        ids[first] = (await desk.call("POST", "/api/students", body))["id"]
    today = datetime.now(PARIS).date()
    grant = {"student_id": ids["Inès"], "machine": MILL, "site": "demo", "granted_on": today.isoformat()}
    # The demo's mills are regulated work (travaux réglementés): the training and medical fitness dates.
    grant |= {"training_on": today.isoformat(), "medical_valid_until": (today + timedelta(days=300)).isoformat()}
    await desk.call("POST", "/api/authorisations", grant)  # Tom has none: the director has not signed yet
    me = next(u for u in await desk.call("GET", "/api/users") if u["username"] == MASTER)
    await desk.call("PUT", f"/api/users/{me['id']}/badge", {"badge": MASTER_BADGE})
    response = await desk.page.request.post(
        desk.base + "/api/competences/import", data=REFERENTIEL.read_bytes(), headers={"Content-Type": "text/csv"}
    )
    assert response.ok, await response.text()
    kiosk = {"role": "kiosk", "label": "poste fraiseuse", "machine": MILL, "site": "demo"}
    ids["token"] = (await desk.call("POST", "/api/tokens", kiosk))["token"]
    return ids


async def _progress(desk: Desk, order: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The order's progress and its operation 20's."""
    progress = await desk.call("GET", f"/api/orders/{order}/progress")
    return progress, next(o for o in progress["operations"] if o["number"] == 20)


async def test_refused_then_operation_20_first_part_series_competence_and_the_period_pdf(
    browser: Browser, demo: DemoSystem
) -> None:
    office = await browser.new_context(viewport=DESKTOP, locale="fr-FR")
    tablet = await browser.new_context(viewport=TABLET, locale="fr-FR")
    try:
        master = await office.new_page()
        await log_in(master, demo.url, MASTER, PASSWORD)
        desk = Desk(master, demo.url)
        ids = await _prepare(desk)
        kiosk = await tablet.new_page()
        await kiosk.goto(f"{demo.url}/api/auth/screen?token={ids['token']}")
        await kiosk.locator("#checkin").wait_for()
        await shot(kiosk, "teaching-kiosk")

        # Tom: no authorisation, refused, nothing written for him.
        option = kiosk.locator("#order option[data-operation='20']")
        await kiosk.locator("#order").select_option(element=await option.element_handle())  # one per operation
        refusal = await scan(kiosk, TOM[2])
        assert refusal.startswith(f"Tom R. ne peut pas utiliser {MILL} : "), refusal
        assert refusal.endswith("Voyez un maître d'atelier."), refusal
        tom_log = await desk.call("GET", f"/api/students/{ids['Tom']}/practice-log")
        assert tom_log["sessions"] == []

        # Inès: operation 20; her parts wait for the first part.
        await kiosk.locator("#order").select_option(element=await option.element_handle())  # one per operation
        assert await scan(kiosk, INES[2]) == "Séance commencée. Bon travail !"
        assert await kiosk.locator("#present-operation").inner_text() == "20"
        await kiosk.locator("#first-part-pending").wait_for()
        pending: dict[str, Any] = {}

        async def parts_wait() -> bool:
            nonlocal pending
            _, pending = await _progress(desk, ids["order"])
            return int(pending["pending"]) >= 1

        await until_answered(parts_wait, 60, "a part of operation 20 made and pending")
        progress, _ = await _progress(desk, ids["order"])
        assert progress["good"] == 0
        assert pending["good"] == 0

        # The master approves at the kiosk with a badge.
        form = kiosk.locator("#first-part")
        await form.locator("input[name=measured]").fill(MEASURED)
        await form.locator("input[name=badge]").fill(MASTER_BADGE)
        await form.locator("input[name=badge]").press("Enter")
        assert await said(kiosk) == "Verdict du premier article enregistré."
        await kiosk.locator("#first-part-verdict").wait_for()
        assert MEASURED in await kiosk.locator("#first-part-verdict").inner_text()
        approvals = await desk.call("GET", f"/api/orders/{ids['order']}/first-parts")
        assert [(a["verdict"], a["measured"], a["by"]) for a in approvals] == [("OK", MEASURED, MASTER)]

        # The series counts: every part of operation 20, the first one included.
        counted: dict[str, Any] = {}

        async def series_counts() -> bool:
            nonlocal counted
            progress, counted = await _progress(desk, ids["order"])
            return int(counted["good"]) >= 2 and progress["good"] == counted["good"] and counted["pending"] == 0

        await until_answered(series_counts, 60, "the series of operation 20 counted as good")
        assert await scan(kiosk, INES[2]) == "Séance terminée. À bientôt !"

        # The master validates a competence on her grid against that session.
        log = await desk.call("GET", f"/api/students/{ids['Inès']}/practice-log")
        [session] = log["sessions"]
        await master.goto(f"{demo.url}/students/{ids['Inès']}/competences")
        grid = master.locator("form[action$='/competences']")
        c22 = grid.locator("select[name=competence_id] option", has_text="C2.2")
        await grid.locator("select[name=competence_id]").select_option(await c22.get_attribute("value"))
        await grid.locator("select[name=level]").select_option("acquis")
        await grid.locator("select[name=session_id]").select_option(str(session["id"]))
        # and the first part the master approved in it: the evidence the record prints.
        approval = grid.locator("select[name=approval_id] option", has_text=f"{REFERENCE} op 20")
        await grid.locator("select[name=approval_id]").select_option(await approval.get_attribute("value"))
        await grid.locator("textarea[name=comment]").fill("Premier article conforme du premier coup")
        async with master.expect_navigation():
            await grid.locator("button[type=submit]").click()
        row = master.locator("tr[data-code$=':C2.2']")
        assert await row.locator(".level").inner_text() == "acquis"
        assert f"{REFERENCE} op 20, 1re pièce OK" in await row.locator(".evidence").inner_text()
        await shot(master, "teaching-competences")

        # The practice log's PDF for the period: today.
        today = datetime.now(PARIS).date()
        answer = await master.request.get(
            f"{demo.url}/students/{ids['Inès']}/log.pdf?from={today.isoformat()}&to={today.isoformat()}"
        )
        assert answer.ok
        assert answer.headers["content-type"] == "application/pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(await answer.body())).pages)
        flat = " ".join(text.split())
        day = today.strftime("%d/%m/%Y")
        assert f"Période du {day} au {day}" in flat, flat
        assert f"{REFERENCE} 20 Hydraulique Jura" in flat, flat  # the order's line for operation 20
        assert "Par rapport au standard —" not in flat, flat  # held to operation 20's standard cycle time
        assert f"{day} {REFERENCE} 20 demo/" in flat, flat  # the first part's verdict (the machine wraps)
        assert f"conforme {MEASURED} {MASTER}" in flat, flat
        assert f"{day} C2.2" in flat, flat
        evidence = f"{REFERENCE} op 20, 1re pièce OK {today:%d/%m}"
        # level, evidence, master, comment
        assert f"acquis {evidence} maitre Premier article conforme du premier coup" in flat, flat
        assert "Page 1 /" in flat
        for signer in ("L'élève", "Le maître professionnel", "Le chef d'établissement"):
            assert signer in flat, signer
    finally:
        await office.close()
        await tablet.close()
