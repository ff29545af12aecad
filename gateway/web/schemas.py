"""Request and response bodies of the records API: a Create, an Update and a Public schema per resource.

Inputs forbid unknown fields and are bounded so that nothing a client sends can
reach the database as a value it would refuse (an id beyond a 32-bit integer, a
NUL character, a time zone-less or out-of-range time): such input is a 422.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

MAX_ID = 2**31 - 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def printable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("time must be between 2000 and 2100")
    return value.astimezone(UTC)


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Ts = Annotated[AwareDatetime, AfterValidator(_in_range)]


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable)]
Contact = Annotated[str, Field(max_length=200), AfterValidator(printable)]
Short = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(printable)]
SiteId = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
SITE_FIELD = "the site it belongs to: a master of one site may leave it out, a master of several must say which"
Revision = Annotated[str, Field(max_length=16), AfterValidator(printable)]
ClassName = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(printable)]
Program = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(printable)]
Track = Literal["CAP", "BAC_PRO"]
OrderStatus = Literal["open", "in_progress", "done", "cancelled"]


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Update(InputModel):
    """Fields left out are unchanged; ``null`` is accepted only where the column may be empty."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null(self) -> _Update:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.NULLABLE:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class PublicModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- customers ---------------------------------------------------------------


class CustomerCreate(InputModel):
    name: Name
    contact: Contact = ""
    site: SiteId | None = Field(default=None, description=SITE_FIELD)


class CustomerUpdate(_Update):
    name: Name | None = None
    contact: Contact | None = None


class CustomerPublic(PublicModel):
    id: int
    site: str
    name: str
    contact: str
    created: datetime


# --- orders and their operations --------------------------------------------

OperationNumber = Annotated[int, Field(ge=1, le=9999, description="10, 20, ...: the order of the steps")]
Seconds = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
Verdict = Literal["OK", "NOK"]


class OperationCreate(InputModel):
    number: OperationNumber
    label: Contact = ""
    group_id: Id | None = Field(default=None, description="the machine group it is done on; none: any machine")
    programs: list[Program] = Field(default_factory=list, max_length=50)
    standard_cycle_s: Seconds | None = None
    standard_setup_s: Seconds | None = None
    first_part: bool = Field(default=True, description="a series waits for a master's first-part approval")


class OperationUpdate(_Update):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"group_id", "standard_cycle_s", "standard_setup_s"})

    number: OperationNumber | None = None
    label: Contact | None = None
    group_id: Id | None = None
    programs: list[Program] | None = Field(default=None, max_length=50)
    standard_cycle_s: Seconds | None = None
    standard_setup_s: Seconds | None = None
    first_part: bool | None = None


class OperationPublic(PublicModel):
    id: int
    order_id: int
    number: int
    label: str
    group_id: int | None
    programs: list[str]
    standard_cycle_s: float | None
    standard_setup_s: float | None
    first_part: bool


class FirstPartCreate(InputModel):
    verdict: Verdict
    measured: Contact = Field(default="", description="what was measured, as the master writes it")
    note: Contact = Field(default="", description="required for a NOK: what is wrong")
    machine: Short | None = Field(default=None, description="the machine; a kiosk may leave it out")
    site: Short | None = None
    badge: Short | None = Field(default=None, description="a kiosk sends the approving master's badge")
    cycle_id: Id | None = Field(default=None, description="the cycle that made the part judged, when known")


class FirstPartPublic(PublicModel):
    id: int
    operation_id: int
    machine_id: int
    session_id: int | None
    verdict: str
    measured: str
    note: str
    by: str
    at: datetime
    cycle_id: int | None
    scrap_id: int | None


class OrderCreate(InputModel):
    customer_id: Id
    reference: Short
    part_number: Short
    drawing_revision: Revision = ""
    quantity: int = Field(ge=1, le=1_000_000)
    due: Ts | None = None
    standard_cycle_s: float | None = Field(default=None, gt=0, le=1_000_000, allow_inf_nan=False)
    programs: list[Program] = Field(default_factory=list, max_length=50)
    status: OrderStatus = "open"
    operations: list[OperationCreate] | None = Field(
        default=None, max_length=50, description="none: one operation 10 from the order's programs and standard"
    )


class OrderUpdate(_Update):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"due", "standard_cycle_s"})

    customer_id: Id | None = None
    reference: Short | None = None
    part_number: Short | None = None
    drawing_revision: Revision | None = None
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)
    due: Ts | None = None
    standard_cycle_s: float | None = Field(default=None, gt=0, le=1_000_000, allow_inf_nan=False)
    programs: list[Program] | None = Field(default=None, max_length=50)
    status: OrderStatus | None = None


