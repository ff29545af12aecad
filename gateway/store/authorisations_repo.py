"""Machine groups, authorisations and the master on duty: what a check-in is judged against. Audited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.authorisations import Grant, Verdict, judge
from gateway.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from gateway.store import sites_repo
from gateway.store.audit_log import audit, audited_create, audited_update, snapshot
from gateway.store.machines_repo import machine_named
from gateway.store.models import Authorisation, Duty, Machine, MachineGroup, MachineGroupMember, Student
from gateway.store.rows import get_row
from gateway.store.students_repo import student_named

# --- machine groups -----------------------------------------------------------


def list_groups(*, db: Session) -> list[MachineGroup]:
    return list(db.scalars(select(MachineGroup).order_by(MachineGroup.name)))


def group_members(*, db: Session) -> dict[int, list[int]]:
    """Group id → its machine ids."""
    members: dict[int, list[int]] = {}
    for group_id, machine_id in db.execute(select(MachineGroupMember.group_id, MachineGroupMember.machine_id)):
        members.setdefault(group_id, []).append(machine_id)
    return members


def _check_group_name(db: Session, site: str, name: str, ignore: int | None = None) -> None:
    found = db.scalars(select(MachineGroup).where(MachineGroup.site == site, MachineGroup.name == name)).first()
    if found is not None and found.id != ignore:
        raise ConflictError("machine_group_name_taken", name=name)


def _set_members(db: Session, group: MachineGroup, machine_ids: Iterable[int]) -> None:
    group_id = group.id
    wanted = set(machine_ids)
    for machine_id in wanted:
        machine = db.get(Machine, machine_id)
        if machine is None:
            raise NotFoundError("machine_unknown", machine=f"#{machine_id}")
        if machine.site != group.site:
            raise InvalidError("group_machines_other_site", site=group.site)
    existing = {
        m.machine_id: m for m in db.scalars(select(MachineGroupMember).where(MachineGroupMember.group_id == group_id))
    }
    for machine_id, member in existing.items():
        if machine_id not in wanted:
            db.delete(member)
    for machine_id in wanted - set(existing):
        db.add(MachineGroupMember(group_id=group_id, machine_id=machine_id))
    db.flush()


def create_group(
    *,
    db: Session,
    who: str,
    now: datetime,
    name: str,
    regulated: bool,
    machine_ids: list[int],
    site: str | None = None,
) -> MachineGroup:
    """``site``: a master's (``sites_repo.site_for_new``); None, the site of its first machine, else the home site."""
    if site is None and machine_ids:
        first = db.get(Machine, min(machine_ids))
        site = first.site if first is not None else None
    site = sites_repo.home_site(db=db, asked=site)
    _check_group_name(db, site, name)
    row = MachineGroup(site=site, name=name, regulated=regulated, created=now)
    group = audited_create(db=db, who=who, row=row, entity="machine_group", now=now)
    _set_members(db, group, machine_ids)
    return group


def update_group(*, db: Session, who: str, now: datetime, group_id: int, changes: Mapping[str, Any]) -> MachineGroup:
    group = get_row(db=db, model=MachineGroup, row_id=group_id, label="machine_group")
    fields = {k: v for k, v in changes.items() if k != "machine_ids"}
    if "name" in fields:
        _check_group_name(db, group.site, fields["name"], ignore=group_id)
    if fields:  # a change of members alone is audited below, not as an empty update
        audited_update(db=db, who=who, row=group, entity="machine_group", changes=fields, now=now)
    if "machine_ids" in changes:
        _set_members(db, group, changes["machine_ids"])
        audit(
            db=db,
            who=who,
            action="members",
            entity="machine_group",
            entity_id=group_id,
            at=now,
            after={"machine_ids": sorted(changes["machine_ids"])},
        )
    return group


def groups_of(*, db: Session, machine_id: int) -> list[MachineGroup]:
    stmt = (
        select(MachineGroup)
        .join(MachineGroupMember, MachineGroupMember.group_id == MachineGroup.id)
        .where(MachineGroupMember.machine_id == machine_id)
    )
    return list(db.scalars(stmt))


def is_regulated(groups: list[MachineGroup]) -> bool:
    """A machine in no group is regulated: CNC machine tools are travaux réglementés for minors."""
    return not groups or any(g.regulated for g in groups)


# --- authorisations -----------------------------------------------------------


def _grant(row: Authorisation) -> Grant:
    return Grant(
        id=row.id,
        machine_id=row.machine_id,
        group_id=row.group_id,
        granted_on=row.granted_on,
        valid_until=row.valid_until,
        supervised_only=row.supervised_only,
        training_on=row.training_on,
        medical_valid_until=row.medical_valid_until,
    )


