"""``/orders``: the order board by due date; ``/orders/{id}``: its operations, first-part approvals, cycles
against the standard, scrap, students; a master records a first-part verdict on it (``/orders/{id}/first-part``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import NotFoundError, RecordsError
from gateway.store import first_part_repo, machines_repo, operations_repo
from gateway.store.pages_repo import board, order_detail
from gateway.web.charts import series_chart
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.pages import not_found, records, render, require, signed_in, zone
from gateway.web.schemas import FirstPartCreate
from gateway.web.work_forms import Form, ids, read_fields

router = APIRouter(include_in_schema=False)
READERS = ("admin", "viewer")
MAX_ID = 2**31 - 1


@router.get("/orders")
def order_board(request: Request) -> Response:
    who = require(request, *READERS)
    state = records(request)
    with state.reading(who) as db:
        lines = board(db=db, now=state.now(), zone=state.settings.timezone)
    return render(request, "orders.html", {"lines": lines, "now": state.now()})


@router.get("/orders/{order_id}")
def order_page(request: Request, order_id: int) -> Response:
    require(request, *READERS)
    return _page(request, order_id)


@router.post("/orders/{order_id}/first-part")
async def approve_first_part(request: Request, order_id: int) -> Response:
    """A logged-in master's verdict on the first part of an operation's series on a machine."""
    who = require(request, "admin")
    form = Form(request, await read_fields(request))  # refuses another site's POST before reading
    if not 1 <= order_id <= MAX_ID:
        return not_found(request)
    operation_id, machine_id = ids(form.texts("operation_id")[:1]), ids(form.texts("machine_id")[:1])
    judged = form.validate(
        FirstPartCreate, {"verdict": form.text("verdict"), "measured": form.text("measured"), "note": form.text("note")}
    )
    if not operation_id or not machine_id or not isinstance(judged, FirstPartCreate):
        return _page(request, order_id, error=next(iter(form.errors.values()), form.words["invalid"]), status=422)
    state = records(request)
    try:
        with state.transaction(who) as db:
            operation = operations_repo.operation_of_order(db=db, order_id=order_id, operation_id=operation_id[0])
            machine = machines_repo.find_machine_by_id(db=db, machine_id=machine_id[0])
            verdict = first_part_repo.Judged(judged.verdict, judged.measured, judged.note)
            first_part_repo.approve(
                db=db, who=who.name, now=state.now(), operation_id=operation.id, machine=machine, judged=verdict
            )
    except RecordsError as refused:
        message = refused.message(lang=lang_of(request), zone=zone(request), names=True)
        return _page(request, order_id, error=message, status=refused.status)
    return RedirectResponse(f"/orders/{order_id}?done=first_part_done", status_code=303)


def _page(request: Request, order_id: int, *, error: str | None = None, status: int = 200) -> Response:
    if not 1 <= order_id <= MAX_ID:
        return not_found(request)
    state = records(request)
    try:
        with state.reading(signed_in(request)) as db:
            detail = order_detail(db=db, order_id=order_id, now=state.now(), zone=state.settings.timezone)
    except NotFoundError:
        return not_found(request)
    words = page_labels(lang_of(request))
    completed = [c.row.duration_s for c in detail.cycles if c.row.outcome == "completed"]
    chart = series_chart(
        completed, detail.line.order.standard_cycle_s, title=words["cycle_chart"], ref_label=words["standard"]
    )
    return render(request, "order.html", {"d": detail, "chart": chart, "approve_error": error}, status_code=status)
