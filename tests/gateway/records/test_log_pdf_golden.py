"""Golden test of the practice-log PDF: its text, extracted with pypdf, against tests/fixtures/log_pdf/*.txt.

Fixed clock, fixed data (built in memory: this pins what the PDF says, the store tests pin what it is fed),
in French and in English. A deliberate change of the PDF shows up as a diff of the golden files in review.

To regenerate them after such a change:

    ATELIER_REGENERATE_GOLDEN=1 .venv/bin/pytest -p no:cacheprovider tests/gateway/records/test_log_pdf_golden.py

then read the diff (``git diff tests/fixtures/log_pdf``) before committing it.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from gateway.domain.practice import MachinePractice, PracticeLog
from gateway.domain.practice_record import ApprovalLine, Evidence, OrderPractice, Period, ValidatedCompetence
from gateway.store.log_record_repo import LogRecord
from gateway.store.models import Student, WorkSessionRecord
from gateway.store.reports_repo import SessionTally, StudentLog
from gateway.web.log_pdf import log_pdf

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "log_pdf"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
MONDAY = datetime(2026, 9, 7, 7, 0, tzinfo=UTC)  # 09:00 in Paris
SESSIONS = 36  # enough to run onto a second page


def record() -> LogRecord:
    student = Student(
        site="lyon",
        id=1,
        first_name="Léa",
        last_initial="M",
        class_name="CAP1",
        track="CAP",
        badge=None,
        active=True,
        created=MONDAY,
    )
    rows = []
    for n in range(SESSIONS):
        started = MONDAY + timedelta(days=2 * n)
        ended = started + timedelta(hours=3)
        rows.append(
            WorkSessionRecord(
                id=n + 1, machine_id=1 + n % 2, student_id=1, order_id=None if n % 3 == 0 else 5, started=started
            )
        )
        rows[-1].ended = ended
    per_session = {
        r.id: SessionTally(cycles=4, cycle_s=1300.0, parts=4, completed_s=1200.0, setup_s=600.0) for r in rows
    }
    log = PracticeLog(
        sessions=SESSIONS,
        session_s=SESSIONS * 3 * 3600.0,
        cycle_s=SESSIONS * 1300.0,
        cycles=SESSIONS * 4,
        parts_made=SESSIONS * 4,
        scrap=3,
        mean_cycle_s=300.0,
        best_cycle_s=255.0,
        mean_vs_standard=1.125,
        trend=-0.01,
        machines=(
            MachinePractice("lyon/lathe", SESSIONS // 2, SESSIONS / 2 * 3 * 3600.0, SESSIONS / 2 * 1300.0, 72, 72),
            MachinePractice("lyon/mill", SESSIONS // 2, SESSIONS / 2 * 3 * 3600.0, SESSIONS / 2 * 1300.0, 72, 72),
        ),
        trend_cycles=SESSIONS * 4,
        setup_s=SESSIONS * 600.0,
    )
    approvals = [
        ApprovalLine("PO-5", "10", "lyon/mill", "ok", "Ø 24,98", "", "M. Durand", MONDAY + timedelta(hours=1)),
        ApprovalLine("PO-5", "20", "lyon/lathe", "nok", "Ø 25,12", "reprendre l'outil", "M. Durand", NOW),
    ]
    found = StudentLog(
        student=student,
        sessions=rows,
        machines={1: "lyon/mill", 2: "lyon/lathe"},
        log=log,
        per_session=per_session,
        orders={5: "PO-5"},
    )
    order = OrderPractice(5, "PO-5", "20", "<b>Acme</b>", 24, 24 * 3 * 3600.0, 24 * 600.0, 96, 300.0, 270.0, 96, 900.0)
    competences = [
        ValidatedCompetence(
            "CAP",
            "B1",
            "C1.2",
            "Régler la machine",
            "en_cours",
            "M. Durand",
            MONDAY,
            "à revoir",
            Evidence("PO-5", 10, MONDAY, "OK", MONDAY + timedelta(hours=1)),
        ),
        ValidatedCompetence(
            "CAP", "B2", "C2.1", "Contrôler une pièce", "acquis", "Mme Petit", NOW, "bien mesuré", Evidence("PO-5", 20)
        ),
        ValidatedCompetence(
            "CAP", "B2", "C2.2", "Mesurer", "en_cours", "Mme Petit", NOW, "", Evidence(session_started=MONDAY)
        ),
    ]
    period = Period(date(2026, 9, 1), date(2026, 12, 4))
    return LogRecord(found, period, [order], competences, customers_shown=True, approvals=approvals)


def pdf_text(body: bytes) -> str:
    pages = PdfReader(io.BytesIO(body)).pages
    return "\n".join(f"=== page {n} ===\n{page.extract_text()}" for n, page in enumerate(pages, start=1)) + "\n"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_log_pdf_says_what_the_golden_file_says(lang: str) -> None:
    text = pdf_text(log_pdf(record(), lang=lang, zone=PARIS, now=NOW))
    golden = GOLDEN / f"practice_log_{lang}.txt"
    if os.environ.get("ATELIER_REGENERATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_the_golden_file_holds_what_a_diploma_record_needs() -> None:
    # So that a regenerated golden cannot quietly drop a part of the record.
    text = (GOLDEN / "practice_log_fr.txt").read_text(encoding="utf-8")
    pages = text.count("=== page ")
    assert pages >= 2
    for n in range(1, pages + 1):
        assert f"Page {n} / {pages}" in text
    for needed in (
        "Période du 01/09/2026 au 04/12/2026",
        "PO-5",
        "<b>Acme</b>",  # escaped: a name is only ever a name
        "Ø 25,12",
        "non conforme",
        "C2.1",
        "acquis",
        "Mme Petit",
        "PO-5 op 10, 1re pièce OK 07/09",  # the evidence a validation rests on
        "séance 07/09",
        "L'élève",
        "Le maître professionnel",
        "Le chef d'établissement",
        "directeur délégué",
    ):
        assert needed in " ".join(text.split()), needed  # a cell may wrap its words onto two lines


def test_hidden_customers_are_not_in_the_pdf() -> None:
    hidden = record()
    hidden = replace(hidden, customers_shown=False)
    text = pdf_text(log_pdf(hidden, lang="fr", zone=PARIS, now=NOW))
    assert "Acme" not in text
    assert "masqué" in text
