"""Store rows and domain results turned into the API's public schemas and CSV files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import Machine
from gateway.store.records import WorkSessionRecord
from gateway.store.records_repo import machine_key
from gateway.store.reports_repo import MachineReport, StudentLog
from gateway.web.report_schemas import MachinePracticePublic, OeePublic, PracticeLogPublic, PracticeSessionPublic
from gateway.web.schemas import SessionPublic


def machine_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {m.id: machine_key(m) for m in session.scalars(select(Machine).where(Machine.id.in_(wanted)))}


def session_public(row: WorkSessionRecord, machines: Mapping[int, str]) -> SessionPublic:
    return SessionPublic(
        id=row.id,
        machine_id=row.machine_id,
        machine=machines[row.machine_id],
        student_id=row.student_id,
        order_id=row.order_id,
        started=row.started,
        ended=row.ended,
        opened_by=row.opened_by,
        closed_by=row.closed_by,
    )


def practice_public(found: StudentLog) -> PracticeLogPublic:
    log, student = found.log, found.student
    sessions = []
    for row in found.sessions:
        tally = found.per_session[row.id]
        base = session_public(row, found.machines).model_dump()
        sessions.append(PracticeSessionPublic(**base, cycles=tally.cycles, cycle_s=tally.cycle_s, parts=tally.parts))
    return PracticeLogPublic(
        student_id=student.id,
        display_name=f"{student.first_name} {student.last_initial}",
        class_name=student.class_name,
        track=student.track,
        sessions=sessions,
        session_s=log.session_s,
        cycle_s=log.cycle_s,
        cycles=log.cycles,
        parts_made=log.parts_made,
        scrap=log.scrap,
        good=log.good,
        mean_cycle_s=log.mean_cycle_s,
        best_cycle_s=log.best_cycle_s,
        mean_vs_standard=log.mean_vs_standard,
        trend=log.trend,
        trend_word=log.trend_word,
        machines=[MachinePracticePublic(**_fields(m)) for m in log.machines],
    )


def _fields(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def oee_public(report: MachineReport, period: str) -> OeePublic:
    use, scores = report.use, report.scores
    return OeePublic(
        machine=machine_key(report.machine),
        period=period,
        start=report.start,
        end=report.end,
        until=report.period.until,
        status=report.period.status,
        window_s=use.window_s,
        running_s=use.running_s,
        held_s=use.held_s,
        alarm_s=use.alarm_s,
        idle_s=use.idle_s,
        offline_s=use.offline_s,
        free_s=use.free_s,
        utilisation=use.running_s / use.window_s if use.window_s > 0 else None,
        cycles=report.cycles,
        made=report.made,
        scrap=report.scrap,
        availability=scores.availability,
        performance=scores.performance,
        quality=scores.quality,
        oee=scores.oee,
    )


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else _cell(value) for value in row])
    return Response(
        content=buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(value: Any) -> Any:
    text = value.isoformat() if hasattr(value, "isoformat") else value
    # A cell starting with = + - @ would run as a formula in a spreadsheet; quote it as text.
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text
