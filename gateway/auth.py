"""Who is asking: users with argon2-hashed passwords, their logins and API tokens, resolved to a Principal.

- Masters (role ``admin``), students (role ``student``), viewers (role ``viewer``: someone
  who reads the wall, the order board and the utilisation, such as the school's direction) and
  the network's people (role ``network``: the network page only, aggregates of every school) are
  users: they log in with a username and a password, kept as an argon2id hash (argon2-cffi).
- Logging in opens a *login* (the ``login_sessions`` table): a random token, sent
  back as an HttpOnly cookie and usable as a Bearer token; the store keeps only
  its SHA-256. Here "login" always means that, never a work session at a machine.
- Kiosks (role ``kiosk``, bound to one machine) and status screens (``viewer``)
  use API tokens, random and stored hashed as well, revocable.

Tokens carry 256 random bits, so a fast hash is enough for them; passwords are
guessable and get argon2, which is slow and takes 64 MiB on purpose: the web layer
runs every function here that hashes in a small pool of its own
(``gateway.password_work``), never on the event loop. FastAPI role checks are in
``gateway.web.guards``; login throttling in ``gateway.login_throttle``.

A disabled user, or a student user whose student is disabled, cannot log in, and
their logins stop working at once; disabling, a password change or reset and an
explicit revocation delete the logins.

Every user and token belongs to a site (``sites_repo``): a master or a viewer acts on their own site and
those in ``user_sites``, a student on their student's, a kiosk on its machine's, a status screen on the one
it was issued for; a ``network`` login on none (the network page reads aggregates, not records).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, InvalidError
from gateway.store import sites_repo
from gateway.store.audit_log import audit
from gateway.store.machines_repo import machine_key
from gateway.store.models import ApiToken, LoginSession, Machine, Student, User, UserSite
from gateway.store.rows import get_row

logger = logging.getLogger(__name__)

LOGIN_PREFIX = "ats_"
TOKEN_PREFIX = "atk_"  # noqa: S105 - a prefix that tells the two kinds of token apart, not a secret
MIN_PASSWORD = 8
DEFAULT_TOKEN_DAYS = 365
_hasher = PasswordHasher()


ROLES = ("admin", "kiosk", "viewer", "student", "network")
SITED_ROLES = sites_repo.SITED_ROLES


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # admin, student, kiosk, viewer or network
    name: str  # for the audit log: a username or the token's label
    user_id: int | None = None
    student_id: int | None = None
    machine_id: int | None = None  # a kiosk's machine
    sites: frozenset[str] = frozenset()  # the sites whose records it may read and change


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
    *,
    db: Session,
    who: str,
    now: datetime,
    username: str,
    password: str,
    role: str,
    student_id: int | None,
    sites: Sequence[str] | None = None,
) -> User:
    """A new login. ``sites``: a master's or a viewer's, the first one its own (None: the store's home site);
    a student's login belongs to their student's site, a network login to the home site (it reads none)."""
    if role == "student" and student_id is None:
        raise InvalidError("student_login_needs_student")
    if role in ("admin", "viewer", "network") and student_id is not None:
        raise InvalidError(f"{role}_login_not_student")
    if role == "student" and sites:
        raise InvalidError("user_sites_only_masters_viewers", role=role)
    student = get_row(db=db, model=Student, row_id=student_id, label="student") if student_id is not None else None
    # One login page for the whole network: a username is taken whichever school has it.
    taken = select(User.id).where(User.username == username).execution_options(**sites_repo.ALL_SITES)
    if db.scalars(taken).first() is not None:
        raise ConflictError("username_taken", username=username)
    asked: list[str | None] = list(dict.fromkeys(sites or [])) or [None]
    chosen = [student.site] if student is not None else [sites_repo.home_site(db=db, asked=site) for site in asked]
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        student_id=student_id,
        site=chosen[0],
        active=True,
        created=now,
    )
    db.add(user)
    db.flush()
    if role in SITED_ROLES:
        db.add_all(UserSite(user_id=user.id, site=site) for site in chosen[1:])
    after = {"username": username, "role": role, "student_id": student_id, "sites": sorted(user_sites(db, user))}
    audit(db=db, who=who, action="create", entity="user", entity_id=user.id, at=now, after=after)
    return user


def sites_to_grant(who: Principal, role: str, asked: Sequence[str] | None) -> list[str] | None:
    """The sites a master gives a new login: only among their own (``site_not_yours``); when they have several
    they say which (``site_required``). A student's login follows its student (None)."""
    if role in ("student", "network"):
        if asked:
            raise InvalidError("user_sites_only_masters_viewers", role=role)
        # A network login reads no school's records: its own site is only where it was made (the master's).
        return None if role == "student" else sorted(who.sites)[:1]
    if not asked:
        return [sites_repo.site_for_new(sites=who.sites, asked=None)]
    return [sites_repo.site_for_new(sites=who.sites, asked=site) for site in asked]


def user_sites(db: Session, user: User) -> frozenset[str]:
    return sites_repo.user_sites(db, user)


def may_log_in(db: Session, user: User) -> bool:
    """An active login, and for a student login an active student."""
    if not user.active:
        return False
    if user.student_id is None:
        return True
    student = db.get(Student, user.student_id)
    return student is not None and student.active


def login(*, db: Session, username: str, password: str, now: datetime, hours: float) -> tuple[str, User] | None:
    """A new login's token for good credentials, None otherwise (which one was wrong is not said)."""
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None or not may_log_in(db, user):
        _hasher.hash(password)  # spend the same time as a real check: usernames are not probed by timing
        return None
    if not verify_password(user.password_hash, password):
        logger.info("login refused username=%r", username)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    db.execute(delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires <= now))
    token = LOGIN_PREFIX + secrets.token_urlsafe(32)
    db.add(LoginSession(token_hash=digest(token), user_id=user.id, created=now, expires=now + timedelta(hours=hours)))
    db.flush()
    return token, user


