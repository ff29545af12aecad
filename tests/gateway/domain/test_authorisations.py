"""The rule of machine authorisations: which grant allows a check-in, and what a refusal names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from gateway.domain.authorisations import (
    EXPIRED,
    MEDICAL,
    MEDICAL_MISSING,
    MISSING_NONE,
    NOT_YET,
    SUPERVISOR,
    TRAINING,
    Grant,
    judge,
)

DAY = date(2026, 12, 3)
MILL, LATHE, CNC = 1, 2, 10
FULL = Grant(
    id=1,
    machine_id=None,
    group_id=CNC,
    granted_on=date(2026, 9, 1),
    valid_until=None,
    supervised_only=False,
    training_on=date(2026, 9, 2),
    medical_valid_until=date(2027, 8, 31),
)


def _judge(
    *grants: Grant, regulated: bool = True, duty: bool = False, machine: int = MILL
) -> tuple[bool, tuple[str, ...]]:
    groups = frozenset({CNC}) if machine == MILL else frozenset()
    verdict = judge(grants, machine_id=machine, groups=groups, regulated=regulated, day=DAY, master_on_duty=duty)
    return verdict.allowed, verdict.missing


def test_a_grant_on_the_machines_group_allows_it_and_not_a_machine_outside_the_group() -> None:
    assert _judge(FULL) == (True, ())
    assert _judge(FULL, machine=LATHE) == (False, (MISSING_NONE,))
    assert _judge() == (False, (MISSING_NONE,))


def test_a_grant_on_the_machine_itself_allows_it() -> None:
    assert _judge(replace(FULL, machine_id=MILL, group_id=None)) == (True, ())


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"granted_on": date(2026, 12, 4)}, (NOT_YET,)),
        ({"valid_until": date(2026, 12, 2)}, (EXPIRED,)),
        ({"training_on": None}, (TRAINING,)),
        ({"training_on": date(2026, 12, 4)}, (TRAINING,)),
        ({"medical_valid_until": date(2026, 12, 2)}, (MEDICAL,)),
        ({"medical_valid_until": None}, (MEDICAL_MISSING,)),
        ({"supervised_only": True}, (SUPERVISOR,)),
    ],
)
def test_each_missing_piece_is_named(change: dict[str, object], missing: tuple[str, ...]) -> None:
    assert _judge(replace(FULL, **change)) == (False, missing)  # type: ignore[arg-type]


def test_the_last_valid_day_still_counts() -> None:
    assert _judge(replace(FULL, valid_until=DAY, medical_valid_until=DAY, granted_on=DAY, training_on=DAY))[0]


def test_dates_are_asked_only_on_regulated_machines() -> None:
    bare = replace(FULL, training_on=None, medical_valid_until=None)
    assert _judge(bare, regulated=False) == (True, ())
    assert _judge(bare, regulated=True) == (False, (TRAINING, MEDICAL_MISSING))


def test_supervised_only_needs_a_master_on_duty() -> None:
    supervised = replace(FULL, supervised_only=True)
    assert _judge(supervised, duty=True) == (True, ())


def test_any_one_good_grant_is_enough_and_a_refusal_names_the_closest() -> None:
    expired = replace(FULL, id=1, valid_until=date(2026, 11, 30))
    supervised = replace(FULL, id=2, supervised_only=True)
    assert _judge(expired, supervised) == (False, (SUPERVISOR,))
    assert _judge(expired, supervised, duty=True) == (True, ())
    verdict = judge([expired], machine_id=MILL, groups=frozenset({CNC}), regulated=True, day=DAY, master_on_duty=True)
    assert verdict.until == date(2026, 11, 30)
