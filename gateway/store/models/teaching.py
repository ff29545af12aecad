"""Tables of the school's authority over its machines: machine groups, authorisations, the master on duty.

An authorisation (habilitation) lets one student use one machine or a machine
group. For regulated work it carries the dates the school must hold for a minor:
safety training received and medical fitness valid until. Dates only: never a
medical detail. A revoked authorisation stays, with who revoked it and when, so
an inspection sees the whole history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base
from gateway.store.models.ingest import ID_LENGTH
from gateway.store.models.records import SHORT


class MachineGroup(Base):
    """Machines a student learns together (e.g. "Tournage CN"); ``regulated``: travaux réglementés."""

    __tablename__ = "machine_groups"
    __table_args__ = (UniqueConstraint("site", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)  # its machines are all of this site
    name: Mapped[str] = mapped_column(String(SHORT))
    regulated: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]


class MachineGroupMember(Base):
    __tablename__ = "machine_group_members"
    __table_args__ = (UniqueConstraint("group_id", "machine_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("machine_groups.id"), index=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)


class Authorisation(Base):
    __tablename__ = "authorisations"
    __table_args__ = (
        CheckConstraint("(machine_id IS NULL) <> (group_id IS NULL)", name="ck_authorisations_one_target"),
        Index("ix_authorisations_student_live", "student_id", "revoked"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("machine_groups.id"))
    granted_by: Mapped[str] = mapped_column(String(SHORT))
    granted_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    supervised_only: Mapped[bool] = mapped_column(Boolean)
    training_on: Mapped[date | None] = mapped_column(Date)
    medical_valid_until: Mapped[date | None] = mapped_column(Date)
    created: Mapped[datetime]
    revoked: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(SHORT))


class Duty(Base):
    """A master on duty in a site's workshop, from ``started`` until ``ended`` (open: on duty now)."""

    __tablename__ = "duty"
    __table_args__ = (
        Index(
            "uq_duty_open_site_master",
            "site",
            "master",
            unique=True,
            sqlite_where=text("ended IS NULL"),
            postgresql_where=text("ended IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(SHORT))
    master: Mapped[str] = mapped_column(String(SHORT))
    started: Mapped[datetime]
    ended: Mapped[datetime | None]


class CompetenceRecord(Base):
    """One competence of a diploma's référentiel, as the school imported it."""

    __tablename__ = "competences"
    __table_args__ = (UniqueConstraint("diploma", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    diploma: Mapped[str] = mapped_column(String(32))
    block: Mapped[str] = mapped_column(String(SHORT))
    code: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(300))


class CompetenceValidation(Base):
    """A master's judgement of a student on a competence, at a level, with the work it rests on."""

    __tablename__ = "competence_validations"
    __table_args__ = (
        CheckConstraint(
            "level IN ('non_acquis', 'en_cours', 'acquis', 'maitrise')", name="ck_competence_validations_level"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    competence_id: Mapped[int] = mapped_column(ForeignKey("competences.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(String(1000))
    by: Mapped[str] = mapped_column(String(SHORT))
    at: Mapped[datetime]
    session_id: Mapped[int | None] = mapped_column(ForeignKey("work_sessions.id"), index=True)
    # The operation worked (filled from the session when only a session is given) and the first-part
    # approval the judgement rests on: the evidence a diploma record prints ("CMD-0515 op 20, 1re pièce OK").
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"), index=True)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("first_part_approvals.id"), index=True)