def logout(*, db: Session, token: str) -> None:
    db.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))


def device_proof(user: User) -> str:
    """What a browser that logged in as ``user`` keeps, so that a throttle on the user name spares it.

    Keyed by the stored password hash, which never leaves the server: only a browser that
    logged in with the password holds it, and it lapses when the password changes.
    """
    mac = hmac.new(user.password_hash.encode(), f"device:{user.id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{user.id}.{mac}"


def known_device(*, db: Session, username: str, proofs: list[str]) -> bool:
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None or not proofs:
        return False
    expected = device_proof(user)
    return any(hmac.compare_digest(proof, expected) for proof in proofs)


# --- managing logins ---------------------------------------------------------


def revoke_logins(*, db: Session, user_id: int, keep: str | None = None) -> int:
    """Delete the user's logins (but the one whose token is ``keep``); returns how many."""
    where = [LoginSession.user_id == user_id]
    if keep is not None:
        where.append(LoginSession.token_hash != digest(keep))
    count = db.scalar(select(func.count()).select_from(LoginSession).where(*where)) or 0
    db.execute(delete(LoginSession).where(*where))
    return int(count)


def end_logins(*, db: Session, who: str, now: datetime, user_id: int) -> int:
    """A master signs a user out everywhere; returns how many logins there were."""
    user = get_row(db=db, model=User, row_id=user_id, label="user")
    sites_repo.check_manageable(db, user)
    count = revoke_logins(db=db, user_id=user.id)
    after = {"sessions": count}  # the audit log's words, kept as they were written
    audit(db=db, who=who, action="revoke_sessions", entity="user", entity_id=user.id, at=now, after=after)
    return count


def set_active(*, db: Session, who: Principal, now: datetime, user_id: int, active: bool) -> User:
    user = get_row(db=db, model=User, row_id=user_id, label="user")
    sites_repo.check_manageable(db, user)
    if not active and user.id == who.user_id:
        raise ConflictError("own_login")
    if user.active != active:
        user.active = active
        audit(
            db=db,
            who=who.name,
            action="enable" if active else "disable",
            entity="user",
            entity_id=user.id,
            at=now,
        )
    if not active:
        revoke_logins(db=db, user_id=user.id)
    return user


def set_user_sites(*, db: Session, who: Principal, now: datetime, user_id: int, sites: Sequence[str]) -> User:
    """A master changes the sites a master's or a viewer's login acts on (``sites``: the whole new list).

    The master must act on every site the login has (``check_manageable``) and on every site granted
    (``site_not_yours``), so a removed site is always one of theirs too. Never no site (``user_sites_empty``);
    a student's login follows its student and a network login reads no school (``user_sites_only_masters_viewers``);
    never one's own (``own_sites``: another master does it, so nobody locks themselves out by a slip). The login's
    own ``site`` stays when kept, else becomes the first kept. Removing a site ends the login's logins: a browser
    open on a site it lost loses it at once, not at its next sign-in.
    """
    user = get_row(db=db, model=User, row_id=user_id, label="user")
    if user.role not in SITED_ROLES:
        raise InvalidError("user_sites_only_masters_viewers", role=user.role)
    wanted = sorted(set(sites))
    if not wanted:
        raise InvalidError("user_sites_empty")
    sites_repo.check_manageable(db, user)
    if user.id == who.user_id:
        raise ConflictError("own_sites")
    seen = sites_repo.visible(db)  # None: the command line, which acts on every site
    if seen is not None:
        for site in wanted:
            sites_repo.site_for_new(sites=seen, asked=site)
    before = sorted(user_sites(db, user))
    if before == wanted:
        return user
    if user.site not in wanted:
        user.site = wanted[0]
    db.execute(delete(UserSite).where(UserSite.user_id == user.id))
    db.add_all(UserSite(user_id=user.id, site=site) for site in wanted if site != user.site)
    db.flush()
    if set(before) - set(wanted):
        revoke_logins(db=db, user_id=user.id)
    audit(
        db=db,
        who=who.name,
        action="set_sites",
        entity="user",
        entity_id=user.id,
        at=now,
        before={"sites": before},
        after={"sites": wanted},
    )
    return user


def change_own_password(
    *, db: Session, who: Principal, now: datetime, current: str, new: str, keep: str | None
) -> bool:
    """False when ``current`` is wrong (nothing changes); the user's other logins end."""
    if who.user_id is None:
        raise InvalidError("login_without_password")
    user = get_row(db=db, model=User, row_id=who.user_id, label="user")
    if not verify_password(user.password_hash, current):
        return False
    user.password_hash = hash_password(new)
    revoke_logins(db=db, user_id=user.id, keep=keep)
    audit(db=db, who=who.name, action="change_password", entity="user", entity_id=user.id, at=now)
    return True


def reset_password(*, db: Session, who: str, now: datetime, user_id: int, password: str) -> User:
    """A master sets a new password for someone; every login of that user ends."""
    user = get_row(db=db, model=User, row_id=user_id, label="user")
    sites_repo.check_manageable(db, user)
    user.password_hash = hash_password(password)
    revoke_logins(db=db, user_id=user.id)
    audit(db=db, who=who, action="reset_password", entity="user", entity_id=user.id, at=now)
    return user


def users(*, db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


# --- API tokens --------------------------------------------------------------


def api_tokens(*, db: Session) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).order_by(ApiToken.id)))