def list_authorisations(
    *, db: Session, student_id: int | None = None, machine_id: int | None = None, live_only: bool = False
) -> list[Authorisation]:
    """A student's or a machine's authorisations (a machine's include those on its groups), newest first."""
    stmt = select(Authorisation)
    if student_id is not None:
        stmt = stmt.where(Authorisation.student_id == student_id)
    if machine_id is not None:
        groups = [g.id for g in groups_of(db=db, machine_id=machine_id)]
        stmt = stmt.where((Authorisation.machine_id == machine_id) | Authorisation.group_id.in_(groups))
    if live_only:
        stmt = stmt.where(Authorisation.revoked.is_(None))
    return list(db.scalars(stmt.order_by(Authorisation.granted_on.desc(), Authorisation.id.desc())))


def grant(*, db: Session, who: str, now: datetime, fields: Mapping[str, Any]) -> Authorisation:
    get_row(db=db, model=Student, row_id=fields["student_id"], label="student")
    if (fields.get("machine_id") is None) == (fields.get("group_id") is None):
        raise InvalidError("authorisation_one_target")
    if fields.get("machine_id") is not None and db.get(Machine, fields["machine_id"]) is None:
        raise NotFoundError("machine_unknown", machine=f"#{fields['machine_id']}")
    if fields.get("group_id") is not None:
        get_row(db=db, model=MachineGroup, row_id=fields["group_id"], label="machine_group")
    until = fields.get("valid_until")
    if until is not None and until < fields["granted_on"]:
        raise InvalidError("authorisation_ends_before_start")
    optional = {"valid_until": None, "supervised_only": False, "training_on": None, "medical_valid_until": None}
    row = Authorisation(**(optional | dict(fields)), granted_by=who, created=now)
    return audited_create(db=db, who=who, row=row, entity="authorisation", now=now)


def revoke(*, db: Session, who: str, now: datetime, authorisation_id: int) -> Authorisation:
    row = get_row(db=db, model=Authorisation, row_id=authorisation_id, label="authorisation")
    if row.revoked is None:
        audited_update(
            db=db, who=who, row=row, entity="authorisation", changes={"revoked": now, "revoked_by": who}, now=now
        )
    return row


# --- the master on duty -------------------------------------------------------


def on_duty(*, db: Session, site: str) -> list[Duty]:
    stmt = select(Duty).where(Duty.site == site, Duty.ended.is_(None)).order_by(Duty.started)
    return list(db.scalars(stmt))


def take_duty(*, db: Session, who: str, site: str, now: datetime) -> Duty:
    """``who`` is on duty in ``site``'s workshop from now; taking it again changes nothing."""
    for duty in on_duty(db=db, site=site):
        if duty.master == who:
            return duty
    row = Duty(site=site, master=who, started=now, ended=None)
    db.add(row)
    db.flush()
    audit(db=db, who=who, action="take_duty", entity="duty", entity_id=row.id, at=now, after=snapshot(row))
    return row


def end_duty(*, db: Session, who: str, site: str, now: datetime) -> int:
    ended = 0
    for duty in on_duty(db=db, site=site):
        if duty.master == who:
            duty.ended = now
            ended += 1
            audit(db=db, who=who, action="end_duty", entity="duty", entity_id=duty.id, at=now, after=snapshot(duty))
    db.flush()
    return ended


# --- the check-in's question --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Permit:
    """A check-in's go-ahead: the authorisation that allows it and the master it records as supervising."""

    authorisation_id: int
    master_on_duty: str | None


def permit(*, db: Session, student_id: int, machine: Machine, day: date) -> Permit:
    """The student may use the machine today, or ``ForbiddenError`` naming what is missing."""
    groups = groups_of(db=db, machine_id=machine.id)
    masters = on_duty(db=db, site=machine.site)
    rows = list_authorisations(db=db, student_id=student_id, live_only=True)
    verdict: Verdict = judge(
        [_grant(r) for r in rows],
        machine_id=machine.id,
        groups=frozenset(g.id for g in groups),
        regulated=is_regulated(groups),
        day=day,
        master_on_duty=bool(masters),
    )
    if verdict.grant is None:
        student = db.get_one(Student, student_id)
        raise ForbiddenError(
            "not_authorised",
            student=student_named(student),
            machine=machine_named(machine),
            missing=list(verdict.missing),
            until=None if verdict.until is None else verdict.until.strftime("%d/%m/%Y"),
        )
    return Permit(verdict.grant.id, masters[0].master if masters else None)
