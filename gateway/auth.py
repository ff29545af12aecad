"""Who is asking: logins with argon2-hashed passwords, page sessions and API tokens, resolved to a Principal.

- Masters (role ``admin``) and students (role ``student``) log in with a username
  and a password; the password is kept as an argon2id hash (argon2-cffi).
- A login opens a page session: a random token, sent back as an HttpOnly cookie
  and usable as a Bearer token; the store keeps only its SHA-256.
- Kiosks (role ``kiosk``, bound to one machine) and status screens (``viewer``)
  use API tokens, random and stored hashed as well, revocable.

Tokens carry 256 random bits, so a fast hash is enough for them; passwords are
guessable and get argon2, which is slow and takes 64 MiB on purpose: the web layer
runs every function here that hashes in a small pool of its own
(``gateway.password_work``), never on the event loop. FastAPI role checks are in
``gateway.web.guards``; login throttling in ``gateway.login_throttle``.

A disabled user, or a student login whose student is disabled, cannot log in, and
its page sessions stop working at once; disabling, a password change or reset and
an explicit revocation delete the page sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, InvalidError
from gateway.store.models import ApiToken, LoginSession, Machine, Student, User
from gateway.store.records_repo import audit, get_row, machine_key

logger = logging.getLogger(__name__)

SESSION_PREFIX = "ats_"
TOKEN_PREFIX = "atk_"  # noqa: S105 - a prefix that tells the two kinds of token apart, not a secret
MIN_PASSWORD = 8
DEFAULT_TOKEN_DAYS = 365
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


def may_log_in(session: Session, user: User) -> bool:
    """An active login, and for a student login an active student."""
    if not user.active:
        return False
    if user.student_id is None:
        return True
    student = session.get(Student, user.student_id)
    return student is not None and student.active


def login(*, session: Session, username: str, password: str, now: datetime, hours: float) -> tuple[str, User] | None:
    """A new page-session token for good credentials, None otherwise (which one was wrong is not said)."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not may_log_in(session, user):
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


def device_proof(user: User) -> str:
    """What a browser that logged in as ``user`` keeps, so that a throttle on the user name spares it.

    Keyed by the stored password hash, which never leaves the server: only a browser that
    logged in with the password holds it, and it lapses when the password changes.
    """
    mac = hmac.new(user.password_hash.encode(), f"device:{user.id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{user.id}.{mac}"


def known_device(*, session: Session, username: str, proofs: list[str]) -> bool:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not proofs:
        return False
    expected = device_proof(user)
    return any(hmac.compare_digest(proof, expected) for proof in proofs)


# --- managing logins ---------------------------------------------------------


def revoke_sessions(*, session: Session, user_id: int, keep: str | None = None) -> int:
    """Delete the user's page sessions (but the one whose token is ``keep``); returns how many."""
    where = [LoginSession.user_id == user_id]
    if keep is not None:
        where.append(LoginSession.token_hash != digest(keep))
    count = session.scalar(select(func.count()).select_from(LoginSession).where(*where)) or 0
    session.execute(delete(LoginSession).where(*where))
    return int(count)


def end_sessions(*, session: Session, who: str, now: datetime, user_id: int) -> int:
    """A master ends every page session of a login; returns how many there were."""
    user = get_row(session=session, model=User, row_id=user_id, label="user")
    count = revoke_sessions(session=session, user_id=user.id)
    after = {"sessions": count}
    audit(session=session, who=who, action="revoke_sessions", entity="user", entity_id=user.id, at=now, after=after)
    return count


def set_active(*, session: Session, who: Principal, now: datetime, user_id: int, active: bool) -> User:
    user = get_row(session=session, model=User, row_id=user_id, label="user")
    if not active and user.id == who.user_id:
        raise ConflictError("own_login")
    if user.active != active:
        user.active = active
        audit(
            session=session,
            who=who.name,
            action="enable" if active else "disable",
            entity="user",
            entity_id=user.id,
            at=now,
        )
    if not active:
        revoke_sessions(session=session, user_id=user.id)
    return user


def change_own_password(
    *, session: Session, who: Principal, now: datetime, current: str, new: str, keep: str | None
) -> bool:
    """False when ``current`` is wrong (nothing changes); other page sessions of the user end."""
    if who.user_id is None:
        raise InvalidError("login_without_password")
    user = get_row(session=session, model=User, row_id=who.user_id, label="user")
    if not verify_password(user.password_hash, current):
        return False
    user.password_hash = hash_password(new)
    revoke_sessions(session=session, user_id=user.id, keep=keep)
    audit(session=session, who=who.name, action="change_password", entity="user", entity_id=user.id, at=now)
    return True


def reset_password(*, session: Session, who: str, now: datetime, user_id: int, password: str) -> User:
    """A master sets a new password for someone; every page session of that login ends."""
    user = get_row(session=session, model=User, row_id=user_id, label="user")
    user.password_hash = hash_password(password)
    revoke_sessions(session=session, user_id=user.id)
    audit(session=session, who=who, action="reset_password", entity="user", entity_id=user.id, at=now)
    return user


# --- API tokens --------------------------------------------------------------


def create_api_token(
    *,
    session: Session,
    who: str,
    now: datetime,
    role: str,
    label: str,
    machine: Machine | None,
    valid_days: int = DEFAULT_TOKEN_DAYS,
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
        expires=now + timedelta(days=valid_days),
        revoked=None,
    )
    session.add(row)
    session.flush()
    after = {
        "role": role,
        "label": label,
        "machine": machine_key(machine) if machine else None,
        "expires": row.expires.isoformat(),
    }
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
        if found is None or found[0].expires <= now or not may_log_in(session, found[1]):
            return None
        user = found[1]
        return Principal(role=user.role, name=user.username, user_id=user.id, student_id=user.student_id)
    if token.startswith(TOKEN_PREFIX):
        row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
        if row is None or row.revoked is not None or row.expires <= now:
            return None
        return Principal(role=row.role, name=f"{row.role}#{row.id}", machine_id=row.machine_id)
    return None
