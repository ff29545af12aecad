"""Bodies of the teaching API: machine groups, authorisations, the master on duty."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from gateway.web.schemas import SITE_FIELD, Id, InputModel, PublicModel, Short, SiteId, _Update, printable


def _school_date(value: date) -> date:
    if not date(2000, 1, 1) <= value < date(2100, 1, 1):
        raise ValueError("date must be between 2000 and 2100")
    return value


Day = Annotated[date, AfterValidator(_school_date)]
MachineIds = Annotated[list[Id], Field(max_length=500)]


class GroupCreate(InputModel):
    name: Short
    regulated: bool = True
    machine_ids: MachineIds = []
    site: SiteId | None = Field(default=None, description=SITE_FIELD)


class GroupUpdate(_Update):
    name: Short | None = None
    regulated: bool | None = None
    machine_ids: MachineIds | None = None


class GroupPublic(PublicModel):
    id: int
    site: str
    name: str
    regulated: bool
    machine_ids: list[int] = []
    machines: list[str] = []


class AuthorisationCreate(InputModel):
    student_id: Id
    machine_id: Id | None = None
    machine: Short | None = Field(default=None, description="the machine by name, instead of machine_id")
    site: Short | None = Field(default=None, description="with machine: its site, when names repeat across sites")
    group_id: Id | None = None
    granted_on: Day
    valid_until: Day | None = None
    supervised_only: bool = False
    training_on: Day | None = None
    medical_valid_until: Day | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AuthorisationCreate:
        targets = [t for t in (self.machine_id, self.machine, self.group_id) if t is not None]
        if len(targets) != 1:
            raise ValueError("give one of machine_id, machine or group_id")
        return self


class AuthorisationPublic(PublicModel):
    id: int
    student_id: int
    machine_id: int | None
    group_id: int | None
    granted_by: str
    granted_on: date
    valid_until: date | None
    supervised_only: bool
    training_on: date | None
    medical_valid_until: date | None
    created: datetime
    revoked: datetime | None
    revoked_by: str | None


class DutyPublic(PublicModel):
    site: str
    master: str
    started: datetime


Level = Literal["non_acquis", "en_cours", "acquis", "maitrise"]
Comment = Annotated[str, Field(max_length=1000), AfterValidator(printable)]


class ValidationCreate(InputModel):
    competence_id: Id
    level: Level
    comment: Comment = ""
    session_id: Id | None = Field(default=None, description="the work session the judgement rests on")
    operation_id: Id | None = Field(
        default=None, description="the operation worked (filled from the session or approval when not given)"
    )
    approval_id: Id | None = Field(default=None, description="the first-part approval the judgement rests on")


class CompetencePublic(PublicModel):
    id: int
    diploma: str
    block: str
    code: str
    label: str


class ValidationPublic(PublicModel):
    id: int
    student_id: int
    competence_id: int
    level: str
    comment: str
    by: str
    at: datetime
    session_id: int | None
    operation_id: int | None
    approval_id: int | None


class GridLinePublic(BaseModel):
    competence: CompetencePublic
    level: str | None
    validations: list[ValidationPublic]


class ImportDone(BaseModel):
    created: int
    updated: int
