"""``/api/reports``: utilisation and OEE per machine per day or week, CSV exports; the retention purge."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from gateway.records_errors import InvalidError
from gateway.store import privacy
from gateway.store import records_repo as repo
from gateway.store.models import Machine
from gateway.store.records import Customer
from gateway.store.reports_repo import machine_report, progress, student_log
from gateway.web.guards import Admin
from gateway.web.records_state import RecordsState, StateDep
from gateway.web.records_views import csv_response, oee_public, practice_public
from gateway.web.report_schemas import OeePublic, PurgeResult
from gateway.web.schemas import ClassName, Short

router = APIRouter(prefix="/api/reports", tags=["reports"])
retention_router = APIRouter(prefix="/api/retention", tags=["reports"])
Period = Literal["day", "week"]


def window(state: RecordsState, period: Period, day: date | None) -> tuple[datetime, datetime]:
    """[start, end) of the day, or of the ISO week (Monday first), in the configured time zone, as UTC."""
    zone = state.settings.zone()
    day = day or state.now().astimezone(zone).date()
    if not date(2000, 1, 1) <= day <= date(2099, 12, 24):
        raise InvalidError("date_out_of_range", date=day.isoformat())
    first = day - timedelta(days=day.weekday()) if period == "week" else day
    last = first + timedelta(days=7 if period == "week" else 1)
    return datetime.combine(first, time(), tzinfo=zone), datetime.combine(last, time(), tzinfo=zone)


@router.get("/oee")
def oee_report(
    who: Admin,
    state: StateDep,
    period: Period = "day",
    day: Annotated[date | None, Query(alias="date", description="a day of the period; default today")] = None,
    machine: Annotated[Short | None, Query()] = None,
) -> list[OeePublic]:
    """Utilisation and OEE (availability × performance × quality) of each machine over the period,
    counted up to now: a period under way stops at now, a future one is empty (``status``)."""
    start, end = window(state, period, day)
    now = state.now()
    label = (
        start.date().isoformat() if period == "day" else f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
    )
    with state.reading() as session:
        stmt = select(Machine).order_by(Machine.site, Machine.name)
        if machine is not None:
            stmt = stmt.where(Machine.name == machine)
        reports = [
            machine_report(session=session, machine=m, start=start, end=end, now=now) for m in session.scalars(stmt)
        ]
    return [oee_public(r, label) for r in reports]


@router.get("/orders.csv", response_class=Response)
def orders_csv(who: Admin, state: StateDep) -> Response:
    now = state.now()
    header = ["id", "customer", "reference", "part_number", "drawing_revision", "quantity", "due", "status"]
    header += ["made", "scrap", "good", "remaining", "projected_finish", "late"]
    rows = []
    with state.reading() as session:
        customers = dict(session.execute(select(Customer.id, Customer.name)).all())
        for order in repo.list_orders(session=session):
            p = progress(session=session, order_id=order.id, now=now)
            described = [order.id, customers[order.customer_id], order.reference, order.part_number]
            described += [order.drawing_revision, order.quantity, order.due, order.status]
            rows.append([*described, p.made, p.scrap, p.good, p.remaining, p.projected_finish, p.late])
    return csv_response(header, rows, "orders.csv")


@router.get("/practice-logs.csv", response_class=Response)
def practice_logs_csv(who: Admin, state: StateDep, class_name: Annotated[ClassName | None, Query()] = None) -> Response:
    """One line per student: hours, cycles, parts, scrap and cycle times against the standard."""
    now = state.now()
    header = ["student", "name", "class", "track", "sessions", "session_h", "cycle_h", "cycles", "parts_made"]
    header += ["scrap", "good", "mean_cycle_s", "best_cycle_s", "mean_vs_standard", "trend"]
    rows = []
    with state.reading() as session:
        for student in repo.list_students(session=session):
            if class_name is not None and student.class_name != class_name:
                continue
            log = practice_public(student_log(session=session, student_id=student.id, now=now))
            who_row = [student.id, log.display_name, log.class_name, log.track, len(log.sessions)]
            hours = [round(log.session_s / 3600, 2), round(log.cycle_s / 3600, 2)]
            times = [_round(log.mean_cycle_s), _round(log.best_cycle_s), _round(log.mean_vs_standard, 3)]
            rows.append([*who_row, *hours, log.cycles, log.parts_made, log.scrap, log.good, *times, log.trend_word])
    return csv_response(header, rows, "practice-logs.csv")


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@retention_router.post("/purge")
def purge(who: Admin, state: StateDep) -> PurgeResult:
    """Detach practice logs older than ``records.retention_days`` from their students."""
    return run_purge(state)


def run_purge(state: RecordsState) -> PurgeResult:
    with state.transaction() as session:
        before, purged = privacy.purge_expired(session=session, settings=state.settings, now=state.now())
    return PurgeResult(before=before, sessions_purged=purged)
