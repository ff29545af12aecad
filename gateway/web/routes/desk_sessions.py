"""``/desk/sessions``: work sessions for a master to correct (student, order, times) or to end when forgotten.

The same rules as ``PATCH /api/sessions/{id}`` (``SessionUpdate``, then the store's
``update_work_session``: no overlap on the machine, an end after the start, an
active student and an order still open, audited). Only the fields the master
changed are sent, so that correcting the times of a session of an order closed
since is not refused for its order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import NotFoundError, RecordsError
from gateway.store import work_repo
from gateway.store.desk_work_repo import SessionLine, session_choices, session_line, session_lines
from gateway.store.models import WorkSessionRecord
from gateway.web.pages import not_found, records, render, require, signed_in, zone
from gateway.web.schemas import MAX_ID, SessionUpdate
from gateway.web.work_forms import Form, local_input, read_fields

router = APIRouter(include_in_schema=False)
LOOKBACK = timedelta(days=30)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
TICK = timedelta(microseconds=1)
FIELDS = {
    "session_overlap": "started",
    "machine_taken": "ended",
    "session_ends_before_start": "ended",
    "student_inactive": "student_id",
    "student_busy": "student_id",
    "student_not_found": "student_id",
    "order_done": "order_id",
    "order_cancelled": "order_id",
    "order_not_found": "order_id",
    "operation_required": "operation_id",
    "operation_not_of_order": "operation_id",
    "operation_other_machine": "operation_id",
    "operation_no_order": "operation_id",
    "operation_not_found": "operation_id",
}


@router.get("/desk/sessions")
def sessions_page(request: Request) -> Response:
    require(request, "admin")
    return _list(request, {}, None, request.query_params.get("done"))


@router.post("/desk/sessions/{session_id}/end")
async def end_session(request: Request, session_id: int) -> Response:
    """End a session a student forgot to close, at the time the master gives."""
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    ended = form.when("ended")
    line = _line(request, session_id)
    if line is None:
        return not_found(request)
    if ended is None:
        form.errors.setdefault("ended", form.words["missing"])
    elif line.row.started - MINUTE < ended <= line.row.started:
        # A datetime-local holds minutes only: the minute the session began means within it, not before it
        # (the latest instant of that minute already past, and at least a second after the start).
        ended = max(min(ended + MINUTE - TICK, records(request).now()), line.row.started + SECOND)
    body = form.validate(SessionUpdate, {"ended": ended})
    if not isinstance(body, SessionUpdate):
        return _list(request, form.errors, session_id, None, status_code=422, typed=form.text("ended"))
    refused = _save(request, who.name, session_id, body.changes(), form)
    if refused is not None:
        return _list(request, form.errors, session_id, None, status_code=refused, typed=form.text("ended"))
    return RedirectResponse("/desk/sessions?done=session_ended", status_code=303)


@router.get("/desk/sessions/{session_id}")
def edit_session(request: Request, session_id: int) -> Response:
    require(request, "admin")
    line = _line(request, session_id)
    if line is None:
        return not_found(request)
    return _form(request, line, _values(line.row, request), {})


@router.post("/desk/sessions/{session_id}")
async def save_session(request: Request, session_id: int) -> Response:
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    line = _line(request, session_id)
    if line is None:
        return not_found(request)
    changes = _changed(form, line.row, request)
    body = form.validate(SessionUpdate, changes)
    if not isinstance(body, SessionUpdate):
        return _form(request, line, form.values(), form.errors)
    refused = _save(request, who.name, session_id, body.changes(), form)
    if refused is not None:
        return _form(request, line, form.values(), form.errors, status_code=refused)
    return RedirectResponse("/desk/sessions?done=session_saved", status_code=303)


def _save(request: Request, who: str, session_id: int, changes: dict[str, Any], form: Form) -> int | None:
    """Write the changes; the refusal's HTTP status when the store refuses them (said on the form)."""
    if not changes:
        return None
    state = records(request)
    try:
        with state.transaction(signed_in(request)) as db:
            work_repo.update_work_session(db=db, who=who, work_session_id=session_id, changes=changes, now=state.now())
    except RecordsError as refused:
        form.refused(refused, FIELDS)
        return refused.status
    return None


def _changed(form: Form, row: WorkSessionRecord, request: Request) -> dict[str, Any]:
    """Only what differs from the stored session; a time left as shown keeps its seconds."""
    tz = zone(request)
    changes: dict[str, Any] = {}
    for name in ("student_id", "order_id", "operation_id"):
        if name == "operation_id" and name not in form.fields:
            continue  # no operation to choose on the form: the order's only one follows the order
        text = form.text(name)
        if text != ("" if getattr(row, name) is None else str(getattr(row, name))):
            changes[name] = text or None
    for name in ("started", "ended"):
        if form.text(name) != local_input(getattr(row, name), tz):
            changes[name] = form.when(name)
    return changes


def _line(request: Request, session_id: int) -> SessionLine | None:
    if not 1 <= session_id <= MAX_ID:
        return None
    try:
        with records(request).reading(signed_in(request)) as db:
            return session_line(db=db, session_id=session_id)
    except NotFoundError:
        return None


def _values(row: WorkSessionRecord, request: Request) -> dict[str, str]:
    tz = zone(request)
    return {
        "student_id": "" if row.student_id is None else str(row.student_id),
        "order_id": "" if row.order_id is None else str(row.order_id),
        "operation_id": "" if row.operation_id is None else str(row.operation_id),
        "started": local_input(row.started, tz),
        "ended": local_input(row.ended, tz),
    }


def _list(
    request: Request,
    errors: dict[str, str],
    failed: int | None,
    done: str | None,
    *,
    status_code: int = 200,
    typed: str = "",
) -> Response:
    """The list; after a refused end, the row ``failed`` shows the error and the time typed."""
    state = records(request)
    now = state.now()
    with state.reading(signed_in(request)) as db:
        lines = session_lines(db=db, since=now - LOOKBACK)
    context = {
        "open": [line for line in lines if line.row.ended is None],
        "closed": [line for line in lines if line.row.ended is not None],
        "now_input": local_input(now, zone(request)),
        "errors": errors,
        "failed": failed,
        "typed": typed,
        "done": done,
    }
    return render(request, "desk_sessions.html", context, status_code=status_code)


def _form(
    request: Request, line: SessionLine, values: dict[str, str], errors: dict[str, str], status_code: int = 422
) -> Response:
    state = records(request)
    with state.reading(signed_in(request)) as db:
        choices = session_choices(db=db, student_id=line.row.student_id, order_id=line.row.order_id, now=state.now())
    context = {"line": line, "choices": choices, "values": values, "errors": errors}
    return render(request, "desk_session.html", context, status_code=status_code if errors else 200)
