"""Records belong to a site: which site a new record goes to, and a store session that sees only some sites.

A request's unit of work is *restricted* to the sites its principal may act on (``restrict``): every ORM
statement on that session — a list, a row by id, a count, an update or a delete — gets a WHERE on the site
of each entity it names (SQLAlchemy's ``with_loader_criteria``; a count over ``select_from`` names none and
gets them all), so a row of another site is not there at all (a 404, its existence never leaks), and no route
or repository function can forget the filter. A table without a ``site`` column follows the row it belongs
to: a work session its machine, an operation its order, an authorisation its student. A table only joined
to, or read in a subquery, follows the entity it is joined to.

Sessions that are not restricted (ingest, start-up, the command line, the resolution of a credential) see
everything, as before. Core statements on ``Table`` columns (``Cycle.__table__.c``) bypass the ORM events:
the few that exist read one machine's rows, named by a request that already went through the filter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from gateway.errors import ForbiddenError, InvalidError
from gateway.store.models import (
    Agent,
    AlarmRecord,
    ApiToken,
    Authorisation,
    CalendarClosure,
    CompetenceValidation,
    Customer,
    Cycle,
    CycleAssignment,
    Duty,
    FirstPartApproval,
    Machine,
    MachineCalendarException,
    MachineGroup,
    MachineGroupMember,
    Message,
    OperationRecord,
    Order,
    PartCount,
    ScrapRecord,
    SiteCalendar,
    StateChange,
    StopClassification,
    StopReason,
    Student,
    User,
    UserSite,
    WorkSessionRecord,
)

SITED_ROLES = ("admin", "viewer")  # the users who may have several sites
# On one statement: read across every site although the session is restricted. Only for what is unique
# across the network (a username, a badge), and the caller names no one of another site.
ALL_SITES_OPTION = "atelier_all_sites"
ALL_SITES = {ALL_SITES_OPTION: True}
DEFAULT_SITE = "school"  # a store with no machine yet and no configured site; the migration 0018 says the same
SITES_KEY = "atelier_sites"  # in ``Session.info``: the sites a restricted session sees

OWN_SITE = (
    Agent,
    ApiToken,
    CalendarClosure,
    Customer,
    Duty,
    Machine,
    MachineGroup,
    Order,
    SiteCalendar,
    Student,
    StopReason,
    User,
)
BY_MACHINE = (
    AlarmRecord,
    Cycle,
    FirstPartApproval,
    MachineCalendarException,
    MachineGroupMember,
    Message,
    PartCount,
    StateChange,
    StopClassification,
    WorkSessionRecord,
)
BY_ORDER = (OperationRecord, ScrapRecord)
BY_STUDENT = (Authorisation, CompetenceValidation)


def user_sites(db: Session, user: User) -> frozenset[str]:
    """Every site ``user`` acts on: their own and, for a master or a viewer, the others granted (a network
    login acts on none: it reads aggregates)."""
    if user.role == "network":
        return frozenset()
    if user.role not in SITED_ROLES:
        return frozenset({user.site})
    more = db.scalars(select(UserSite.site).where(UserSite.user_id == user.id).execution_options(**ALL_SITES))
    return frozenset({user.site, *more})


def sites_of_users(db: Session, users: Collection[User]) -> dict[int, frozenset[str]]:
    """``user_sites`` of many logins in one query (a page listing them)."""
    more: dict[int, set[str]] = {}
    ids = [u.id for u in users if u.role in SITED_ROLES]
    if ids:
        rows = db.execute(
            select(UserSite.user_id, UserSite.site).where(UserSite.user_id.in_(ids)).execution_options(**ALL_SITES)
        )
        for user_id, site in rows:
            more.setdefault(user_id, set()).add(site)
    return {u.id: frozenset() if u.role == "network" else frozenset({u.site, *more.get(u.id, ())}) for u in users}


def store_sites(db: Session) -> frozenset[str]:
    """Every site the store knows: of its machines, agents and logins (read across the sites)."""
    found: set[str] = set()
    for column in (Machine.site, Agent.site, User.site, UserSite.site):
        found.update(db.scalars(select(column).distinct().execution_options(**ALL_SITES)))
    return frozenset(found)


def check_manageable(db: Session, user: User) -> None:
    """A master changes a login only when they act on every site it does: otherwise a master of one school
    could reset the password of a master of two, and act on the other as them."""
    seen = visible(db)
    beyond = user_sites(db, user) - set(seen) if seen is not None else frozenset()
    if beyond:
        raise ForbiddenError("user_other_sites", sites=", ".join(sorted(beyond)))


def home_site(*, db: Session, asked: str | None = None) -> str:
    """The site a new record goes to. On a restricted session (a request) the one asked for among the
    principal's, or their only one (``site_for_new``): a record never lands in a site its maker cannot see.
    Elsewhere (the command line, a seed): the site asked for (the configured one), else the first site that
    has machines (the only one, in a school), else ``DEFAULT_SITE``.
    """
    restricted = visible(db)
    if restricted is not None:
        return site_for_new(sites=restricted, asked=asked)
    if asked:
        return asked
    first = db.scalars(select(Machine.site).order_by(Machine.site).limit(1)).first()
    return first if first is not None else DEFAULT_SITE


def restrict(db: Session, sites: Collection[str] | None) -> None:
    """From now on ``db`` sees only ``sites`` (None: every site, the default)."""
    db.info[SITES_KEY] = None if sites is None else tuple(sorted(sites))


@contextmanager
def every_site(db: Session) -> Iterator[None]:
    """``db`` sees every site for a while: for reads of rows already kept to the reader's sites (the sessions
    of the machines it sees, and their cycles), which the restriction's subqueries would only slow down."""
    before = db.info.get(SITES_KEY)
    db.info[SITES_KEY] = None
    try:
        yield
    finally:
        db.info[SITES_KEY] = before


