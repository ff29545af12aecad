"""``/desk/alarms?week=YYYY-Www&machine={id}``: the alarm history, per machine and ISO week.

Per machine, each code with its text, how many times it came, how long in all and its
last start, then every alarm with its start and duration. Weeks are the school's
(Monday to Sunday in its time zone), as on the utilisation report.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.domain.alarm_history import summarise
from gateway.store.alarms_repo import alarm_lines
from gateway.store.machines_repo import all_machines
from gateway.web.pages import records, render, require
from gateway.web.routes.reports import window
from gateway.web.routes.utilisation_page import week_day, week_label

router = APIRouter(include_in_schema=False)


@router.get("/desk/alarms")
def alarms_page(request: Request) -> Response:
    who = require(request, "admin")
    state = records(request)
    now = state.now()
    monday = week_day(request.query_params.get("week"), now.astimezone(state.settings.zone()).date())
    start, end = window(state, "week", monday)
    with state.reading(who) as db:
        machines = all_machines(db=db)
        chosen = _machine(request.query_params.get("machine"), {m.id for m in machines})
        lines = alarm_lines(db=db, start=start, end=end, machine_id=chosen)
    by_machine: dict[str, list[object]] = {}
    for line in lines:
        by_machine.setdefault(line.machine, []).append(line)
    context = {
        "machines": machines,
        "chosen": chosen,
        "week": week_label(monday),
        "prev": week_label(monday - timedelta(days=7)),
        "next": week_label(monday + timedelta(days=7)),
        "start": start,
        "end": end - timedelta(seconds=1),
        "summary": summarise(lines, now),
        "lines": by_machine,
        "now": now,
    }
    return render(request, "desk_alarms.html", context)


def _machine(text: str | None, known: set[int]) -> int | None:
    """The machine asked for; every machine when the parameter is missing or names none."""
    if text is None or not text.isdigit():
        return None
    return int(text) if int(text) in known else None
