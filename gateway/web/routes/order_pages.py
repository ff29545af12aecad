"""``/orders``: the order board by due date; ``/orders/{id}``: its cycles against the standard, scrap, students."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import NotFoundError
from gateway.store.pages_repo import board, order_detail
from gateway.web.charts import series_chart
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.pages import not_found, records, render, require

router = APIRouter(include_in_schema=False)
READERS = ("admin", "viewer")
MAX_ID = 2**31 - 1


@router.get("/orders")
def order_board(request: Request) -> Response:
    require(request, *READERS)
    state = records(request)
    with state.reading() as db:
        lines = board(db=db, now=state.now(), zone=state.settings.timezone)
    return render(request, "orders.html", {"lines": lines, "now": state.now()})


@router.get("/orders/{order_id}")
def order_page(request: Request, order_id: int) -> Response:
    require(request, *READERS)
    if not 1 <= order_id <= MAX_ID:
        return not_found(request)
    state = records(request)
    try:
        with state.reading() as db:
            detail = order_detail(db=db, order_id=order_id, now=state.now(), zone=state.settings.timezone)
    except NotFoundError:
        return not_found(request)
    words = page_labels(lang_of(request))
    completed = [c.row.duration_s for c in detail.cycles if c.row.outcome == "completed"]
    chart = series_chart(
        completed, detail.line.order.standard_cycle_s, title=words["cycle_chart"], ref_label=words["standard"]
    )
    return render(request, "order.html", {"d": detail, "chart": chart})
