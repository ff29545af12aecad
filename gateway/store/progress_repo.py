"""Where orders stand (good parts, what remains, when they will be done): one order for its page and API, every
order at once for the board and the orders CSV, by one implementation.

An order's parts are what attribution gives its work sessions, kept with each finished session
(``session_cycles.parts``, read by ``reports_repo.session_parts`` while current): the figures of orders worked
on long ago read no cycle at all. The pace (``domain.progress.seconds_per_part``: the last completed cycles of
the final operation) is read from the cycles of the final operation's sessions, and only where it is shown:
for an order with parts remaining (its projected finish, whether it is late), and on the order's own page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.config import SCHOOL_ZONE
from gateway.domain.calendar import Calendar
from gateway.domain.operations import StepTally, order_count
from gateway.domain.progress import OrderProgress, counting_cycles, order_progress
from gateway.store.attribution_repo import CycleBounds, id_filters
from gateway.store.calendar_repo import calendar_of
from gateway.store.first_part_repo import order_tallies
from gateway.store.heap import without_collection
from gateway.store.machines_repo import machine_keys
from gateway.store.models import Machine, ScrapRecord
from gateway.store.orders_repo import get_order
from gateway.store.reports_repo import cycle_fact, cycles_of_sessions, session_parts
from gateway.store.session_rows import sessions_of_orders


class Ordered(Protocol):
    """What order figures read of an order: an ORM ``Order`` or an ``orders_repo.OrderLine``."""

    @property
    def id(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def due(self) -> datetime | None: ...


def progress(*, db: Session, order_id: int, now: datetime, zone: str = SCHOOL_ZONE) -> OrderProgress:
    """The order's progress; its projected finish advances only through the planned hours of the site of the
    machine it was last worked on (``zone``: the gateway's time zone, for a site with no calendar yet)."""
    return progress_by_operation(db=db, order_id=order_id, now=now, zone=zone)[0]


def progress_by_operation(
    *, db: Session, order_id: int, now: datetime, zone: str = SCHOOL_ZONE
) -> tuple[OrderProgress, list[StepTally]]:
    """``progress``, and each operation's own counts (the order's good parts are its last operation's)."""
    order = get_order(db=db, order_id=order_id)
    return _figures(db, [order], now, zone, CycleBounds(db), every_pace=True)[order.id]


def progress_of_orders(
    *, db: Session, orders: Sequence[Ordered], now: datetime, zone: str = SCHOOL_ZONE, bounds: CycleBounds | None = None
) -> dict[int, OrderProgress]:
    """``progress`` of every order in ``orders``, in a few reads for them all (the board, the orders CSV), figure
    for figure but one: ``seconds_per_part`` is read only for an order with parts remaining, where it projects
    a finish; a done order's is None here (its page shows it)."""
    # The first read after the upgrade attributes every order's cycles, a row and a fact each, all kept to the
    # end (``heap``): the collector is off meanwhile; other requests' cyclic garbage waits that long too.
    with without_collection():
        found = _figures(db, orders, now, zone, bounds or CycleBounds(db), every_pace=False)
    return {order_id: figures for order_id, (figures, _) in found.items()}


def _figures(
    db: Session, orders: Sequence[Ordered], now: datetime, zone: str, bounds: CycleBounds, *, every_pace: bool
) -> dict[int, tuple[OrderProgress, list[StepTally]]]:
    found = session_parts(db=db, order_ids=[o.id for o in orders], zone=zone, bounds=bounds)
    worked = {o.id: found.of_order.get(o.id, []) for o in orders}
    tallies_of = order_tallies(db=db, worked=worked)
    scrap_of = _scrap(db, list(worked))
    counted: dict[int, tuple[int, int, int | None, int, int | None]] = {}  # made, scrap, good, pending, final
    paced: list[int] = []
    for order in orders:
        tallies = tallies_of[order.id]
        counts = order_count(tallies)
        made = sum(r.parts for r in worked[order.id]) if counts is None else counts.made
        scrap = scrap_of.get(order.id, 0)
        good = None if counts is None else counts.good
        final = max(tallies, key=lambda t: t.number).operation_id if tallies else None
        counted[order.id] = (made, scrap, good, 0 if counts is None else counts.pending, final)
        if every_pace or order.quantity > (max(0, made - scrap) if good is None else good):
            paced.append(order.id)
    # Only the orders whose pace is read: their sessions' times and machines, their final operation's cycles.
    rows_of = sessions_of_orders(db=db, order_ids=paced)
    pacing = [r for o in paced for r in rows_of.get(o, []) if counted[o][4] is None or r.operation_id == counted[o][4]]
    cycles = cycles_of_sessions(db=db, rows=pacing, found=found, bounds=bounds)
    keys = machine_keys(db=db, ids={r.machine_id for r in pacing})
    site_of: dict[int, str] = dict(db.execute(select(Machine.id, Machine.site)).all())
    calendars: dict[str, Calendar] = {}
    result: dict[int, tuple[OrderProgress, list[StepTally]]] = {}
    for order in orders:
        rows = rows_of.get(order.id, [])
        made, scrap, good, pending, final = counted[order.id]
        mine = sorted(
            ((c, r) for r in rows if r.id in cycles for c in cycles[r.id]), key=lambda pair: (pair[0].ended, pair[0].id)
        )  # as attribution gives them, by end then id: the pace's ties fall the same way
        latest = max(rows, key=lambda r: r.started, default=None)
        site = None if latest is None else site_of.get(latest.machine_id)
        calendar = None
        if site is not None and mine:  # a projection walks the planned hours of the site last worked on
            if site not in calendars:
                calendars[site] = calendar_of(db=db, site=site, zone=zone)
            calendar = calendars[site]
        # The pace is parts over time: no standard is read for it.
        facts = counting_cycles([(r.operation_id, cycle_fact(c, keys[r.machine_id], None)) for c, r in mine], final)
        figures = order_progress(
            ordered=order.quantity,
            made=made,
            scrap=scrap,
            good=good,
            pending=pending,
            due=order.due,
            cycles=facts,
            now=now,
            calendar=calendar,
        )
        result[order.id] = (figures, tallies_of[order.id])
    return result


def _scrap(db: Session, order_ids: list[int]) -> dict[int, int]:
    """Order id → its scrap, every operation's."""
    found: dict[int, int] = {}
    wanted = set(order_ids)
    for where in id_filters(ScrapRecord.order_id, wanted):
        stmt = select(ScrapRecord.order_id, func.sum(ScrapRecord.quantity)).where(where).group_by(ScrapRecord.order_id)
        found.update((order_id, int(total or 0)) for order_id, total in db.execute(stmt) if order_id in wanted)
    return found
