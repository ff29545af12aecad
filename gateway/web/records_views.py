"""Store rows and domain results turned into the API's public schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.store.machines_repo import machine_key
from gateway.store.models import WorkSessionRecord
from gateway.store.reports_repo import MachineReport, StudentLog
from gateway.store.students_repo import student_named
from gateway.web.report_schemas import MachinePracticePublic, OeePublic, PracticeLogPublic, PracticeSessionPublic
from gateway.web.schemas import SessionPublic


def work_session_public(row: WorkSessionRecord, machines: Mapping[int, str]) -> SessionPublic:
    return SessionPublic(
        id=row.id,
        machine_id=row.machine_id,
        machine=machines[row.machine_id],
        student_id=row.student_id,
        order_id=row.order_id,
        operation_id=row.operation_id,
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
        base = work_session_public(row, found.machines).model_dump()
        sessions.append(
            PracticeSessionPublic(
                **base,
                order_reference=found.order_reference(row),
                cycles=tally.cycles,
                cycle_s=tally.cycle_s,
                parts=tally.parts,
            )
        )
    return PracticeLogPublic(
        student_id=student.id,
        display_name=student_named(student).label,
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
        setup_s=log.setup_s,
        stopped_s=log.stopped_s,
        machines=[MachinePracticePublic(**_fields(m)) for m in log.machines],
    )


def _fields(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def oee_public(report: MachineReport, period: str) -> OeePublic:
    use, scores, planned = report.use, report.scores, report.planned
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
        free_s=planned.free_s,
        utilisation=use.running_s / use.window_s if use.window_s > 0 else None,
        planned_s=planned.calendar_s,
        planned_downtime_s=planned.planned_downtime_s,
        planned_busy_s=planned.busy_s,
        actual_production_s=planned.running_s,
        unplanned_running_s=planned.unplanned_running_s,
        planned_held_s=planned.held_s,
        planned_alarm_s=planned.alarm_s,
        planned_idle_s=planned.idle_s,
        planned_offline_s=planned.offline_s,
        cycles=report.cycles,
        made=report.made,
        scrap=report.scrap,
        availability=scores.availability,
        performance=scores.performance,
        quality=scores.quality,
        oee=scores.oee,
    )
