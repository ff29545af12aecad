"""``/desk/cycles``: cycles that ran while nobody was checked in, for a master to give to a work session.

Several at once: the master ticks cycles and picks one session; every assignment is
``POST /api/cycles/{id}/assignment``'s (``work_repo.assign_cycle``: same machine,
audited), all in one transaction, so that a cycle refused (another machine) leaves
none of them assigned and the ticks come back for another try.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import RecordsError
from gateway.store import work_repo
from gateway.store.desk_work_repo import loose_cycles, session_lines
from gateway.web.pages import records, render, require, signed_in
from gateway.web.schemas import AssignmentCreate
from gateway.web.work_forms import Form, ids, read_fields

router = APIRouter(include_in_schema=False)
LOOKBACK = timedelta(days=30)
FIELDS = {"cycle_other_machine": "session_id", "work_session_not_found": "session_id", "cycle_not_found": "cycle"}


@router.get("/desk/cycles")
def cycles_page(request: Request) -> Response:
    require(request, "admin")
    return _page(request, {}, {}, [], request.query_params.get("done"))


@router.post("/desk/cycles/assign")
async def assign_cycles(request: Request) -> Response:
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    ticked = ids(form.texts("cycle"))
    if not ticked:
        form.errors["cycle"] = form.words["ids"]
    if not form.text("session_id"):
        form.errors["session_id"] = form.words["missing"]
    body = form.validate(AssignmentCreate, {"session_id": form.text("session_id") or None})
    if not isinstance(body, AssignmentCreate) or not ticked:
        return _page(request, form.values(), form.errors, ticked or [], None)
    state = records(request)
    try:
        with state.transaction(who) as db:
            for cycle_id in ticked:
                work_repo.assign_cycle(
                    db=db, who=who.name, cycle_id=cycle_id, work_session_id=body.session_id, now=state.now()
                )
    except RecordsError as refused:
        form.refused(refused, FIELDS)
        bad = refused.params.get("cycle_id")  # the tick refused, shown on its row
        return _page(request, form.values(), form.errors, ticked, None, status_code=refused.status, bad=bad)
    return RedirectResponse("/desk/cycles?done=cycles_assigned", status_code=303)


def _page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    ticked: list[int],
    done: str | None,
    *,
    status_code: int = 422,
    bad: object = None,
) -> Response:
    state = records(request)
    now = state.now()
    with state.reading(signed_in(request)) as db:
        cycles = loose_cycles(db=db, since=now - LOOKBACK, until=now)
        sessions = session_lines(db=db, since=now - LOOKBACK)
    by_machine: dict[str, list[object]] = {}
    for line in sorted(sessions, key=lambda s: (s.machine, s.row.started)):
        by_machine.setdefault(line.machine, []).append(line)
    context = {
        "cycles": cycles,
        "sessions": by_machine,
        "ticked": set(ticked),
        "values": values,
        "errors": errors,
        "done": done,
        "bad": bad,
    }
    return render(request, "desk_cycles.html", context, status_code=status_code if errors else 200)