def api_token_by_id(*, db: Session, token_id: int) -> ApiToken | None:
    return db.get(ApiToken, token_id)


def api_token(*, db: Session, token: str) -> ApiToken | None:
    """The stored API token ``token`` is, whatever its state (revoked, expired); None when unknown."""
    return db.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()


def create_api_token(
    *,
    db: Session,
    who: str,
    now: datetime,
    role: str,
    label: str,
    machine: Machine | None,
    valid_days: int = DEFAULT_TOKEN_DAYS,
    site: str | None = None,
) -> tuple[str, ApiToken]:
    """A kiosk's token (it serves its machine's site) or a status screen's (``site``; None: the home site)."""
    if role == "kiosk" and machine is None:
        raise InvalidError("kiosk_token_needs_machine")
    if role != "kiosk" and machine is not None:
        raise InvalidError("token_machine_only_kiosk")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=digest(token),
        role=role,
        site=machine.site if machine is not None else sites_repo.home_site(db=db, asked=site),
        machine_id=machine.id if machine else None,
        label=label,
        created=now,
        expires=now + timedelta(days=valid_days),
        revoked=None,
    )
    db.add(row)
    db.flush()
    after = {
        "role": role,
        "label": label,
        "site": row.site,
        "machine": machine_key(machine) if machine else None,
        "expires": row.expires.isoformat(),
    }
    audit(db=db, who=who, action="create", entity="api_token", entity_id=row.id, at=now, after=after)
    return token, row


def revoke_api_token(*, db: Session, who: str, now: datetime, token_id: int) -> ApiToken:
    row = get_row(db=db, model=ApiToken, row_id=token_id, label="API token")
    if row.revoked is None:
        row.revoked = now
        audit(db=db, who=who, action="revoke", entity="api_token", entity_id=token_id, at=now)
    return row


# --- resolution --------------------------------------------------------------


def resolve(*, db: Session, token: str, now: datetime) -> Principal | None:
    """The principal a login's token or an API token stands for; None if unknown, expired or revoked."""
    if token.startswith(LOGIN_PREFIX):
        found = db.execute(
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.token_hash == digest(token))
        ).first()
        if found is None or found[0].expires <= now or not may_log_in(db, found[1]):
            return None
        user = found[1]
        return Principal(
            role=user.role,
            name=user.username,
            user_id=user.id,
            student_id=user.student_id,
            sites=user_sites(db, user),
        )
    if token.startswith(TOKEN_PREFIX):
        row = api_token(db=db, token=token)
        if row is None or row.revoked is not None or row.expires <= now:
            return None
        # A kiosk serves its machine's site, wherever the machine went since the token was issued.
        machine = db.get(Machine, row.machine_id) if row.machine_id is not None else None
        site = machine.site if machine is not None else row.site
        return Principal(role=row.role, name=f"{row.role}#{row.id}", machine_id=row.machine_id, sites=frozenset({site}))
    return None
