"""``/students/{id}/log``: a student's practice log; ``/students/{id}/log.pdf``: the same, printable.

Both read ``from`` and ``to`` (local dates, both included; by default the whole log up
to today) and ``customer=hide`` (``log_query``); a period that cannot be read is a 422
with its reason on the page. A student opens only their own log (403 otherwise,
whatever the parameters); masters open every log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.auth import Principal
from gateway.domain.practice_record import school_year_start
from gateway.errors import InvalidError, NotFoundError
from gateway.store.heap import without_collection
from gateway.store.log_record_repo import LogRecord, log_record
from gateway.store.pages_repo import Ratios, cycle_ratios, log_ratios, student_cycles
from gateway.store.students_repo import display_name, get_student
from gateway.web.charts import series_chart
from gateway.web.downloads import disposition
from gateway.web.i18n import lang_of
from gateway.web.log_pdf import log_pdf
from gateway.web.log_query import LogQuery, asked
from gateway.web.page_labels import page_labels, trend_text
from gateway.web.pages import Forbidden, not_found, records, render, require, signed_in

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class LogView:
    record: LogRecord
    asked: LogQuery
    ratios: Ratios  # the cycles' times over their order's standard, in time order, in the period


def _allowed(who: Principal, student_id: int) -> None:
    if who.role == "student" and who.student_id != student_id:
        raise Forbidden


def _load(request: Request, student_id: int, *, chart: bool = True) -> LogView | None:
    """The log asked for (with its chart's ratios if ``chart``: the PDF has none); None when there is no such
    student; InvalidError when the period is refused."""
    _allowed(require(request, "admin", "student"), student_id)
    if not 1 <= student_id <= MAX_ID:
        return None
    state = records(request)
    zone = state.settings.timezone
    try:
        with state.reading(signed_in(request)) as db:
            query = asked(request.query_params, db=db, state=state, student_id=student_id)
            record = log_record(
                db=db,
                student_id=student_id,
                now=state.now(),
                zone=zone,
                period=query.period,
                show_customers=query.show_customers,
            )
            if not chart:
                ratios = Ratios([], per_session=False)
            elif query.period.chosen:  # a session outside the period may own a cycle ending inside it
                cycles = student_cycles(db=db, student_id=student_id)
                within = [(c, std) for c, std in cycles if query.period.covers(c.row.ended, zone)]
                ratios = cycle_ratios(within)
            else:  # the whole log's sessions are all hers: drawn from what the log read
                ratios = log_ratios(db=db, found=record.found)
    except NotFoundError:
        return None
    return LogView(record, query, ratios)


def _refused(request: Request, student_id: int, err: InvalidError) -> Response:
    """The page again, with the reason and the period form, and nothing of the log: a 422."""
    state = records(request)
    try:
        with state.reading(signed_in(request)) as db:
            student = get_student(db=db, student_id=student_id)
    except NotFoundError:
        return not_found(request)
    message = err.message(lang=lang_of(request), zone=state.settings.zone(), names=True)
    context: dict[str, Any] = {"s": student, "name": display_name(student), "log": None, "refused": message}
    # What was typed goes back into the form (escaped by the template; a date field is short anyway).
    context |= {"params": request.query_params, "record": None}
    context |= {
        "from_value": request.query_params.get("from", "")[:10],
        "to_value": request.query_params.get("to", "")[:10],
    }
    return render(request, "student_log.html", context, status_code=422)


@router.get("/students/{student_id}/log")
def log_page(request: Request, student_id: int) -> Response:
    try:
        view = _load(request, student_id)
    except InvalidError as err:
        return _refused(request, student_id, err)
    if view is None:
        return not_found(request)
    lang = lang_of(request)
    words = page_labels(lang)
    title = words["trend_chart_sessions" if view.ratios.per_session else "trend_chart"]
    chart = series_chart(view.ratios.values, 1.0, title=title, unit="", ref_label=words["standard"], lang=lang)
    found = view.record.found
    context: dict[str, Any] = {"s": found.student, "name": display_name(found.student), "log": found, "chart": chart}
    context["chart_title"] = title
    context |= {"trend": trend_text(found.log, words), "record": view.record, "asked": view.asked}
    context |= {"query": view.asked.query(lang), "csv_query": view.asked.query(), "params": request.query_params}
    today = records(request).now().astimezone(records(request).settings.zone()).date()
    context["year_from"] = school_year_start(today).isoformat()
    period = view.asked.period
    context["from_value"] = period.first.isoformat() if period.chosen else ""
    context["to_value"] = period.last.isoformat() if period.chosen else ""
    return render(request, "student_log.html", context)


@router.get("/students/{student_id}/log.pdf")
def log_pdf_page(request: Request, student_id: int) -> Response:
    try:
        view = _load(request, student_id, chart=False)
    except InvalidError as err:
        return _refused(request, student_id, err)
    if view is None:
        return not_found(request)
    state = records(request)
    # Years of sessions are thousands of table cells and text objects, all alive until the document is
    # written: the cyclic collector walking them on the way was up to a third of the PDF (``heap``).
    with without_collection():
        body = log_pdf(view.record, lang=lang_of(request), zone=state.settings.zone(), now=state.now())
    name = f"carnet-{student_id}.pdf" if lang_of(request) == "fr" else f"practice-log-{student_id}.pdf"
    return Response(body, media_type="application/pdf", headers=disposition(name, inline=True))
