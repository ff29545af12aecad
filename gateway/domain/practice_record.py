"""The practice log as a diploma record: its period, its orders against their standards, the first-part
approvals and the competences validated in it. Pure: plain facts in, the record's lines out.

A period is two local dates of the school, both included (``from`` 01/09/2026 ``to``
04/12/2026 is every hour of those days in the school's zone). The record holds the
work sessions that overlap it, whole, as the practice log always did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

# Dates a period may name: before 2000 or after 2100 is a typing slip, not a school year.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
LEVELS = ("non_acquis", "en_cours", "acquis", "maitrise")
SCHOOL_YEAR_MONTH = 9  # a French school year starts in September


class PeriodError(ValueError):
    """A period the page, the PDF or the CSV refuses; ``code`` names why (``period_order``, ``period_range``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Period:
    first: date  # included
    last: date  # included
    chosen: bool = True  # False: no dates were asked for, the whole record up to today

    def start(self, zone: str) -> datetime:
        """The first instant of ``first`` in the school's zone, in UTC."""
        return datetime.combine(self.first, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)

    def end(self, zone: str) -> datetime:
        """The instant after ``last`` ends in the school's zone (midnight), in UTC: the period is [start, end)."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)

    def covers(self, ts: datetime, zone: str) -> bool:
        return self.start(zone) <= ts < self.end(zone)


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` (what a date field sends) → the date; None when empty. PeriodError when unreadable."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    if len(cleaned) != len("YYYY-MM-DD"):  # also keeps a huge value away from the parser
        raise PeriodError("period_date")
    try:
        return date.fromisoformat(cleaned)
    except ValueError as err:
        raise PeriodError("period_date") from err


def period_of(first: date | None, last: date | None, *, today: date, earliest: date | None = None) -> Period:
    """The period asked for: ``first`` missing is the start of the record (``earliest``, the first session's
    day, else the school year's start), ``last`` missing is today. Refused: ``first`` after ``last``, and
    dates outside 2000–2100."""
    for day in (first, last):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise PeriodError("period_range")
    chosen = first is not None or last is not None
    if first is None:
        first = min(earliest or school_year_start(today), last or today)
    if last is None:
        last = max(today, first)
    if first > last:
        raise PeriodError("period_order")
    return Period(first, last, chosen)


def school_year_start(day: date) -> date:
    """1 September of the school year ``day`` falls in."""
    year = day.year if day.month >= SCHOOL_YEAR_MONTH else day.year - 1
    return date(year, SCHOOL_YEAR_MONTH, 1)


@dataclass(frozen=True, slots=True)
class ApprovalLine:
    """A master's verdict on the first part of an operation the student worked on, as the record prints it."""

    order: str  # the order's reference
    operation: str | None  # the operation number ("20")
    machine: str  # site/name
    verdict: str  # "ok" or "nok"
    measured: str  # what the master measured, as written ("Ø 24,98")
    note: str
    by: str  # the master
    at: datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    """The work a validation rests on: a session, the order and operation worked, a first-part verdict."""

    order: str | None = None  # the order's reference
    operation: int | None = None  # the operation's number (10, 20, ...)
    session_started: datetime | None = None
    verdict: str | None = None  # a first-part approval's OK or NOK
    approved_at: datetime | None = None

    def text(self, *, zone: tzinfo, session_word: str, first_part_word: str) -> str:
        """ "CMD-0515 op 20, 1re pièce OK 04/12"; a practice session alone is "séance 04/12"; nothing is ""."""
        said = []
        if self.order is not None and self.operation is not None:
            said.append(f"{self.order} op {self.operation}")
        elif self.order is not None:
            said.append(self.order)
        elif self.session_started is not None:
            said.append(f"{session_word} {self.session_started.astimezone(zone):%d/%m}")
        if self.verdict is not None and self.approved_at is not None:
            said.append(f"{first_part_word} {self.verdict.upper()} {self.approved_at.astimezone(zone):%d/%m}")
        return ", ".join(said)


@dataclass(frozen=True, slots=True)
class ValidatedCompetence:
    diploma: str
    block: str
    code: str
    label: str
    level: str  # one of LEVELS
    by: str  # the master
    at: datetime
    comment: str
    evidence: Evidence = Evidence()


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the log knows of one work session, for the per-order lines."""

    order_id: int | None
    session_s: float
    setup_s: float
    cycles: int  # completed
    completed_s: float  # time in those completed cycles
    parts: int
    operation_id: int | None = None  # the order's operation worked; None for practice or a session without one


@dataclass(frozen=True, slots=True)
class OrderPractice:
    """The student's work on one order in the period, against the order's standard."""

    order_id: int
    reference: str
    operation: str | None  # the operation's number ("20"); None for a session recorded without one
    customer: str | None  # None when the customer's name is hidden
    sessions: int
    session_s: float
    setup_s: float
    cycles: int
    mean_cycle_s: float | None
    standard_cycle_s: float | None  # the operation's standard, else the order's
    parts: int
    standard_setup_s: float | None = None  # the operation's

    @property
    def vs_standard(self) -> float | None:
        """Mean cycle over the standard: 1.0 on standard, 1.2 is 20 % slower."""
        if self.mean_cycle_s is None or not self.standard_cycle_s:
            return None
        return self.mean_cycle_s / self.standard_cycle_s


@dataclass(frozen=True, slots=True)
class Step:
    """An operation as the record reads it: its number and standards."""

    number: int
    standard_cycle_s: float | None
    standard_setup_s: float | None


def order_lines(
    sessions: Iterable[SessionFacts],
    *,
    references: Mapping[int, str],
    standards: Mapping[int, float | None],
    customers: Mapping[int, str] | None,
    steps: Mapping[int, Step] | None = None,
) -> list[OrderPractice]:
    """One line per order and operation worked (practice without an order has none), by reference then number.

    ``customers``: order id → customer name, or None to hide every customer's name. ``steps``: operation id →
    its number and standards, which stand before the order's own standard cycle time.
    """
    steps = steps or {}
    grouped: dict[tuple[int, int | None], list[SessionFacts]] = {}
    for facts in sessions:
        if facts.order_id is not None:
            grouped.setdefault((facts.order_id, facts.operation_id), []).append(facts)
    lines = []
    for (order_id, operation_id), mine in grouped.items():
        cycles = sum(f.cycles for f in mine)
        completed_s = sum(f.completed_s for f in mine)
        step = None if operation_id is None else steps.get(operation_id)
        standard = step.standard_cycle_s if step is not None and step.standard_cycle_s else None
        lines.append(
            OrderPractice(
                order_id=order_id,
                reference=references.get(order_id, "?"),
                operation=None if step is None else str(step.number),
                customer=None if customers is None else customers.get(order_id),
                sessions=len(mine),
                session_s=sum(f.session_s for f in mine),
                setup_s=sum(f.setup_s for f in mine),
                cycles=cycles,
                mean_cycle_s=completed_s / cycles if cycles else None,
                standard_cycle_s=standard if standard is not None else standards.get(order_id),
                parts=sum(f.parts for f in mine),
                standard_setup_s=None if step is None else step.standard_setup_s,
            )
        )
    return sorted(lines, key=lambda line: (line.reference, int(line.operation or 0), line.order_id))
