"""Competences in Chromium: a master imports the référentiel, validates a competence on a student's real session;
the student sees their own grid and no one else's."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.gateway.browser.a11y import assert_accessible
from tests.gateway.browser.conftest import Site, log_in, shot

EXAMPLE = (Path(__file__).parents[3] / "examples" / "referentiel-exemple.csv").read_text(encoding="utf-8")


async def test_import_validate_and_read_the_grid(browser: Browser, site: Site) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in(page, site.base_url, "master", "master-pass")
    await page.goto(site.url("/desk/competences"))
    area = page.locator("textarea[name=referentiel]")
    await area.fill("diplome;bloc;code;libelle\nCAP;B1;;sans code\n")
    await page.locator("form[action='/desk/competences/import'][method=post] button").click()
    assert "Ligne 2 · code : vide" in await page.locator("#import-problems").inner_text()
    await assert_accessible(page, "desk competences, a refused import")
    assert await area.input_value() == "diplome;bloc;code;libelle\nCAP;B1;;sans code\n"  # kept to be fixed
    await area.fill(EXAMPLE)
    await page.locator("form[action='/desk/competences/import'][method=post] button").click()
    await page.locator("p.message.ok").wait_for()
    assert "10/0" in await page.locator("p.message.ok").inner_text()

    lea = site.seeded.ids["lea"]
    await page.goto(site.url(f"/students/{lea}/competences"))
    form = page.locator(f"form[action='/students/{lea}/competences']")
    await form.locator("select[name=competence_id]").select_option(
        label="C2.1 — Monter et régler la prise de pièce et les outils (réglage)"
    )
    await form.locator("select[name=level]").select_option("acquis")
    sessions = await form.locator("select[name=session_id] option").all()
    assert len(sessions) >= 3  # "no session" and Léa's own sessions
    await form.locator("select[name=session_id]").select_option(index=1)
    await form.locator("textarea[name=comment]").fill("Réglage seule, contrôlé au premier essai")
    await form.locator("button[type=submit]").click()
    await page.locator("p.message.ok").wait_for()
    assert await page.locator("tr[data-code='EXEMPLE-CAP:C2.1'] td.level").inner_text() == "acquis"
    await assert_accessible(page, "a student's competences, for a master")
    await shot(page, "student-competences")
    grid = await (await page.request.get(site.url(f"/api/students/{lea}/competences"))).json()
    c21 = next(g for g in grid if g["competence"]["code"] == "C2.1" and g["competence"]["diploma"] == "EXEMPLE-CAP")
    assert c21["validations"][0]["comment"] == "Réglage seule, contrôlé au premier essai"
    assert c21["validations"][0]["session_id"] is not None

    await page.goto(site.url("/desk/competences?class=CAP1&diploma=EXEMPLE-CAP"))
    assert "acquis" in await page.locator("table.class-grid").inner_text()
    await assert_accessible(page, "the class grid")

    student = await browser.new_page()
    await log_in(student, site.base_url, "lea", "lea-pass-1")
    await student.goto(site.url(f"/students/{lea}/competences"))
    assert await student.locator("tr[data-code='EXEMPLE-CAP:C2.1'] td.level").inner_text() == "acquis"
    assert await student.locator("form[action^='/students/']").count() == 0  # a student reads, does not validate
    other = await student.goto(site.url(f"/students/{site.seeded.ids['tom']}/competences"))
    assert other is not None
    assert other.status == 403
    posted = await student.request.post(
        site.url(f"/students/{lea}/competences"), form={"competence_id": "1", "level": "maitrise"}
    )
    assert posted.status == 403
