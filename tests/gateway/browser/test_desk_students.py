"""A master keeps the students in Chromium: finds them by class, creates one with a scanned badge, fixes what the
server refused without typing it again, disables, exports, deletes, and imports a class from CSV (all or nothing).
Every result is read back through the records API; every page passes the accessibility scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site
from tests.gateway.browser.desk_tools import assert_no_csp_refusal, cross_site_post, master_api, master_page, shots

pytestmark = pytest.mark.browser


async def _students(site: Site) -> dict[str, dict[str, object]]:
    async with master_api(site) as api:
        answer = await api.get("/api/students")
        assert answer.status_code == 200, answer.text
        return {f"{s['first_name']} {s['class_name']}": s for s in answer.json()}


async def _names_listed(page: Page) -> list[str]:
    return [t.strip() for t in await page.locator("table.data tbody td:first-child").all_inner_texts()]


async def test_a_master_finds_creates_edits_disables_exports_and_deletes_a_student(
    browser: Browser, site: Site
) -> None:
    page = await master_page(browser, site)
    await page.goto(site.url("/desk"))
    async with page.expect_navigation():
        await page.click("a[href='/desk/students']")
    assert await _names_listed(page) == ["Inès B.", "Tom R.", "Léa M."]  # by class, then first name
    await assert_accessible(page, "students list")
    await shots(page, "students")

    await page.select_option("#f-class", "BP2")
    async with page.expect_navigation():
        await page.click("form[role=search] button[type=submit]")
    assert await _names_listed(page) == ["Inès B.", "Tom R."]
    await page.fill("#f-q", "b-tom")
    async with page.expect_navigation():
        await page.click("form[role=search] button[type=submit]")
    assert await _names_listed(page) == ["Tom R."]

    # A new student: the initial is wrong and the class is missing; the server says so next to each field.
    async with page.expect_navigation():
        await page.click("a[href='/desk/students/new']")
    await page.fill("#f-first_name", "Zoé")
    await page.fill("#f-last_initial", "12")
    await page.select_option("#f-track", "BAC_PRO")
    # The reader types the badge and Enter: the form is not sent, the focus moves on.
    await page.click("#f-badge")
    await page.keyboard.type("B-ZOE\n")
    assert await page.evaluate("document.activeElement.type") == "submit"
    assert page.url.endswith("/desk/students/new")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("#e-last_initial").inner_text() == "Forme non valable."
    assert await page.locator("#e-class_name").inner_text() == "À remplir."
    assert await page.locator("#f-last_initial").get_attribute("aria-invalid") == "true"
    assert await page.input_value("#f-first_name") == "Zoé"
    assert await page.input_value("#f-badge") == "B-ZOE"
    assert await page.locator("#f-track").input_value() == "BAC_PRO"
    await assert_accessible(page, "new student with errors")
    await shots(page, "student-form-errors")
    assert "Zoé BP1" not in await _students(site)

    await page.fill("#f-last_initial", "D")
    await page.fill("#f-class_name", "BP1")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("p.message.ok").inner_text() == "Élève créé."
    zoe = (await _students(site))["Zoé BP1"]
    assert (zoe["last_initial"], zoe["track"], zoe["badge"], zoe["active"]) == ("D", "BAC_PRO", "B-ZOE", True)
    await assert_accessible(page, "student edit page")

    # Léa's badge is taken: said next to the badge, with whose it is, and the rest kept.
    await page.fill("#f-class_name", "BP2")
    await page.fill("#f-badge", "B-LEA")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("#e-badge").inner_text() == "Le badge B-LEA est déjà attribué à Léa M."
    assert await page.input_value("#f-class_name") == "BP2"
    assert (await _students(site))["Zoé BP1"]["badge"] == "B-ZOE"
    await page.fill("#f-badge", "")
    async with page.expect_navigation():
        await page.click("form.desk-form button[type=submit]")
    assert await page.locator("p.message.ok").inner_text() == "Modifications enregistrées."
    zoe = (await _students(site))["Zoé BP2"]
    assert (zoe["class_name"], zoe["badge"]) == ("BP2", None)

    async with page.expect_navigation():
        await page.click("form[action$='/active'] button")
    assert await page.locator("p.message.ok").inner_text() == "Élève désactivé : ses connexions sont fermées."
    assert (await _students(site))["Zoé BP2"]["active"] is False

    export = await page.request.get(site.url(await page.get_attribute("a[download]", "href") or ""))
    assert export.status == 200
    assert (await export.json())["student"]["first_name"] == "Zoé"

    async with page.expect_navigation():
        await page.click("a.danger")
    assert await page.locator("h1").inner_text() == "Supprimer l'élève Zoé D. ?"
    await assert_accessible(page, "delete confirmation")
    await shots(page, "student-delete")
    assert "Zoé BP2" in await _students(site)  # opening the confirmation deleted nothing
    async with page.expect_navigation():
        await page.click("button.danger")
    assert await page.locator("p.message.ok").inner_text() == "Élève supprimé."
    assert "Zoé BP2" not in await _students(site)
    async with master_api(site) as api:
        assert (await api.get(f"/api/students/{zoe['id']}")).status_code == 404
    assert_no_csp_refusal(page)


CSV_BAD = (
    "first_name,last_initial,class_name,track,badge\n"
    "Hugo,P,CAP2,CAP,B-HUGO\n"
    "Nina,,CAP2,CAP,B-NINA\n"
    "Sami,K,CAP2,LYCEE,B-LEA\n"
)
CSV_GOOD = "first_name,last_initial,class_name,track,badge\nHugo,P,CAP2,CAP,B-HUGO\nNina,L,CAP2,CAP,\n"


async def test_a_csv_import_shows_every_lines_errors_and_writes_all_or_nothing(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    page = await master_page(browser, site)
    await page.goto(site.url("/desk/students/import"))
    await assert_accessible(page, "import form")
    bad, good = tmp_path / "bad.csv", tmp_path / "classe.csv"
    bad.write_text(CSV_BAD, encoding="utf-8")
    good.write_text(CSV_GOOD, encoding="utf-8")

    await page.set_input_files("#f-file", str(bad))
    async with page.expect_navigation():
        await page.click("form[enctype] button[type=submit]")
    errors = page.locator("table.import-errors tbody tr")
    assert await errors.count() == 2  # lines 3 and 4; line 2 is fine
    assert (await errors.nth(0).locator("td").first.inner_text()) == "3"
    assert await errors.nth(0).locator("li").all_inner_texts() == ["last_initial : À remplir."]
    assert await errors.nth(1).locator("li").all_inner_texts() == [
        "track : Choisissez une valeur de la liste. (trouvé : « LYCEE »)",
        "badge : le badge B-LEA est déjà attribué à un élève.",
    ]
    assert await page.locator("button:has-text('Importer ces élèves')").count() == 0
    await assert_accessible(page, "import preview with errors")
    await shots(page, "students-import-errors")
    assert "Hugo CAP2" not in await _students(site)

    await page.set_input_files("#f-file", str(good))
    async with page.expect_navigation():
        await page.click("form[enctype] button[type=submit]")
    assert await page.locator("table.import-rows tbody tr").count() == 2
    assert "Hugo CAP2" not in await _students(site)  # a preview writes nothing
    await assert_accessible(page, "import preview")
    await shots(page, "students-import-preview")
    async with page.expect_navigation():
        await page.click("button:has-text('Importer ces élèves')")
    assert await page.locator("p.message.ok").inner_text() == "2 élève(s) importé(s)."
    found = await _students(site)
    assert (found["Hugo CAP2"]["badge"], found["Nina CAP2"]["badge"]) == ("B-HUGO", None)

    # The same file again: Hugo's badge is now taken, so nothing of it is written, Nina neither.
    await page.goto(site.url("/desk/students/import"))
    await page.set_input_files("#f-file", str(good))
    async with page.expect_navigation():
        await page.click("form[enctype] button[type=submit]")
    assert "B-HUGO" in await page.locator("table.import-errors").inner_text()
    assert sum(1 for key in await _students(site) if key == "Nina CAP2") == 1
    assert_no_csp_refusal(page)


async def test_a_student_form_posted_from_another_origin_is_refused(site: Site) -> None:
    answer = await cross_site_post(
        site, "/desk/students/new", {"first_name": "Evil", "last_initial": "E", "class_name": "X", "track": "CAP"}
    )
    assert answer.status_code == 403
    assert "Evil X" not in await _students(site)
    csv = {"confirm": "1", "name": "x.csv", "csv": CSV_GOOD}
    assert (await cross_site_post(site, "/desk/students/import", csv)).status_code == 403
    assert "Hugo CAP2" not in await _students(site)
    refused = await cross_site_post(site, f"/desk/students/{site.seeded.ids['lea']}/delete", {})
    assert refused.status_code == 403
    assert "Léa CAP1" in await _students(site)
