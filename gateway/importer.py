"""Import students and orders from CSV: every line checked first, then all written in one transaction, or none.

Errors name the file, the line and the column, so a secretary can fix the
spreadsheet and try again; a file with any error writes nothing.

Students: ``first_name,last_initial,class_name,track,badge`` (``active`` optional).
Orders: ``customer,reference,part_number,drawing_revision,quantity,due,standard_cycle_s,programs,status``;
``due`` is a date (due by the end of that day, in the reports' time zone) or an ISO time with zone;
``programs`` are separated by ``;``. A customer named for the first time is created.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from gateway.errors import RecordsError
from gateway.store import customers_repo, orders_repo, students_repo
from gateway.web.schemas import OrderCreate, StudentCreate

STUDENT_COLUMNS = ("first_name", "last_initial", "class_name", "track", "badge")
ORDER_COLUMNS = ("customer", "reference", "part_number", "quantity")


@dataclass
class Report:
    """What an import found: the rows ready to write, or the problems (then nothing is written)."""

    file: str
    problems: list[str] = field(default_factory=list)
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    by_line: dict[int, list[Problem]] = field(default_factory=dict)  # the same problems, for a preview per line

    def problem(self, line: int, message: str, *, column: str = "", kind: str = "text", **params: Any) -> None:
        self.problems.append(f"{self.file}:{line}: {message}")
        self.by_line.setdefault(line, []).append(Problem(column, kind, params, message))


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a line, as data too, so that a page can say it in its own language."""

    column: str  # "" when about the whole line
    kind: str  # a pydantic error type, "badge_repeated", "badge_in_database", or "text" (only ``english``)
    params: dict[str, Any]
    english: str


def read_rows(path: Path, report: Report, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield from _rows(handle, report, required)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        report.problem(0, f"cannot read the file: {err}")


def _rows(handle: Iterable[str], report: Report, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(handle)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        report.problem(1, f"missing column(s) {', '.join(missing)} (found {reader.fieldnames})")
        return
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _validated(model: type[BaseModel], data: dict[str, Any], line: int, report: Report) -> dict[str, Any] | None:
    try:
        return model.model_validate(data).model_dump()
    except ValidationError as err:
        for item in err.errors():
            where = ".".join(str(p) for p in item["loc"]) or "line"
            params = {**(item.get("ctx") or {}), "found": item.get("input")}
            report.problem(
                line, f"{where}: {item['msg']} (found {item.get('input')!r})", column=where, kind=item["type"], **params
            )
        return None


def check_students(*, db: Session, path: Path) -> Report:
    report = Report(str(path))
    _check_students(db, report, read_rows(path, report, STUDENT_COLUMNS))
    return report


def check_students_text(*, db: Session, text: str, name: str) -> Report:
    """The same checks on a CSV already read (a file uploaded on the desk's import page)."""
    report = Report(name)
    lines = io.StringIO(text.removeprefix("\ufeff"), newline="")
    try:
        _check_students(db, report, _rows(lines, report, STUDENT_COLUMNS))
    except csv.Error as err:
        report.problem(0, f"cannot read the file: {err}")
    return report


def _check_students(db: Session, report: Report, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    badges: dict[str, int] = {}
    for line, raw in rows:
        data: dict[str, Any] = {k: raw[k] for k in STUDENT_COLUMNS}
        data["badge"] = data["badge"] or None
        if raw.get("active"):
            data["active"] = raw["active"]
        fields = _validated(StudentCreate, data, line, report)
        badge = data["badge"]
        if badge is not None:
            if badge in badges:
                message = f"badge {badge!r} is already on line {badges[badge]}"
                report.problem(line, message, column="badge", kind="badge_repeated", badge=badge, other=badges[badge])
            elif students_repo.student_with_badge(db=db, badge=badge) is not None:
                message = f"badge {badge!r} is already given to a student in the database"
                report.problem(line, message, column="badge", kind="badge_in_database", badge=badge)
            badges.setdefault(badge, line)
        if fields is not None:
            report.rows.append((line, fields))


def check_orders(*, db: Session, path: Path, zone: tzinfo, site: str) -> Report:
    report = Report(str(path))
    seen: dict[tuple[str, str], int] = {}
    known = customers_repo.customer_ids(db=db, site=site)
    for line, raw in read_rows(path, report, ORDER_COLUMNS):
        data = _order_data(raw, zone, line, report)
        key = (raw["customer"], raw["reference"])
        if key in seen:
            report.problem(line, f"order {key[1]!r} of {key[0]!r} is already on line {seen[key]}")
        seen.setdefault(key, line)
        customer_id = known.get(raw["customer"])
        if customer_id is not None:
            clash = orders_repo.order_with_reference(db=db, customer_id=customer_id, reference=raw["reference"])
            if clash is not None:
                report.problem(line, f"order {raw['reference']!r} of {raw['customer']!r} is already in the database")
        if not raw["customer"]:
            report.problem(line, "customer: the customer's name is missing")
        fields = _validated(OrderCreate, {**data, "customer_id": customer_id or 1}, line, report) if data else None
        if fields is not None:
            report.rows.append((line, {**fields, "customer": raw["customer"]}))
    return report


def _order_data(raw: dict[str, str], zone: tzinfo, line: int, report: Report) -> dict[str, Any] | None:
    data: dict[str, Any] = {k: raw[k] for k in ("reference", "part_number", "quantity")}
    data["drawing_revision"] = raw.get("drawing_revision", "")
    data["programs"] = [p.strip() for p in raw.get("programs", "").split(";") if p.strip()]
    for key in ("standard_cycle_s", "status"):
        if raw.get(key):
            data[key] = raw[key]
    if raw.get("due"):
        try:
            data["due"] = parse_due(raw["due"], zone)
        except ValueError as err:
            report.problem(line, f"due: {err}")
            return None
    return data


def parse_due(text: str, zone: tzinfo) -> datetime:
    """A bare date is due by the end of that day; a time must carry its zone."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; write a date (2026-12-15) or a time with zone")
    return value


def write(*, db: Session, report: Report, who: str, now: datetime, kind: str, site: str) -> int:
    """Write every row of a clean report into ``site``, in the caller's transaction; raise on the first refusal."""
    customers = customers_repo.customer_ids(db=db, site=site)
    for line, fields in report.rows:
        try:
            if kind == "students":
                students_repo.create_student(db=db, who=who, now=now, fields={**fields, "site": site})
                continue
            name = fields.pop("customer")
            if name not in customers:
                customers[name] = customers_repo.create_customer(db=db, who=who, now=now, name=name, site=site).id
            orders_repo.create_order(db=db, who=who, now=now, fields={**fields, "customer_id": customers[name]})
        except RecordsError as err:
            raise RecordsError(f"{report.file}:{line}: {err}") from err
    return len(report.rows)
