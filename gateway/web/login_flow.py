"""Logging in, through the API or the form: the throttle first, then the password in its own pool, then cookies.

A refused attempt costs the gateway no hashing: the throttle answers before the
password is looked at. Cookies are ``Secure`` whenever the request came over
HTTPS (the gateway's own TLS, or a trusted proxy's ``X-Forwarded-Proto``), and
always when ``records.secure_cookies`` is set.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from fastapi.responses import Response
from starlette.requests import HTTPConnection

from gateway import auth
from gateway.login_throttle import address_key
from gateway.store.models import User
from gateway.web.guards import COOKIE
from gateway.web.records_state import RecordsState

logger = logging.getLogger(__name__)

DEVICE_COOKIE = "atelier_device"
MAX_DEVICES = 5  # logins remembered by one browser (a shared workshop PC)
DEVICE_DAYS = 400


class Throttled(Exception):  # noqa: N818 - said to the client as 429
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class LoggedIn:
    token: str
    user: User
    device: str  # the device proof to keep in the browser


def is_https(connection: HTTPConnection) -> bool:
    return connection.url.scheme in ("https", "wss")


def secure_cookies(connection: HTTPConnection, state: RecordsState) -> bool:
    return state.settings.secure_cookies or is_https(connection)


def client_key(connection: HTTPConnection) -> str:
    return address_key(connection.client.host if connection.client else None)


def _device_proofs(connection: HTTPConnection) -> list[str]:
    return [p for p in connection.cookies.get(DEVICE_COOKIE, "").split("~") if p][:MAX_DEVICES]


def _known_device(state: RecordsState, username: str, proofs: list[str]) -> bool:
    with state.reading(None) as db:  # before anyone is signed in
        return auth.known_device(db=db, username=username, proofs=proofs)


def _login(state: RecordsState, username: str, password: str, now: datetime) -> LoggedIn | None:
    with state.transaction(None) as db:  # before anyone is signed in
        found = auth.login(db=db, username=username, password=password, now=now, hours=state.settings.login_hours)
        if found is None:
            return None
        token, user = found
        return LoggedIn(token, user, auth.device_proof(user))


async def log_in(connection: HTTPConnection, state: RecordsState, username: str, password: str) -> LoggedIn | None:
    """A login for good credentials, None for bad ones; raises ``Throttled`` or ``password_work.Busy``."""
    now = state.now()
    t = now.timestamp()
    address = client_key(connection)
    refusal = state.throttle.address_refusal(address, t)
    if refusal is None and (refusal := state.throttle.username_refusal(username, t)) is not None:
        proofs = _device_proofs(connection)
        known: bool = bool(proofs) and await asyncio.to_thread(_known_device, state, username, proofs)
        if known:
            refusal = None
    if refusal is not None:
        logger.debug("login throttled by=%s address=%s", refusal.by, address)
        raise Throttled(refusal.retry_after_s)
    state.throttle.attempt(address, username, t)
    found = await state.passwords.run(_login, state, username, password, now)
    if found is not None:
        state.throttle.succeeded(address, username, t)
    return found


def set_login_cookie(
    response: Response, connection: HTTPConnection, state: RecordsState, token: str, max_age_s: int
) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age_s, httponly=True, samesite="lax", secure=secure_cookies(connection, state)
    )


def set_login_cookies(response: Response, connection: HTTPConnection, state: RecordsState, done: LoggedIn) -> None:
    set_login_cookie(response, connection, state, done.token, int(state.settings.login_hours * 3600))
    mine = f"{done.user.id}."
    kept = [p for p in _device_proofs(connection) if not p.startswith(mine)][: MAX_DEVICES - 1]
    response.set_cookie(
        DEVICE_COOKIE,
        "~".join([done.device, *kept]),
        max_age=DEVICE_DAYS * 24 * 3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(connection, state),
    )