def visible(db: Session) -> tuple[str, ...] | None:
    """The sites ``db`` is restricted to, or None when it sees every site."""
    found: tuple[str, ...] | None = db.info.get(SITES_KEY)
    return found


def site_for_new(*, sites: Collection[str], asked: str | None) -> str:
    """The site a master's new record goes to: the one they named, or their only one.

    ``site_required`` when a master of several sites did not say which; ``site_not_yours`` for another's.
    """
    if asked is None:
        if len(sites) == 1:
            return next(iter(sites))
        raise InvalidError("site_required", sites=", ".join(sorted(sites)))
    if asked not in sites:
        raise InvalidError("site_not_yours", site=asked, sites=", ".join(sorted(sites)))
    return asked


@functools.lru_cache(maxsize=256)
def _criteria(sites: tuple[str, ...]) -> dict[type[Any], Any]:
    """Model → the WHERE that keeps its rows of ``sites``: built once per set of sites (building them
    costs more than the query they go into), reused by every statement of every request of those sites."""

    def own(cls: Any) -> Any:
        return cls.site.in_(sites)

    machines = select(Machine.id).where(Machine.site.in_(sites))
    orders = select(Order.id).where(Order.site.in_(sites))
    students = select(Student.id).where(Student.site.in_(sites))
    sessions = select(WorkSessionRecord.id).where(WorkSessionRecord.machine_id.in_(machines))

    def rule(models: tuple[type[Any], ...], where: Callable[[Any], Any]) -> dict[type[Any], Any]:
        return {model: with_loader_criteria(model, where, include_aliases=True) for model in models}

    return (
        rule(OWN_SITE, own)
        | rule(BY_MACHINE, lambda cls: cls.machine_id.in_(machines))
        | rule(BY_ORDER, lambda cls: cls.order_id.in_(orders))
        | rule(BY_STUDENT, lambda cls: cls.student_id.in_(students))
        | rule((CycleAssignment,), lambda cls: cls.session_id.in_(sessions))
    )


@event.listens_for(Session, "do_orm_execute")
def _only_visible_sites(execute: ORMExecuteState) -> None:
    sites = visible(execute.session)
    if sites is None or not (execute.is_select or execute.is_update or execute.is_delete):
        return
    if execute.execution_options.get(ALL_SITES_OPTION):
        return
    rules = _criteria(sites)
    # The entities the statement reads or writes (a count over ``select_from`` names none: every rule then).
    # Two dozen rules on every statement would cost more than most queries; a table joined or read in a
    # subquery follows the entity it is joined to, whose own rule keeps it to the sites.
    named = [mapper.class_ for mapper in execute.all_mappers]
    wanted = [rules[name] for name in named if name in rules] if named else list(rules.values())
    if wanted:
        execute.statement = execute.statement.options(*wanted)
