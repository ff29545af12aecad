"""A student's practice log as the PDF a school files for the CAP or Bac Pro record (reportlab, no network).

Over a period (printed under the title), with the orders against their standards, the
first-part approvals, the competences validated, "Page n / N" on every page and the
signature blocks of the student, the workshop master and the head of school.

reportlab's ``Paragraph`` reads its text as markup (``<b>``, ``<img src=...>``, which
loads a file from the server's disk into the PDF): every stored string goes
through ``text()`` before it joins a paragraph. Table cells are plain strings,
drawn as they are, except the long free texts (labels, comments, notes), which are
escaped paragraphs so that they wrap.
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
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gateway.store.log_record_repo import LogRecord
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
LEFT = TableStyle([("ALIGN", (0, 0), (-1, -1), "LEFT"), ("FONTSIZE", (0, 0), (-1, -1), 8)])
DAY = "%d/%m/%Y"
CELL_SIZE = 8  # points: a free text in a table, as in ``free_text`` and the approvals' and competences' tables
PADDING = 6  # reportlab's default left and right padding of a table cell, in points
SESSION_WIDTHS = [w * mm for w in (32, 44, 36, 22, 20, 20)]  # the page's width between its margins: 174 mm
WIDTH = A4[0] - 36 * mm


def text(value: object) -> str:
    """A stored value as paragraph text: markup characters escaped, so a name is only ever a name."""
    return escape(str(value), {'"': "&quot;", "'": "&#39;"})


def _table(rows: list[list[Any]], widths: list[float] | None = None, style: TableStyle | None = None) -> Table:
    cells = [[c if isinstance(c, Paragraph) else str(c) for c in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(GRID)
    if style is not None:
        table.setStyle(style)
    return table


def totals_rows(found: StudentLog, words: dict[str, Any], lang: str) -> list[list[Any]]:
    log = found.log
    ratio = "—" if log.mean_vs_standard is None else decimal(log.mean_vs_standard, 2, lang)
    return [
        [words["total"], ""],
        [words["sessions"], log.sessions],
        [words["hours"], hours(log.session_s)],
        [words["log_setup"], hours(log.setup_s)],
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


def numbered(words: str) -> type[Canvas]:
    """A canvas that writes ``words`` ("Page {page} / {pages}") at the foot of every page, once it knows
    how many there are: each page is kept until the document is saved, then numbered."""

    class NumberedCanvas(Canvas):  # type: ignore[misc] # reportlab has no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._kept: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._kept.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._kept, start=1):
                self.__dict__.update(state)
                self.setFont("Helvetica", 8)
                self.drawRightString(A4[0] - 18 * mm, 8 * mm, words.format(page=number, pages=len(self._kept)))
                super().showPage()
            super().save()

    return NumberedCanvas


def log_pdf(record: LogRecord, *, lang: str, zone: tzinfo, now: datetime) -> bytes:
    words = page_labels(lang)
    styles = getSampleStyleSheet()
    found, period = record.found, record.period
    student = found.student
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm
    )
    doc.title = f"{words['log_title']} — {student_named(student).label}"
    between = str(words["log_period_text"]).format(first=period.first.strftime(DAY), last=period.last.strftime(DAY))
    story: list[Any] = [
        Paragraph(text(doc.title), styles["Title"]),
        Paragraph(
            f"{text(words['class'])} : {text(student.class_name)} · {text(words['track'])} : {text(student.track)} · "
            f"{words['generated']} {now.astimezone(zone).strftime('%d/%m/%Y %H:%M')}",
            styles["Normal"],
        ),
        Paragraph(f"<b>{text(between)}</b>", styles["Normal"]),
        Spacer(1, 6 * mm),
        _table(totals_rows(found, words, lang), [70 * mm, 85 * mm]),
    ]
    story += _section(words["hours_per_machine"], _table(_machine_rows(found, words)), styles)
    story += _section(words["log_orders"], _orders(record, words, lang, styles), styles)
    sessions = _table(_session_rows(found, words, zone, styles), SESSION_WIDTHS, free_text(1, 2))
    story += _section(words["sessions"], sessions, styles)
    story += _section(words["log_approvals"], _approvals(record, words, zone, styles), styles)
    story += _section(words["log_competences"], _competences(record, words, zone, styles), styles)
    story += [Spacer(1, 8 * mm), _signatures(words, styles)]
    doc.build(story, canvasmaker=numbered(str(words["log_page"])))
    return buffer.getvalue()


def _section(title: str, body: Any, styles: Any) -> list[Any]:
    return [Spacer(1, 6 * mm), Paragraph(text(title), styles["Heading2"]), body]


def _cell(value: object, styles: Any, width: float | None = None) -> Paragraph | str:
    """A free text in a table: a paragraph that wraps, or, when it fits on one line of ``width``, the plain
    string (a paragraph is laid out again at every page a long table splits on: most of a long log's PDF).
    A heading (no ``width``) stays a paragraph: its words wrap in the smaller type."""
    plain = str(value)
    if width is None:
        return Paragraph(text(value), _cell_style(styles))
    return "\n".join(wrapped(plain, "Helvetica", CELL_SIZE, width - 2 * PADDING))


def wrapped(plain: str, font: str, size: float, width: float) -> list[str]:
    """``plain`` cut into lines no wider than ``width`` (points): at spaces, and inside a word longer than a
    line. A table's plain cell is drawn line by line as it is, never read as markup; a paragraph would be laid
    out again at every page a long table splits on (hundreds of order lines in years of a log)."""
    lines: list[str] = []
    for given in plain.splitlines() or [""]:
        line = ""
        for word in given.split(" "):
            joined = word if not line else f"{line} {word}"
            if stringWidth(joined, font, size) <= width:
                line = joined
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:  # a word wider than the line is cut where it must be
                if line and stringWidth(line + char, font, size) > width:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line)
    return lines


def free_text(*columns: int) -> TableStyle:
    """The columns of free texts (``_cell``) under their heading: in the cell type and to the left, as their
    paragraphs were."""
    said = (("FONTSIZE", 8), ("LEADING", 10), ("ALIGN", "LEFT"))
    commands = [(name, (c, 1), (c, -1), value) for c in columns for name, value in said]
    return TableStyle(commands)


def _cell_style(styles: Any) -> Any:
    if "cell" not in styles.byName:  # made once per document, not once per cell
        styles.add(styles["BodyText"].clone("cell", fontSize=8, leading=10))
    return styles["cell"]


def _machine_rows(found: StudentLog, words: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [words["machine"], words["sessions"], words["hours"], words["cycle_hours"], words["cycles"], words["parts"]]
    ]
    rows.extend(
        [m.machine, m.sessions, hours(m.session_s), hours(m.cycle_s), m.cycles, m.parts] for m in found.log.machines
    )
    return rows


def _orders(record: LogRecord, words: dict[str, Any], lang: str, styles: Any) -> Any:
    if not record.orders:
        return Paragraph(text(words["log_no_orders"]), styles["Normal"])
    head = [words["order"], words["log_operation"], words["customer"], words["hours"], words["log_setup"]]
    head += [words["cycles"], words["mean_cycle"], words["log_standard"], words["vs_standard"], words["parts"]]
    widths = [w * mm for w in (20, 18, 23, 14, 15, 14, 15, 16, 19, 13)]
    rows: list[list[Any]] = [[_cell(h, styles) for h in head]]
    for line in record.orders:
        customer = line.customer if record.customers_shown else words["log_customer_hidden"]
        ratio = "—" if line.vs_standard is None else decimal(line.vs_standard, 2, lang)
        rows.append(
            [
                _cell(line.reference, styles, widths[0]),
                line.operation or "—",
                _cell(customer or "—", styles, widths[2]),
                hours(line.session_s),
                # Against the operation's standard setup when it has one: "0:40 / 0:30".
                hours(line.setup_s) + ("" if not line.standard_setup_s else f" / {hours(line.standard_setup_s)}"),
                line.cycles,
                duration(line.mean_cycle_s),
                duration(line.standard_cycle_s),
                ratio,
                line.parts,
            ]
        )
    return _table(rows, widths, free_text(0, 2))


def _session_rows(found: StudentLog, words: dict[str, Any], zone: tzinfo, styles: Any) -> list[list[Any]]:
    """One line per session: years of them in a long table, laid out in fixed columns (reportlab measures
    every cell of a table without widths, again at each page it splits on)."""
    rows: list[list[Any]] = [
        [words["started"], words["machine"], words["order"], words["duration"], words["cycles"], words["parts"]]
    ]
    for row in found.sessions:
        tally = found.per_session[row.id]
        end = row.ended
        length = hours((end - row.started).total_seconds()) if end is not None else "…"
        order = found.order_reference(row) or words["practice"]
        started = row.started.astimezone(zone).strftime("%d/%m/%Y %H:%M")
        machine = _cell(found.machines[row.machine_id], styles, SESSION_WIDTHS[1])
        rows.append([started, machine, _cell(order, styles, SESSION_WIDTHS[2]), length, tally.cycles, tally.parts])
    return rows


def _approvals(record: LogRecord, words: dict[str, Any], zone: tzinfo, styles: Any) -> Any:
    if not record.approvals:
        return Paragraph(text(words["log_no_approvals"]), styles["Normal"])
    head = [words["log_at"], words["order"], words["log_operation"], words["machine"], words["log_verdict"]]
    head += [words["log_measured"], words["log_note"], words["log_by"]]
    widths = [w * mm for w in (20, 20, 18, 22, 20, 20, 34, 20)]
    rows: list[list[Any]] = [[_cell(h, styles) for h in head]]
    for a in record.approvals:
        verdict = words["log_verdicts"].get(a.verdict, a.verdict)
        when = a.at.astimezone(zone).strftime(DAY)
        said = zip((a.measured, a.note, a.by), widths[5:], strict=True)
        free = [_cell(value, styles, width) for value, width in said]
        order, machine = _cell(a.order, styles, widths[1]), _cell(a.machine, styles, widths[3])
        rows.append([when, order, a.operation or "—", machine, verdict, *free])
    return _table(rows, widths, LEFT)


def _competences(record: LogRecord, words: dict[str, Any], zone: tzinfo, styles: Any) -> Any:
    if not record.competences:
        return Paragraph(text(words["log_no_competences"]), styles["Normal"])
    head = [words["log_at"], words["comp_code"], words["comp_competence"], words["log_level"]]
    head += [words["log_evidence"], words["log_master"], words["log_comment"]]
    rows: list[list[Any]] = [[_cell(h, styles) for h in head]]
    for c in record.competences:
        level = words.get(f"level_{c.level}", c.level)
        when = c.at.astimezone(zone).strftime(DAY)
        said = c.evidence.text(zone=zone, session_word=words["comp_session"], first_part_word=words["comp_first_part"])
        rows.append([when, _cell(c.code, styles), _cell(c.label, styles), level, _cell(said or "—", styles)])
        rows[-1] += [_cell(c.by, styles), _cell(c.comment, styles)]
    widths = [w * mm for w in (18, 14, 34, 18, 44, 20, 26)]
    return _table(rows, widths, LEFT)


def _signatures(words: dict[str, Any], styles: Any) -> Any:
    """Three blocks side by side, each with its name, date and signature lines; never split across pages."""
    who = (words["log_sign_student"], words["log_sign_master"], words["log_sign_director"])
    line = "_" * 22
    blocks = [
        [
            Paragraph(f"<b>{text(title)}</b>", styles["Normal"]),
            Paragraph(f"{text(words['log_sign_name'])} {line}", styles["Normal"]),
            Paragraph(f"{text(words['log_sign_date'])} {line}", styles["Normal"]),
            Paragraph(text(words["log_sign_here"]), styles["Normal"]),
            Spacer(1, 18 * mm),
        ]
        for title in who
    ]
    table = Table([blocks], colWidths=[WIDTH / 3] * 3, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.4, colors.grey)]))
    table.setStyle(TableStyle([("INNERGRID", (0, 0), (-1, -1), 0.4, colors.grey)]))
    return KeepTogether([Paragraph(text(words["log_signatures"]), styles["Heading2"]), table])
