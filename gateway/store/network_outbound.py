"""What a school's gateway tells the network about one day or one hour: ``contract.NetworkAggregate``.

Computed with the same code as the utilisation page (``reports_repo.machine_report``: planned time from the
site's calendar, stops and their categories, OEE over planned time) and the practice hours of work sessions
grouped by class and track (``domain.network.practice_groups``). Only numbers leave: no student id, name,
badge, order or customer is read into the message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.domain.network import Period, clipped_s, practice_groups
from gateway.domain.stops import by_category
from gateway.store.machines_repo import all_machines
from gateway.store.models import Machine, StateChange, Student, WorkSessionRecord
from gateway.store.reports_repo import MachineReport, machine_report

HOUR_S = 3600.0


def sites(*, db: Session, only: str = "+") -> list[str]:
    """The sites this gateway's store has machines for (``only``: the gateway's site, or ``+`` for all)."""
    stmt = select(Machine.site).distinct().order_by(Machine.site)
    if only != "+":
        stmt = stmt.where(Machine.site == only)
    return list(db.scalars(stmt))


def aggregate(
    *, db: Session, site: str, period: Period, now: datetime, zone: str, min_students: int
) -> contract.NetworkAggregate:
    """The site's numbers over ``period``, counted up to ``now``."""
    machines = [m for m in all_machines(db=db) if m.site == site]
    figures = []
    for machine in machines:
        report = machine_report(db=db, machine=machine, start=period.start, end=period.end, now=now, zone=zone)
        figures.append(_figures(db, report, period, now))
    practice = practice_groups(_practice_rows(db, [m.id for m in machines], period, now), min_students=min_students)
    return contract.NetworkAggregate(
        site=site,
        ts=now,
        period=period.kind,
        day=period.day,
        start=period.start,
        end=period.end,
        final=period.final(now),
        machines=tuple(figures),
        practice=tuple(contract.PracticeHours(class_label=c, track=t, hours=h) for c, t, h in practice),
    )


def _figures(db: Session, report: MachineReport, period: Period, now: datetime) -> contract.MachineAggregate:
    planned = report.planned
    stops = by_category(report.stops)
    if period.kind == "hour":
        online = _available_at(db, report.machine.id, min(period.end, now))
    else:
        online = report.use.on_s > 0
    return contract.MachineAggregate(
        machine=report.machine.name,
        online=online,
        planned_h=_h(planned.busy_s),
        running_h=_h(planned.running_s),
        free_h=_h(planned.free_s),
        good=max(0, report.made - report.scrap),
        scrap=report.scrap,
        oee=report.scores.oee,
        stops=contract.StopHours(
            setup=_h(stops["setup"]),
            organisation=_h(stops["organisation"]),
            technical=_h(stops["technical"]),
            planned=_h(stops["planned"]),
            unclassified=_h(stops["unclassified"]),
        ),
    )


def _h(seconds: float) -> float:
    return round(max(0.0, seconds) / HOUR_S, 4)


def _available_at(db: Session, machine_id: int, moment: datetime) -> bool:
    stmt = (
        select(StateChange.availability)
        .where(StateChange.machine_id == machine_id, StateChange.ts <= moment)
        .order_by(StateChange.ts.desc(), StateChange.id.desc())
        .limit(1)
    )
    return db.scalar(stmt) == "AVAILABLE"


def _practice_rows(
    db: Session, machine_ids: list[int], period: Period, now: datetime
) -> list[tuple[str, str, int, float]]:
    """(class, track, student id, seconds) of the sessions on these machines inside the period, up to now.

    The student id stays here: it only counts different students; the message carries the groups' hours.
    """
    until = min(period.end, now)
    if not machine_ids or until <= period.start:
        return []
    stmt = (
        select(Student.class_name, Student.track, Student.id, WorkSessionRecord.started, WorkSessionRecord.ended)
        .join(Student, Student.id == WorkSessionRecord.student_id)
        .where(
            WorkSessionRecord.machine_id.in_(machine_ids),
            WorkSessionRecord.started < until,
            (WorkSessionRecord.ended.is_(None)) | (WorkSessionRecord.ended > period.start),
        )
    )
    rows = []
    for class_name, track, student_id, started, ended in db.execute(stmt):
        seconds = clipped_s(started, ended, period.start, until)
        if seconds > 0:
            rows.append((class_name, track, student_id, seconds))
    return rows
