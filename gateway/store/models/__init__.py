"""Every table of the store, on one ``Base``: importing this package registers them all on its metadata.

``ingest``: what the bus said (agents, machines, messages, state changes, cycles,
part counts, alarms, dead letters). ``records``: what people say (customers,
orders, students, logins, API tokens, work sessions, scrap, cycle assignments,
the audit log). ``operations``: an order's operations and first-part approvals. ``network``: the schools'
aggregates a network's gateway keeps.
``school_time``: calendars, closures, machine exceptions, stop reasons and
classifications. Import the tables from here.
"""

from gateway.store.models.base import Base, UtcDateTime
from gateway.store.models.ingest import (
    Agent,
    AlarmRecord,
    Cycle,
    DeadLetter,
    Machine,
    Message,
    PartCount,
    StateChange,
)
from gateway.store.models.network import NetworkMachineFigures, NetworkPeriod, NetworkPracticeFigures
from gateway.store.models.operations import FirstPartApproval, OperationRecord
from gateway.store.models.records import (
    ApiToken,
    AuditEntry,
    Customer,
    CycleAssignment,
    LoginSession,
    Order,
    ScrapRecord,
    Student,
    User,
    UserSite,
    WorkSessionRecord,
)
from gateway.store.models.school_time import (
    CalendarClosure,
    MachineCalendarException,
    SiteCalendar,
    StopClassification,
    StopReason,
)
from gateway.store.models.summaries import MachineDay, MachineMonth, SessionCycles, SummaryMark, SummaryWatermark
from gateway.store.models.teaching import (
    Authorisation,
    CompetenceRecord,
    CompetenceValidation,
    Duty,
    MachineGroup,
    MachineGroupMember,
)

__all__ = [
    "Agent",
    "AlarmRecord",
    "ApiToken",
    "AuditEntry",
    "Authorisation",
    "Base",
    "CalendarClosure",
    "CompetenceRecord",
    "CompetenceValidation",
    "Customer",
    "Cycle",
    "CycleAssignment",
    "DeadLetter",
    "Duty",
    "FirstPartApproval",
    "LoginSession",
    "Machine",
    "MachineCalendarException",
    "MachineDay",
    "MachineGroup",
    "MachineGroupMember",
    "MachineMonth",
    "Message",
    "NetworkMachineFigures",
    "NetworkPeriod",
    "NetworkPracticeFigures",
    "OperationRecord",
    "Order",
    "PartCount",
    "ScrapRecord",
    "SessionCycles",
    "SiteCalendar",
    "StateChange",
    "StopClassification",
    "StopReason",
    "Student",
    "SummaryMark",
    "SummaryWatermark",
    "User",
    "UserSite",
    "UtcDateTime",
    "WorkSessionRecord",
]
