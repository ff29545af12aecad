"""``/students/{id}/log``: a student's practice log; ``/students/{id}/log.pdf``: the same, printable.

A student opens only their own log (403 otherwise); masters open every log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.auth import Principal
from gateway.errors import NotFoundError
from gateway.store.pages_repo import student_cycles
from gateway.store.reports_repo import StudentLog, student_log
from gateway.store.students_repo import display_name
from gateway.web.charts import series_chart
from gateway.web.i18n import lang_of
from gateway.web.log_pdf import log_pdf
from gateway.web.page_labels import page_labels, trend_text
from gateway.web.pages import Forbidden, not_found, records, render, require

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class LogView:
    found: StudentLog
    ratios: list[float]  # each cycle's time over its order's standard, in time order


def _allowed(who: Principal, student_id: int) -> None:
    if who.role == "student" and who.student_id != student_id:
        raise Forbidden


def _load(request: Request, student_id: int) -> LogView | None:
    _allowed(require(request, "admin", "student"), student_id)
    if not 1 <= student_id <= MAX_ID:
        return None
    state = records(request)
    try:
        with state.reading() as db:
            found = student_log(db=db, student_id=student_id, now=state.now(), zone=state.settings.timezone)
            cycles = student_cycles(db=db, student_id=student_id)
    except NotFoundError:
        return None
    ratios = [c.row.duration_s / std for c, std in cycles if std and c.row.outcome == "completed"]
    return LogView(found, ratios)


@router.get("/students/{student_id}/log")
def log_page(request: Request, student_id: int) -> Response:
    view = _load(request, student_id)
    if view is None:
        return not_found(request)
    lang = lang_of(request)
    words = page_labels(lang)
    chart = series_chart(view.ratios, 1.0, title=words["trend_chart"], unit="", ref_label=words["standard"], lang=lang)
    trend = trend_text(view.found.log, words)
    student = view.found.student
    context: dict[str, Any] = {"s": student, "name": display_name(student), "log": view.found, "chart": chart}
    context["trend"] = trend
    return render(request, "student_log.html", context)


@router.get("/students/{student_id}/log.pdf")
def log_pdf_page(request: Request, student_id: int) -> Response:
    view = _load(request, student_id)
    if view is None:
        return not_found(request)
    state = records(request)
    body = log_pdf(view.found, lang=lang_of(request), zone=state.settings.zone(), now=state.now())
    name = f"carnet-{student_id}.pdf" if lang_of(request) == "fr" else f"practice-log-{student_id}.pdf"
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})
