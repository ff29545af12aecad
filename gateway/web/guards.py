"""Role checks as FastAPI dependencies: 401 when nobody is recognised, 403 when the role may not.

Credentials come from ``Authorization: Bearer <token>`` or the ``atelier_session``
cookie (a page login, or an API token a screen opened with ``/api/auth/screen``).
"""

# No ``from __future__ import annotations``: FastAPI must see the closures in the dependency signatures.
from collections.abc import Callable, Collection
from typing import Annotated, Any

from fastapi import Depends, WebSocketException, status
from starlette.requests import HTTPConnection

from gateway.auth import ROLES, Principal, resolve
from gateway.errors import ForbiddenError, InvalidError, NotFoundError, RecordsError, UnauthorizedError
from gateway.store import machines_repo
from gateway.store.db import Db
from gateway.store.models import Machine
from gateway.web.records_state import StateDep

COOKIE = "atelier_session"


def credentials(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.cookies.get(COOKIE) or None


def current(connection: HTTPConnection, state: StateDep) -> Principal | None:
    token = credentials(connection)
    if token is None:
        return None
    with state.reading(None) as db:  # resolving the credential itself: no principal yet
        who = resolve(db=db, token=token, now=state.now())
    connection.state.who = who  # the error messages write names only for whom may read them
    return who


def _refuse(connection: HTTPConnection, error: RecordsError) -> Exception:
    if connection.scope["type"] == "websocket":
        return WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=str(error))
    return error


def allow(*roles: str, anonymous_if_open: bool = False) -> Callable[..., Principal | None]:
    """A dependency letting only ``roles`` through; the others get 403, nobody at all gets 401."""

    def check(
        connection: HTTPConnection, state: StateDep, who: Annotated[Principal | None, Depends(current)]
    ) -> Principal | None:
        if anonymous_if_open and state.settings.open_status_screen:
            return who  # machine state holds no personal data; the site chose to show it to anyone
        if who is None:
            code = "credentials_invalid" if credentials(connection) else "not_logged_in"
            raise _refuse(connection, UnauthorizedError(code))
        if who.role not in roles:
            raise _refuse(connection, ForbiddenError("role_forbidden", allowed=list(roles), role=who.role))
        return who

    return check


def _required(check: Callable[..., Principal | None]) -> Callable[..., Principal]:
    def principal(who: Annotated[Principal | None, Depends(check)]) -> Principal:
        assert who is not None  # check() lets nobody through anonymously here
        return who

    return principal


Admin = Annotated[Principal, Depends(_required(allow("admin")))]
AtMachine = Annotated[Principal, Depends(_required(allow("admin", "kiosk")))]
AdminOrStudent = Annotated[Principal, Depends(_required(allow("admin", "student")))]
Anyone = Annotated[Principal, Depends(_required(allow(*ROLES)))]
# The status page, its WebSocket and /api/machines: read-only machine state, for admin and viewer,
# or for anyone when ``records.open_status_screen`` is set (the default).
machine_state_reader = allow("admin", "viewer", anonymous_if_open=True)


def open_sites(setting: bool | tuple[str, ...], held: Collection[str]) -> frozenset[str]:
    """The sites whose machine state anyone reads without signing in (``records.open_status_screen``).

    ``true`` opens the school's screen: the one site of the machines the gateway holds (``held``), as it always
    did. A gateway holding machines of several sites (a central pool) has no one school: ``true`` then opens
    none, and the configuration names the sites to open (a list). ``false``: none.
    """
    if setting is True:
        return frozenset(held) if len(set(held)) <= 1 else frozenset()
    if setting is False:
        return frozenset()
    return frozenset(setting)


def sees_site(who: Principal | None, site: str, opened: Collection[str]) -> bool:
    """Machine state (the wall, its socket, /api/machines): a principal sees its own sites' machines;
    nobody signed in (a status screen left open) those of the ``opened`` sites (``open_sites``)."""
    return site in opened if who is None else site in who.sites


def machines_seen(
    who: Principal | None, machines: list[dict[str, Any]], opened: Collection[str]
) -> list[dict[str, Any]]:
    return [m for m in machines if sees_site(who, m["site"], opened)]


def own_site(who: Principal, site: str) -> str:
    """A site a request names (a calendar's, a reason list's, duty): one of the principal's, or a 404 as for a
    site that does not exist, so that a master of one school learns nothing of another."""
    if site not in who.sites:
        raise NotFoundError("site_unknown", site=site)
    return site


def own_student(who: Principal, student_id: int) -> None:
    """A student reads only their own log; a master every log of their sites (the others are not found)."""
    if who.role == "student" and who.student_id != student_id:
        raise ForbiddenError("own_log_only")


def kiosk_machine(who: Principal, machine_id: int) -> None:
    if who.role == "kiosk" and who.machine_id != machine_id:
        raise ForbiddenError("kiosk_other_machine")


def machine_for(db: Db, who: Principal, name: str | None, site: str | None) -> Machine:
    """The machine a request names; a kiosk may leave it out and may name only its own."""
    if name is None:
        if who.role != "kiosk" or who.machine_id is None:
            raise InvalidError("machine_required")
        own = machines_repo.machine_by_id(db=db, machine_id=who.machine_id)
        if own is None:  # cannot happen while the token's foreign key holds
            raise NotFoundError("machine_unknown", machine=f"#{who.machine_id}")
        return own
    machine = machines_repo.find_machine(db=db, name=name, site=site)
    kiosk_machine(who, machine.id)
    return machine
