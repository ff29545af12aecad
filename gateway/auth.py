"""Who is asking: logins with argon2-hashed passwords, page sessions and API tokens, resolved to a Principal.

- Masters (role ``admin``) and students (role ``student``) log in with a username
  and a password; the password is kept as an argon2id hash (argon2-cffi).
- A login opens a page session: a random token, sent back as an HttpOnly cookie
  and usable as a Bearer token; the store keeps only its SHA-256.
- Kiosks (role ``kiosk``, bound to one machine) and status screens (``viewer``)
  use API tokens, random and stored hashed as well, revocable.

Tokens carry 256 random bits, so a fast hash is enough for them; passwords are
guessable and get argon2. FastAPI role checks are in ``gateway.web.guards``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.records_errors import ConflictError, InvalidError
from gateway.store.models import Machine
from gateway.store.records import ApiToken, LoginSession, Student, User
from gateway.store.records_repo import audit, get_row, machine_key

logger = logging.getLogger(__name__)

SESSION_PREFIX = "ats_"
TOKEN_PREFIX = "atk_"  # noqa: S105 - a prefix that tells the two kinds of token apart, not a secret
MIN_PASSWORD = 8
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # admin, student, kiosk or viewer
    name: str  # for the audit log: a username or the token's label
    user_id: int | None = None
    student_id: int | None = None
    machine_id: int | None = None  # a kiosk's machine


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidError("password_too_short", min=MIN_PASSWORD)
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- users -------------------------------------------------------------------


def create_user(
    *, session: Session, who: str, now: datetime, username: str, password: str, role: str, student_id: int | None
) -> User:
    if role == "student" and student_id is None:
        raise InvalidError("student_login_needs_student")
    if role == "admin" and student_id is not None:
        raise InvalidError("admin_login_not_student")
    if student_id is not None:
        get_row(session=session, model=Student, row_id=student_id, label="student")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise ConflictError("username_taken", username=username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        student_id=student_id,
        active=True,
        created=now,
    )
    session.add(user)
    session.flush()
    after = {"username": username, "role": role, "student_id": student_id}
    audit(session=session, who=who, action="create", entity="user", entity_id=user.id, at=now, after=after)
    return user


def login(*, session: Session, username: str, password: str, now: datetime, hours: float) -> tuple[str, User] | None:
    """A new page-session token for good credentials, None otherwise (which one was wrong is not said)."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time as a real check: usernames are not probed by timing
        return None
    if not verify_password(user.password_hash, password):
        logger.info("login refused username=%r", username)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires <= now))
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(
        LoginSession(token_hash=digest(token), user_id=user.id, created=now, expires=now + timedelta(hours=hours))
    )
    return token, user


def logout(*, session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))


# --- API tokens --------------------------------------------------------------


def create_api_token(
    *, session: Session, who: str, now: datetime, role: str, label: str, machine: Machine | None
) -> tuple[str, ApiToken]:
    if role == "kiosk" and machine is None:
        raise InvalidError("kiosk_token_needs_machine")
    if role != "kiosk" and machine is not None:
        raise InvalidError("token_machine_only_kiosk")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=digest(token),
        role=role,
        machine_id=machine.id if machine else None,
        label=label,
        created=now,
        revoked=None,
    )
    session.add(row)
    session.flush()
    after = {"role": role, "label": label, "machine": machine_key(machine) if machine else None}
    audit(session=session, who=who, action="create", entity="api_token", entity_id=row.id, at=now, after=after)
    return token, row


def revoke_api_token(*, session: Session, who: str, now: datetime, token_id: int) -> ApiToken:
    row = get_row(session=session, model=ApiToken, row_id=token_id, label="API token")
    if row.revoked is None:
        row.revoked = now
        audit(session=session, who=who, action="revoke", entity="api_token", entity_id=token_id, at=now)
    return row


# --- resolution --------------------------------------------------------------


def resolve(*, session: Session, token: str, now: datetime) -> Principal | None:
    """The principal a page-session or API token stands for; None if unknown, expired or revoked."""
    if token.startswith(SESSION_PREFIX):
        found = session.execute(
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.token_hash == digest(token))
        ).first()
        if found is None or found[0].expires <= now or not found[1].active:
            return None
        user = found[1]
        return Principal(role=user.role, name=user.username, user_id=user.id, student_id=user.student_id)
    if token.startswith(TOKEN_PREFIX):
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
        if row is None or row.revoked is not None:
            return None
        return Principal(role=row.role, name=f"{row.role}#{row.id}", machine_id=row.machine_id)
    return None
