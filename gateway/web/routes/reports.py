"""``/api/reports``: utilisation and OEE per machine per day or week, CSV exports; the retention purge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from gateway.auth import Principal
from gateway.domain.progress import OrderProgress
from gateway.domain.session_totals import LogLine
from gateway.errors import InvalidError
from gateway.store import customers_repo, orders_repo, privacy, students_repo
from gateway.store.activity_repo import OrderActivity, order_activity
from gateway.store.db import Db
from gateway.store.heap import without_collection
from gateway.store.log_lines import practice_logs
from gateway.store.models import Student
from gateway.store.orders_repo import OrderLine
from gateway.store.progress_repo import progress_of_orders
from gateway.store.reports_repo import machine_reports
from gateway.store.students_repo import student_named
from gateway.web.csv_export import Column, FormatQuery, csv_response, sheet_of
from gateway.web.guards import Admin
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.records_state import RecordsState, StateDep
from gateway.web.records_views import oee_public
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
    """Utilisation and OEE (availability × performance × quality, ISO 22400-2 over the site's planned time)
    of each machine over the period, counted up to now: a period under way stops at now, a future one is
    empty (``status``). Running outside planned time is ``unplanned_running_s``, never in availability."""
    start, end = window(state, period, day)
    now = state.now()
    label = (
        start.date().isoformat() if period == "day" else f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
    )
    with state.reading(who) as db:
        reports = machine_reports(db=db, start=start, end=end, now=now, zone=state.settings.timezone, name=machine)
    return [oee_public(r, label) for r in reports]


ORDER_COLUMNS = (
    Column("id", "N°", "No.", "int", only="raw"),
    Column("customer", "Client", "Customer"),
    Column("reference", "Référence", "Reference"),
    Column("part_number", "Pièce", "Part"),
    Column("drawing_revision", "Indice", "Revision"),
    Column("quantity", "Commandées", "Ordered", "int"),
    Column("due", "Échéance", "Due", "time"),
    Column("status", "Statut", "Status", "word"),
    Column("made", "Faites", "Made", "int"),
    Column("scrap", "Rebuts", "Scrap", "int"),
    Column("good", "Bonnes", "Good", "int"),
    Column("remaining", "Restantes", "Remaining", "int"),
    Column("projected_finish", "Fin prévue", "Projected finish", "time"),
    Column("late", "En retard", "Late", "bool"),
    Column("first_part_pending", "1re pièce en attente", "First part pending", "bool"),
    Column("operations_in_progress", "Opérations en cours", "Operations in progress"),
)


@router.get("/orders.csv", response_class=Response)
def orders_csv(who: Admin, state: StateDep, request: Request, flavour: FormatQuery = "sheet") -> Response:
    """Every order with its progress: for a spreadsheet, or ``?format=raw`` for scripts."""
    # An object or more per order, all kept to the end (4,134 orders at three years): the collector walking
    # them on the way cost up to a third of the export (``heap``).
    with without_collection():
        with state.reading(who) as db:
            orders = orders_repo.order_lines(db=db)
            # Every order's figures read together, from the parts kept per session (issue 18).
            figures = progress_of_orders(db=db, orders=orders, now=state.now(), zone=state.settings.timezone)
            rows = order_rows(db, orders, figures)
        words = page_labels(lang_of(request))["order_statuses"]
        return csv_response(ORDER_COLUMNS, rows, "orders.csv", sheet_of(request, state, flavour, words))


def order_rows(db: Db, orders: list[OrderLine], figures: Mapping[int, OrderProgress]) -> list[list[Any]]:
    """The orders CSV's rows (``ORDER_COLUMNS``): each order, its progress ``figures``, what is under way."""
    customers = customers_repo.customer_names(db=db)
    activity = order_activity(db=db, order_ids=[o.id for o in orders])
    rows = []
    for order in orders:
        p = figures[order.id]
        now_on = activity.get(order.id, OrderActivity())
        described = [order.id, customers[order.customer_id], order.reference, order.part_number]
        described += [order.drawing_revision, order.quantity, order.due, order.status]
        counted = [p.made, p.scrap, p.good, p.remaining, p.projected_finish, p.late]
        working = " ".join(str(n) for n in now_on.in_progress)  # "10 20": no separator of either flavour
        rows.append([*described, *counted, now_on.first_part_pending, working])
    return rows


LOG_COLUMNS = (
    Column("student", "N°", "No.", "int", only="raw"),
    Column("name", "Élève", "Student"),
    Column("class", "Classe", "Class"),
    Column("track", "Filière", "Track"),
    Column("sessions", "Séances", "Sessions", "int"),
    Column("session_h", "Heures", "Hours", "hours"),
    Column("cycle_h", "Heures de coupe", "Cutting hours", "hours"),
    Column("cycles", "Cycles", "Cycles", "int"),
    Column("parts_made", "Pièces faites", "Parts made", "int"),
    Column("scrap", "Rebuts", "Scrap", "int"),
    Column("good", "Bonnes", "Good", "int"),
    Column("mean_cycle_s", "Cycle moyen (s)", "Mean cycle (s)", "seconds"),
    Column("best_cycle_s", "Meilleur cycle (s)", "Best cycle (s)", "seconds"),
    Column("mean_vs_standard", "Par rapport au standard", "Against the standard", "ratio"),
    Column("trend", "Tendance", "Trend", "word"),
)


@router.get("/practice-logs.csv", response_class=Response)
def practice_logs_csv(
    who: Admin,
    state: StateDep,
    request: Request,
    class_name: Annotated[ClassName | None, Query()] = None,
    flavour: FormatQuery = "sheet",
) -> Response:
    """One line per student: hours, cycles, parts, scrap and cycle times against the standard."""
    with state.reading(who) as db:
        students = [s for s in students_repo.list_students(db=db) if class_name is None or s.class_name == class_name]
        # Every student's sessions and their totals read together, not student by student (issue 18).
        logs = practice_logs(db=db, students=students, now=state.now(), zone=state.settings.timezone)
    rows = [log_row(student, logs[student.id]) for student in students]
    words = page_labels(lang_of(request))["trend_words"]
    return csv_response(LOG_COLUMNS, rows, "practice-logs.csv", sheet_of(request, state, flavour, words))


def log_row(student: Student, log: LogLine) -> list[Any]:
    """The practice-logs CSV's line of a student (``LOG_COLUMNS``)."""
    who_row = [student.id, student_named(student).label, student.class_name, student.track, log.sessions]
    times = [log.session_s, log.cycle_s, log.cycles, log.parts_made, log.scrap, log.good]
    return [*who_row, *times, log.mean_cycle_s, log.best_cycle_s, log.mean_vs_standard, log.trend_word]


@retention_router.post("/purge")
def purge(who: Admin, state: StateDep) -> PurgeResult:
    """Detach practice logs older than ``records.retention_days`` from their students."""
    return run_purge(state, who)


def run_purge(state: RecordsState, who: Principal) -> PurgeResult:
    with state.transaction(who) as db:
        before, purged = privacy.purge_expired(db=db, settings=state.settings, now=state.now())
    return PurgeResult(before=before, sessions_purged=purged)
