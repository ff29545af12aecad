"""``/kiosk/{machine}``: the tablet at a machine. Check in and out by badge, choose the order and its operation,
declare scrap, say why the machine stopped (one tap on a reason, for the current or last stop, while someone is
checked in), and a master's first-part verdict by badge while the series waits for one.

The page only renders; its script calls the records API (``/api/sessions``, ``/api/scrap``)
with the kiosk's own credentials, so the same rules apply as for any other client, and
reads this page again after each action to show the state the server holds.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import NotFoundError
from gateway.store import machines_repo, pages_repo, stops_repo
from gateway.store.reports_repo import recent_stops
from gateway.web.pages import Forbidden, not_found, records, render, require

router = APIRouter(include_in_schema=False)


@router.get("/kiosk/{machine}")
def kiosk_page(request: Request, machine: str) -> Response:
    who = require(request, "admin", "kiosk")
    state = records(request)
    with state.reading(who) as db:
        try:
            found = machines_repo.find_machine(db=db, name=machine[:200], site=request.query_params.get("site"))
        except NotFoundError:
            return not_found(request)
        if who.role == "kiosk" and who.machine_id != found.id:
            raise Forbidden
        view = pages_repo.kiosk_view(db=db, machine=found, now=state.now())
        # The current or last stop, for the student in session to say why with one tap.
        recent = recent_stops(db=db, machine=found, now=state.now(), zone=state.settings.timezone)
        reasons = [r for r, active in stops_repo.reasons(db=db, site=found.site) if active]
    context = {
        "stop": recent[-1] if recent and view.current is not None else None,
        "reasons": reasons,
        "machine": found,
        "current": view.current,
        "student": view.student,
        "current_order": view.current_order,
        "orders": view.orders,
        "choices": view.choices,
        "current_operation": view.current_operation,
        "first_part_pending": view.first_part_pending,
        "approval": view.approval,
    }
    return render(request, "kiosk.html", context)
