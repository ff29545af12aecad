"""What a practice log is asked for, the same on the page, the PDF and the CSV: ``from`` and ``to`` (local
dates of the school, both included) and ``customer=hide``. A period that cannot be read is refused with a
coded error (``InvalidError``: a 422 in the API, a message on the page), never a traceback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from gateway.domain.practice_record import Period, PeriodError, parse_day, period_of
from gateway.errors import InvalidError
from gateway.store.db import Db
from gateway.store.log_record_repo import first_day
from gateway.web.records_state import RecordsState

HIDE = "hide"


@dataclass(frozen=True, slots=True)
class LogQuery:
    period: Period
    show_customers: bool

    def query(self, lang: str | None = None) -> str:
        """The query string that asks the PDF or the CSV for the same record (in ``lang`` when given)."""
        params = {} if lang is None else {"lang": lang}
        if self.period.chosen:
            params |= {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()}
        if not self.show_customers:
            params["customer"] = HIDE
        return urlencode(params)


def log_query(params: Mapping[str, str], *, today: date, earliest: date | None) -> LogQuery:
    """The record asked for by ``params`` (``earliest``: the record's first day, where it starts by default);
    InvalidError (``period_*``) when the period is refused."""
    try:
        period = period_of(parse_day(params.get("from")), parse_day(params.get("to")), today=today, earliest=earliest)
    except PeriodError as err:
        raise InvalidError(err.code) from err
    return LogQuery(period, params.get("customer") != HIDE)


def asked(params: Mapping[str, str], *, db: Db, state: RecordsState, student_id: int) -> LogQuery:
    """``log_query`` for a student, today and the record's first day read from the store."""
    zone = state.settings.zone()
    first = first_day(db=db, student_id=student_id)
    earliest = None if first is None else first.astimezone(zone).date()
    return log_query(params, today=state.now().astimezone(zone).date(), earliest=earliest)
