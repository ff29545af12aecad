"""Where a customer order stands: good parts, what remains, and when it will be done at the current pace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.domain.calendar import Calendar, advance
from gateway.domain.model import CycleFact

# How many recent cycles set the pace of a projection.
PACE_WINDOW = 10


@dataclass(frozen=True, slots=True)
class OrderProgress:
    ordered: int
    made: int
    scrap: int
    good: int
    remaining: int
    seconds_per_part: float | None
    projected_finish: datetime | None
    late: bool
    done: bool
    pending: int = 0  # parts waiting for a first-part approval: made, not yet good


def seconds_per_part(cycles: Sequence[CycleFact], window: int = PACE_WINDOW) -> float | None:
    """The pace of the last ``window`` completed cycles, gaps between cycles included.

    Gaps count because a projection that ignored loading, measuring and breaks would
    promise a finish the workshop never meets. With a single cycle only its duration is known.
    """
    recent = sorted((c for c in cycles if c.completed and c.parts > 0), key=lambda c: c.ended)[-window:]
    if not recent:
        return None
    parts = sum(c.parts for c in recent)
    if len(recent) == 1:
        return recent[0].duration_s / parts
    span = (recent[-1].ended - recent[0].started).total_seconds()
    return span / parts if span > 0 else None


def counting_cycles(cycles: Sequence[tuple[int | None, CycleFact]], final_operation: int | None) -> list[CycleFact]:
    """The cycles that make the order's parts, each given with its operation: those of the final operation.

    A part turned at 10 and milled at 20 is one part of the order, counted at 20: a pace drawn from every
    operation's cycles would count it twice and project a finish twice too early when op 10 runs ahead.
    ``final_operation`` None (an order without operations) keeps every cycle.
    """
    return [fact for operation, fact in cycles if final_operation is None or operation == final_operation]


def order_progress(
    *,
    ordered: int,
    made: int,
    scrap: int,
    due: datetime | None,
    cycles: Sequence[CycleFact],
    now: datetime,
    calendar: Calendar | None = None,
    good: int | None = None,
    pending: int = 0,
) -> OrderProgress:
    """``calendar``: the projection walks only through its planned hours (none: through every hour).
    ``cycles``: those that make the order's parts (``counting_cycles``), which set the pace.

    ``good``: the good parts when they are not made − scrap: an order with operations counts those of its
    last operation, less the parts pending a first-part approval (``gateway.domain.operations``).
    """
    good = max(0, made - scrap) if good is None else good
    remaining = max(0, ordered - good)
    pace = seconds_per_part(cycles)
    projected: datetime | None = None
    if remaining > 0 and pace is not None:
        work = timedelta(seconds=pace * remaining)
        projected = now + work if calendar is None else advance(calendar, now, work.total_seconds())
    late = remaining > 0 and due is not None and (now > due or (projected is not None and projected > due))
    return OrderProgress(
        ordered=ordered,
        made=made,
        scrap=scrap,
        good=good,
        remaining=remaining,
        seconds_per_part=pace,
        projected_finish=projected,
        late=late,
        done=remaining == 0,
        pending=pending,
    )
