"""May this student use this machine today? The rule of machine authorisations (habilitations), pure.

A master authorises a student on one machine or on a machine group. On a
regulated machine (travaux réglementés: French labour law forbids minors
dangerous machines unless the school has declared them and holds, per young
person, the safety training given and the medical fitness for that work) an
authorisation also needs the date the training was received and a medical
fitness valid on the day. Atelier holds dates only, never medical details, and
treats every student as a minor: a school trains 15-18 year-olds, and asking for
the same two dates for an 18-year-old costs nothing.

"Only under direct supervision" needs a master on duty at check-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

MISSING_NONE = "no_authorisation"
NOT_YET = "authorisation_not_yet_valid"
EXPIRED = "authorisation_expired"
TRAINING = "training_missing"
MEDICAL = "medical_fitness_expired"
MEDICAL_MISSING = "medical_fitness_missing"  # no date recorded: not "expired", the school must get one
SUPERVISOR = "master_on_duty_required"

# What a refusal names first when several authorisations each miss something: the one closest to valid.
_WEIGHT = {MISSING_NONE: 100, NOT_YET: 10, EXPIRED: 10, TRAINING: 5, MEDICAL: 5, MEDICAL_MISSING: 5, SUPERVISOR: 1}


@dataclass(frozen=True, slots=True)
class Grant:
    """One authorisation as the rule sees it; ``machine_id`` or ``group_id`` says what it covers."""

    id: int
    machine_id: int | None
    group_id: int | None
    granted_on: date
    valid_until: date | None
    supervised_only: bool
    training_on: date | None
    medical_valid_until: date | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """``grant``: the authorisation that allows the check-in, or None; ``missing``: what the best one lacks."""

    grant: Grant | None
    missing: tuple[str, ...]
    until: date | None = None  # the date a refusal names (an expiry), when it names one

    @property
    def allowed(self) -> bool:
        return self.grant is not None


def covers(grant: Grant, machine_id: int, groups: frozenset[int]) -> bool:
    return grant.machine_id == machine_id or (grant.group_id is not None and grant.group_id in groups)


def lacks(grant: Grant, *, day: date, regulated: bool, master_on_duty: bool) -> tuple[list[str], date | None]:
    """What ``grant`` lacks on ``day``, and the date to name (the expiry that was passed)."""
    missing: list[str] = []
    until: date | None = None
    if day < grant.granted_on:
        missing.append(NOT_YET)
    if grant.valid_until is not None and day > grant.valid_until:
        missing.append(EXPIRED)
        until = grant.valid_until
    if regulated:
        if grant.training_on is None or grant.training_on > day:
            missing.append(TRAINING)
        if grant.medical_valid_until is None:
            missing.append(MEDICAL_MISSING)
        elif grant.medical_valid_until < day:
            missing.append(MEDICAL)
            until = until or grant.medical_valid_until
    if grant.supervised_only and not master_on_duty:
        missing.append(SUPERVISOR)
    return missing, until


def judge(
    grants: Iterable[Grant],
    *,
    machine_id: int,
    groups: frozenset[int],
    regulated: bool,
    day: date,
    master_on_duty: bool,
) -> Verdict:
    """Allowed when one of the student's live authorisations covering the machine lacks nothing."""
    best: tuple[int, list[str], date | None] | None = None
    for grant in sorted(grants, key=lambda g: g.id):
        if not covers(grant, machine_id, groups):
            continue
        missing, until = lacks(grant, day=day, regulated=regulated, master_on_duty=master_on_duty)
        if not missing:
            return Verdict(grant, ())
        weight = sum(_WEIGHT[m] for m in missing)
        if best is None or weight < best[0]:
            best = (weight, missing, until)
    if best is None:
        return Verdict(None, (MISSING_NONE,))
    return Verdict(None, tuple(best[1]), best[2])