class OrderPublic(PublicModel):
    id: int
    site: str = Field(description="its customer's")
    customer_id: int
    reference: str
    part_number: str
    drawing_revision: str
    quantity: int
    due: datetime | None
    standard_cycle_s: float | None
    programs: list[str]
    status: str
    created: datetime
    operations: list[OperationPublic] = Field(default_factory=list)


class OperationProgress(BaseModel):
    operation_id: int
    number: int
    made: int
    good: int
    scrap: int
    pending: int


class ProgressPublic(BaseModel):
    order_id: int
    ordered: int
    made: int
    scrap: int
    good: int
    remaining: int
    seconds_per_part: float | None
    projected_finish: datetime | None
    due: datetime | None
    late: bool
    done: bool
    pending: int = 0
    operations: list[OperationProgress] = Field(default_factory=list)


# --- students ----------------------------------------------------------------


class StudentCreate(InputModel):
    first_name: Short
    last_initial: str = Field(min_length=1, max_length=2, pattern=r"^[^\W\d_]\.?$", description="e.g. 'D' or 'D.'")
    class_name: ClassName
    track: Track
    badge: Short | None = None
    active: bool = True
    site: SiteId | None = Field(default=None, description=SITE_FIELD)


class StudentUpdate(_Update):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"badge"})

    first_name: Short | None = None
    last_initial: str | None = Field(default=None, min_length=1, max_length=2, pattern=r"^[^\W\d_]\.?$")
    class_name: ClassName | None = None
    track: Track | None = None
    badge: Short | None = None
    active: bool | None = None


class StudentPublic(PublicModel):
    id: int
    site: str
    first_name: str
    last_initial: str
    class_name: str
    track: str
    badge: str | None
    active: bool
    created: datetime


# --- work sessions and scrap -------------------------------------------------


class _AtMachine(InputModel):
    machine: Short | None = Field(default=None, description="machine id on the bus; a kiosk may leave it out")
    site: Short | None = None


class CheckIn(_AtMachine):
    badge: Short | None = None
    student_id: Id | None = Field(default=None, description="masters only: a kiosk checks in by badge")
    order_id: Id | None = Field(default=None, description="none: practice outside a customer order")
    operation_id: Id | None = Field(default=None, description="the order's operation; its only one when left out")
    operation: OperationNumber | None = Field(default=None, description="or the operation's number (10, 20, ...)")

    @model_validator(mode="after")
    def _one_student(self) -> CheckIn:
        if (self.badge is None) == (self.student_id is None):
            raise ValueError("give either badge or student_id")
        return self


class CheckOut(_AtMachine):
    badge: Short | None = Field(
        default=None, description="the badge of the student checked in, or a master's; a kiosk must give it"
    )


class SessionCreate(_AtMachine):
    """A session recorded after the fact by a master."""

    student_id: Id
    order_id: Id | None = None
    operation_id: Id | None = None
    started: Ts
    ended: Ts


class SessionUpdate(_Update):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"order_id", "ended", "operation_id"})

    student_id: Id | None = None
    order_id: Id | None = None
    operation_id: Id | None = None
    started: Ts | None = None
    ended: Ts | None = None


class SessionPublic(BaseModel):
    id: int
    machine_id: int
    machine: str
    student_id: int | None
    order_id: int | None
    operation_id: int | None = None
    started: datetime
    ended: datetime | None
    opened_by: str
    closed_by: str | None


class ScrapCreate(_AtMachine):
    order_id: Id
    operation_id: Id | None = Field(default=None, description="default: the operation of the session at the machine")
    quantity: int = Field(ge=1, le=1_000_000)
    reason: Name
    inspected_by: Short
    ts: Ts | None = Field(default=None, description="when the parts were inspected; default now")
    idempotency_key: str | None = Field(
        default=None,
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="drawn once per declaration by the client: sent again, it returns the first declaration",
    )


class ScrapPublic(PublicModel):
    id: int
    order_id: int
    quantity: int
    reason: str
    inspected_by: str
    ts: datetime
    session_id: int | None
    machine_id: int | None
    declared_by: str
    operation_id: int | None = None


class UnattributedCycle(BaseModel):
    id: int
    machine: str
    program: str | None
    started: datetime
    ended: datetime
    duration_s: float
    parts: int
    outcome: str


class AssignmentCreate(InputModel):
    session_id: Id


class AssignmentPublic(PublicModel):
    cycle_id: int
    session_id: int
    by: str
    at: datetime


class StudentDeleted(BaseModel):
    student_id: int
    sessions_detached: int
