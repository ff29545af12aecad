"""``/kiosk/{machine}``: the tablet at a machine. Check in and out by badge, choose the order, declare scrap.

The page only renders; its script calls the records API (``/api/sessions``, ``/api/scrap``)
with the kiosk's own credentials, so the same rules apply as for any other client, and
reads this page again after each action to show the state the server holds.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import NotFoundError
from gateway.store import records_repo as repo
from gateway.store import work_repo
from gateway.store.models import Order, Student
from gateway.web.page_data import ACTIVE, display_name
from gateway.web.pages import Forbidden, not_found, records, render, require

router = APIRouter(include_in_schema=False)


@router.get("/kiosk/{machine}")
def kiosk_page(request: Request, machine: str) -> Response:
    who = require(request, "admin", "kiosk")
    state = records(request)
    with state.sessions() as session:
        try:
            found = repo.find_machine(session=session, name=machine[:200], site=request.query_params.get("site"))
        except NotFoundError:
            return not_found(request)
        if who.role == "kiosk" and who.machine_id != found.id:
            raise Forbidden
        current = work_repo.open_session(session=session, machine=found)
        student = session.get(Student, current.student_id) if current and current.student_id else None
        current_order = session.get(Order, current.order_id) if current and current.order_id else None
        orders = [o for o in repo.list_orders(session=session) if o.status in ACTIVE]
        orders.sort(key=lambda o: (o.due is None, o.due or state.now(), o.id))
        context = {
            "machine": found,
            "current": current,
            "student": display_name(student) if student else None,
            "current_order": current_order,
            "orders": orders,
        }
        return render(request, "kiosk.html", context)
