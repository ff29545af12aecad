"""A student's practice log as a PDF a master files for the CAP or Bac Pro record (reportlab, no network).

reportlab's ``Paragraph`` reads its text as markup (``<b>``, ``<img src=...>``, which
loads a file from the server's disk into the PDF): every stored string goes
through ``text()`` before it joins a paragraph. Table cells are plain strings,
drawn as they are.
"""

from __future__ import annotations

import io
from datetime import datetime, tzinfo
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gateway.store.reports_repo import StudentLog
from gateway.store.students_repo import student_named
from gateway.web.formats import decimal
from gateway.web.page_labels import page_labels, trend_text
from gateway.web.pages import duration, hours

GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)


def text(value: object) -> str:
    """A stored value as paragraph text: markup characters escaped, so a name is only ever a name."""
    return escape(str(value), {'"': "&quot;", "'": "&#39;"})


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    table = Table([[str(c) for c in row] for row in rows], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(GRID)
    return table


def totals_rows(found: StudentLog, words: dict[str, Any], lang: str) -> list[list[Any]]:
    log = found.log
    ratio = "—" if log.mean_vs_standard is None else decimal(log.mean_vs_standard, 2, lang)
    return [
        [words["total"], ""],
        [words["sessions"], log.sessions],
        [words["hours"], hours(log.session_s)],
        [words["cycle_hours"], hours(log.cycle_s)],
        [words["cycles"], log.cycles],
        [words["made"], log.parts_made],
        [words["scrap"], log.scrap],
        [words["good"], log.good],
        [words["mean_cycle"], duration(log.mean_cycle_s)],
        [words["best_cycle"], duration(log.best_cycle_s)],
        [words["vs_standard"], ratio],
        [words["trend"], trend_text(log, words)],
    ]


def log_pdf(found: StudentLog, *, lang: str, zone: tzinfo, now: datetime) -> bytes:
    words = page_labels(lang)
    styles = getSampleStyleSheet()
    student = found.student
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm
    )
    doc.title = f"{words['log_title']} — {student_named(student).label}"
    story: list[Any] = [
        Paragraph(text(doc.title), styles["Title"]),
        Paragraph(
            f"{text(words['class'])} : {text(student.class_name)} · {text(words['track'])} : {text(student.track)} · "
            f"{words['generated']} {now.astimezone(zone).strftime('%d/%m/%Y %H:%M')}",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        _table(totals_rows(found, words, lang), [70 * mm, 85 * mm]),
        Spacer(1, 6 * mm),
        Paragraph(text(words["hours_per_machine"]), styles["Heading2"]),
        _table(_machine_rows(found, words)),
        Spacer(1, 6 * mm),
        Paragraph(text(words["sessions"]), styles["Heading2"]),
        _table(_session_rows(found, words, zone)),
        Spacer(1, 14 * mm),
        Paragraph(f"{text(words['signature'])} : ______________________________", styles["Normal"]),
    ]
    doc.build(story)
    return buffer.getvalue()


def _machine_rows(found: StudentLog, words: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [words["machine"], words["sessions"], words["hours"], words["cycle_hours"], words["cycles"], words["parts"]]
    ]
    rows.extend(
        [m.machine, m.sessions, hours(m.session_s), hours(m.cycle_s), m.cycles, m.parts] for m in found.log.machines
    )
    return rows


def _session_rows(found: StudentLog, words: dict[str, Any], zone: tzinfo) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [words["started"], words["machine"], words["order"], words["duration"], words["cycles"], words["parts"]]
    ]
    for row in found.sessions:
        tally = found.per_session[row.id]
        end = row.ended
        length = hours((end - row.started).total_seconds()) if end is not None else "…"
        order = found.order_reference(row) or words["practice"]
        started = row.started.astimezone(zone).strftime("%d/%m/%Y %H:%M")
        rows.append([started, found.machines[row.machine_id], order, length, tally.cycles, tally.parts])
    return rows
