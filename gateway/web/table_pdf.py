"""A list as a PDF a school files or hands to an inspector: a title, a table, page numbers, signature blocks.

The cells are those of the spreadsheet CSV (``csv_export.sheet_cells``), so the PDF and
the CSV of a list never disagree. A4 landscape: the lists are wide.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from gateway.web.log_pdf import GRID, text

PAGE_WORDS = {"fr": "Page {n}", "en": "Page {n}"}


def table_pdf(*, title: str, subtitle: str, cells: list[list[str]], signatures: Sequence[str], lang: str) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
    )
    doc.title = title
    small = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    head = small.clone("head", fontName="Helvetica-Bold")
    body = [[Paragraph(text(c), head if r == 0 else small) for c in row] for r, row in enumerate(cells)]
    table = Table(body, repeatRows=1, hAlign="LEFT")
    table.setStyle(GRID)
    story: list[Any] = [Paragraph(text(title), styles["Title"]), Paragraph(text(subtitle), styles["Normal"])]
    story += [Spacer(1, 5 * mm), table, Spacer(1, 12 * mm)]
    story += [Paragraph(f"{text(who)} : ______________________________", styles["Normal"]) for who in signatures]
    page = PAGE_WORDS.get(lang, PAGE_WORDS["fr"])

    def number(canvas: Canvas, _: object) -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(landscape(A4)[0] - 12 * mm, 8 * mm, page.format(n=canvas.getPageNumber()))

    doc.build(story, onFirstPage=number, onLaterPages=number)
    return buffer.getvalue()
