"""The pure rules of operations: the check-in's choice, counting the last operation, program mismatch, first part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain import first_part
from gateway.domain.operations import (
    Counted,
    Mismatch,
    OperationChoiceError,
    Step,
    choose,
    order_count,
    program_mismatch,
    tally,
)

T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
TURN = Step(id=1, number=10, programs=("O1000",))
MILL = Step(id=2, number=20, programs=("O2000", "O2001"), group_machines=frozenset({7}), first_part=True)


def _refused(steps: list[Step], machine: int, **wanted: int | None) -> str:
    with pytest.raises(OperationChoiceError) as err:
        choose(steps, machine, wanted_id=wanted.get("id"), wanted_number=wanted.get("number"))
    return err.value.code


def test_the_choice_of_an_operation() -> None:
    assert choose([TURN], 3, wanted_id=None, wanted_number=None) == TURN
    assert choose([], 3, wanted_id=None, wanted_number=None) is None
    assert choose([TURN, MILL], 7, wanted_id=None, wanted_number=20) == MILL
    assert choose([TURN, MILL], 7, wanted_id=2, wanted_number=20) == MILL
    assert _refused([TURN, MILL], 7) == "operation_required"
    assert _refused([TURN, MILL], 7, id=99) == "operation_not_of_order"
    assert _refused([TURN, MILL], 7, number=30) == "operation_not_of_order"
    assert _refused([TURN, MILL], 7, id=1, number=20) == "operation_not_of_order"
    assert _refused([TURN, MILL], 3, number=20) == "operation_other_machine"
    assert _refused([], 3, id=1) == "operation_not_of_order"


def test_program_mismatch() -> None:
    assert program_mismatch("O3000", MILL) == Mismatch(program="O3000", operation=20, expected=("O2000", "O2001"))
    assert program_mismatch("o2001 ", MILL) is None  # controls differ in case and padding, not in meaning
    assert program_mismatch(None, MILL) is None
    assert program_mismatch("  ", MILL) is None
    assert program_mismatch("O3000", None) is None  # practice: no operation
    assert program_mismatch("O3000", Step(id=3, number=30)) is None  # an operation listing no program takes any


def test_the_order_counts_the_good_parts_of_its_last_operation() -> None:
    made = [Counted(1, 11, 5), Counted(2, 12, 4), Counted(2, 13, 2)]
    scrapped = [Counted(1, 11, 1), Counted(2, 13, 1)]
    tallies = tally([MILL, TURN], made, scrapped, pending_sessions={13: True})
    assert [(t.number, t.made, t.good, t.scrap, t.pending) for t in tallies] == [(10, 5, 4, 1, 0), (20, 6, 4, 1, 2)]
    counts = order_count(tallies)
    assert counts is not None
    assert (counts.made, counts.good, counts.scrap, counts.pending) == (6, 4, 2, 2)
    assert order_count([]) is None
    # Scrap of a pending series takes nothing from the approved parts; good is never negative.
    only_nok = tally([MILL], [Counted(2, 13, 1)], [Counted(2, 13, 1)], pending_sessions={13: True})
    assert (only_nok[0].good, only_nok[0].pending, only_nok[0].scrap) == (0, 1, 1)


def _start(session: int, machine: int, operation: int | None, minutes: int) -> first_part.Start:
    return first_part.Start(session, machine, operation, T0 + timedelta(minutes=minutes))


def test_a_series_runs_until_the_machine_is_set_up_for_something_else() -> None:
    starts = [
        _start(1, 7, 2, 0),  # op 20 on machine 7: a setup
        _start(2, 7, 2, 60),  # another student on the same series
        _start(3, 8, 2, 30),  # op 20 on machine 8: its own setup
        _start(4, 7, None, 120),  # practice on machine 7
        _start(5, 7, 2, 180),  # op 20 again: set up again
        _start(6, 8, 2, 90),
    ]
    assert first_part.series(starts) == {1: 1, 2: 1, 3: 3, 4: 4, 5: 5, 6: 3}


def test_pending_until_an_ok_in_the_series_a_nok_keeps_it_pending() -> None:
    opened = {1: 1, 2: 1, 3: 3}
    needs = {1: True, 2: True, 3: True}
    assert first_part.pending(opened, needs, []) == {1: True, 2: True, 3: True}
    nok = [first_part.Verdict(1, ok=False)]
    assert first_part.pending(opened, needs, nok) == {1: True, 2: True, 3: True}
    ok_later = [*nok, first_part.Verdict(2, ok=True)]  # an OK given in the second session approves the series
    assert first_part.pending(opened, needs, ok_later) == {1: False, 2: False, 3: True}
    assert first_part.pending(opened, {1: False, 2: False, 3: False}, []) == {1: False, 2: False, 3: False}


def test_the_reason_of_a_nok() -> None:
    assert first_part.nok_reason("Ø hors cote") == "Premier article non conforme: Ø hors cote"
    assert first_part.nok_reason("  ") == "Premier article non conforme"
