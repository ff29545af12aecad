"""What the hourly summaries job (``gateway.rollup_job``) calls to keep the month sums ready: after a machine's
finished days are summarised, its whole months are added up from them where missing or stale, so that the
first year report of the morning reads months, not days."""

from __future__ import annotations

from datetime import date

from gateway.store.db import Database
from gateway.store.models import Machine
from gateway.store.reports_repo import summarise_months


def keep_month_sums(database: Database, machine_id: int, first: date, last: date, zone: str) -> None:
    """The machine's whole local months within [first, last], in one transaction (a month per row: a few dozen)."""
    with database.transaction() as db:
        summarise_months(db=db, machine=db.get_one(Machine, machine_id), first=first, last=last, zone=zone)
