"""An order's operations (10, 20, ...): which one a check-in works on, what each has done, and a program that
is not the operation's.

Counting rule: a part is turned at operation 10, then milled at operation 20; it
is one part of the order, not two. So an order's good parts are the good parts
of its LAST operation (highest number); each operation shows its own made, good,
scrap and pending (waiting for the first-part approval, see ``first_part``).
Scrap found at an earlier operation is still the order's scrap: it is counted in
the order's scrap, though the order's good parts come from the last operation.

An order without operations (none was ever created, or all were removed before
any work) counts as before: good = made − scrap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Step:
    """An operation as the rules see it."""

    id: int
    number: int
    programs: tuple[str, ...] = ()
    group_machines: frozenset[int] | None = None  # machine ids of its group; None: any machine
    first_part: bool = False


class OperationChoiceError(ValueError):
    """A check-in's operation cannot be used; ``code`` names why (an error code of the API)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params: dict[str, Any] = params


def choose(steps: Sequence[Step], machine_id: int, *, wanted_id: int | None, wanted_number: int | None) -> Step | None:
    """The operation a check-in on ``machine_id`` works on.

    None for an order without operations. One operation needs no choice; several need one, by id or number.
    Refused: an operation of another order (an id not among ``steps``), an unknown number, a machine outside
    the operation's machine group.
    """
    if not steps:
        if wanted_id is not None or wanted_number is not None:
            raise OperationChoiceError("operation_not_of_order")
        return None
    if wanted_id is not None:
        found = next((s for s in steps if s.id == wanted_id), None)
        if found is None:
            raise OperationChoiceError("operation_not_of_order", operation_id=wanted_id)
        if wanted_number is not None and wanted_number != found.number:
            raise OperationChoiceError("operation_not_of_order", operation_id=wanted_id, number=wanted_number)
    elif wanted_number is not None:
        found = next((s for s in steps if s.number == wanted_number), None)
        if found is None:
            raise OperationChoiceError("operation_not_of_order", number=wanted_number)
    elif len(steps) == 1:
        found = steps[0]
    else:
        raise OperationChoiceError("operation_required", numbers=[s.number for s in steps])
    if found.group_machines is not None and machine_id not in found.group_machines:
        raise OperationChoiceError("operation_other_machine", number=found.number)
    return found


def last(steps: Iterable[Step]) -> Step | None:
    return max(steps, key=lambda s: s.number, default=None)


# --- program mismatch --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A program running on a machine that is not among its session's operation's programs."""

    program: str
    operation: int  # the operation's number
    expected: tuple[str, ...]


def _same(a: str, b: str) -> bool:
    # Controls differ in case and padding of program names ("o1234" and "O1234 "), never in meaning.
    return a.strip().casefold() == b.strip().casefold()


def program_mismatch(running: str | None, step: Step | None) -> Mismatch | None:
    """The mismatch, or None: no program known, no operation, or an operation that lists no programs (any)."""
    if running is None or not running.strip() or step is None or not step.programs:
        return None
    if any(_same(running, p) for p in step.programs):
        return None
    return Mismatch(program=running.strip(), operation=step.number, expected=step.programs)


# --- counting ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepTally:
    operation_id: int
    number: int
    made: int
    good: int
    scrap: int
    pending: int  # parts waiting for the first-part approval


@dataclass(frozen=True, slots=True)
class Counted:
    """Parts or scrap of one work session (``session_id`` None: scrap declared outside any session)."""

    operation_id: int | None
    session_id: int | None
    quantity: int


def tally(
    steps: Sequence[Step], made: Iterable[Counted], scrapped: Iterable[Counted], pending_sessions: Mapping[int, bool]
) -> list[StepTally]:
    """Each operation's own counts, in operation order.

    ``pending_sessions``: session id → whether its series still waits for a first-part approval. Pending
    parts are not good; scrap of a pending series (a NOK first part) is scrap, but takes nothing from the
    good parts of approved series.
    """
    per: dict[int, list[int]] = {s.id: [0, 0, 0, 0] for s in steps}  # made, pending, scrap, scrap while pending
    for part in made:
        if part.operation_id in per:
            counts = per[part.operation_id]
            counts[0] += part.quantity
            if part.session_id is not None and pending_sessions.get(part.session_id, False):
                counts[1] += part.quantity
    for scrap in scrapped:
        if scrap.operation_id in per:
            counts = per[scrap.operation_id]
            counts[2] += scrap.quantity
            if scrap.session_id is not None and pending_sessions.get(scrap.session_id, False):
                counts[3] += scrap.quantity
    return [
        StepTally(
            operation_id=s.id,
            number=s.number,
            made=(c := per[s.id])[0],
            good=max(0, c[0] - c[1] - (c[2] - c[3])),
            scrap=c[2],
            pending=c[1],
        )
        for s in sorted(steps, key=lambda s: s.number)
    ]


@dataclass(frozen=True, slots=True)
class OrderCount:
    made: int
    scrap: int
    good: int
    pending: int


def order_count(tallies: Sequence[StepTally]) -> OrderCount | None:
    """The order's counts from its operations' (None without operations): the last operation's made, good and
    pending; the scrap of every operation."""
    if not tallies:
        return None
    final = max(tallies, key=lambda t: t.number)
    return OrderCount(made=final.made, scrap=sum(t.scrap for t in tallies), good=final.good, pending=final.pending)
