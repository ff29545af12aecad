"""``/api/auth``: log in and out, who am I, own password, screens; ``/api/users`` and ``/api/tokens`` for masters.

Everything that hashes a password runs in the gateway's password pool, never on the event loop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import RedirectResponse, Response
from starlette.requests import Request

from gateway import auth
from gateway.errors import ForbiddenError, ThrottledError, UnauthorizedError
from gateway.store import badges_repo, machines_repo, sites_repo
from gateway.web.auth_schemas import (
    BadgeSet,
    LoginIn,
    LoginOut,
    Me,
    PasswordChange,
    PasswordReset,
    SessionsRevoked,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserSites,
    UserSitesSet,
    UserUpdate,
)
from gateway.web.guards import COOKIE, Admin, AdminOrStudent, Anyone, credentials
from gateway.web.header import kiosk_path
from gateway.web.login_flow import DEVICE_COOKIE, log_in, set_login_cookie, set_login_cookies
from gateway.web.records_state import StateDep
from gateway.web.schemas import MAX_ID

router = APIRouter(prefix="/api/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/users", tags=["auth"])
tokens_router = APIRouter(prefix="/api/tokens", tags=["auth"])
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post(
    "/login",
    responses={429: {"description": "too many failed logins from this address or on this user name (Retry-After)"}},
)
async def login(body: LoginIn, request: Request, response: Response, state: StateDep) -> LoginOut:
    now = state.now()
    done = await log_in(request, state, body.username, body.password)
    if done is None:
        raise UnauthorizedError("login_failed")
    set_login_cookies(response, request, state, done)
    expires = now + timedelta(hours=state.settings.login_hours)
    return LoginOut(token=done.token, username=done.user.username, role=done.user.role, expires=expires)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, who: Anyone, state: StateDep) -> Response:
    token = credentials(request)
    if token is not None and token.startswith(auth.LOGIN_PREFIX):
        with state.transaction(who) as db:
            auth.logout(db=db, token=token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE)
    return response


@router.get("/me")
def me(who: Anyone) -> Me:
    return Me(
        role=who.role, name=who.name, student_id=who.student_id, machine_id=who.machine_id, sites=sorted(who.sites)
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, request: Request, who: AdminOrStudent, state: StateDep) -> Response:
    """Change your own password; your other logins end, this one goes on."""
    refusal = state.throttle.username_refusal(who.name, state.now().timestamp())
    if refusal is not None:  # a stolen login must not become a way to guess the password
        raise ThrottledError("too_many_logins", retry_after_s=refusal.retry_after_s)

    def change() -> bool:
        with state.transaction(who) as db:
            return auth.change_own_password(
                db=db,
                who=who,
                now=state.now(),
                current=body.current_password,
                new=body.new_password,
                keep=credentials(request),
            )

    if not await state.passwords.run(change):
        state.throttle.username_failed(who.name, state.now().timestamp())
        raise ForbiddenError("current_password_wrong")
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(DEVICE_COOKIE)  # its proof was made from the old password
    return response


@router.get("/screen", response_class=RedirectResponse, status_code=status.HTTP_303_SEE_OTHER)
def screen(
    request: Request, state: StateDep, token: Annotated[str, Query(min_length=1, max_length=200)]
) -> RedirectResponse:
    """A kiosk or status screen opens this once with its API token; the cookie then keeps it signed in.

    A kiosk lands on its machine's kiosk page, a status screen on the wall.
    """
    with state.reading(None) as db:  # resolving the token itself: no principal yet
        who = auth.resolve(db=db, token=token, now=state.now())
        row = auth.api_token(db=db, token=token)
        machine = None
        if who is not None and who.role == "kiosk" and who.machine_id is not None:
            machine = machines_repo.machine_by_id(db=db, machine_id=who.machine_id)
    target = "/" if machine is None else kiosk_path(machine)
    if who is None or row is None or not token.startswith(auth.TOKEN_PREFIX):
        raise UnauthorizedError("token_invalid")
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    set_login_cookie(response, request, state, token, int((row.expires - state.now()).total_seconds()))
    return response


@users_router.get("")
def list_users(who: Admin, state: StateDep) -> list[UserPublic]:
    with state.transaction(who) as db:
        return [UserPublic.model_validate(u) for u in auth.users(db=db)]


@users_router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, who: Admin, state: StateDep) -> UserPublic:
    def create() -> UserPublic:
        with state.transaction(who) as db:
            user = auth.create_user(
                db=db,
                who=who.name,
                now=state.now(),
                **body.model_dump() | {"sites": auth.sites_to_grant(who, body.role, body.sites)},
            )
            return UserPublic.model_validate(user)

    return await state.passwords.run(create)


@users_router.patch("/{user_id}")
def update_user(user_id: UserId, body: UserUpdate, who: Admin, state: StateDep) -> UserPublic:
    """Disable a user (their logins end at once) or enable them again."""
    with state.transaction(who) as db:
        user = auth.set_active(db=db, who=who, now=state.now(), user_id=user_id, active=body.active)
        return UserPublic.model_validate(user)


@users_router.put("/{user_id}/sites")
def set_sites(user_id: UserId, body: UserSitesSet, who: Admin, state: StateDep) -> UserSites:
    """Change the sites of a master's or a viewer's login: only a master of every site it has and every site
    granted; never none, never your own; a site removed ends its logins at once."""
    with state.transaction(who) as db:
        user = auth.set_user_sites(db=db, who=who, now=state.now(), user_id=user_id, sites=body.sites)
        return UserSites(user_id=user.id, site=user.site, sites=sorted(auth.user_sites(db, user)))


@users_router.put("/{user_id}/badge")
def set_badge(user_id: UserId, body: BadgeSet, who: Admin, state: StateDep) -> UserPublic:
    """Give a master a badge (null: take it back); never one a student or another master holds."""
    with state.transaction(who) as db:
        user = badges_repo.set_master_badge(db=db, who=who.name, now=state.now(), user_id=user_id, badge=body.badge)
        return UserPublic.model_validate(user)


@users_router.post("/{user_id}/password")
async def reset_password(user_id: UserId, body: PasswordReset, who: Admin, state: StateDep) -> UserPublic:
    """Set a new password for someone who lost theirs; every login of that user ends."""

    def reset() -> UserPublic:
        with state.transaction(who) as db:
            user = auth.reset_password(db=db, who=who.name, now=state.now(), user_id=user_id, password=body.password)
            return UserPublic.model_validate(user)

    return await state.passwords.run(reset)


@users_router.delete("/{user_id}/sessions")
def revoke_sessions(user_id: UserId, who: Admin, state: StateDep) -> SessionsRevoked:
    """End every login of a user (a lost phone, a shared PC left logged in)."""
    with state.transaction(who) as db:
        count = auth.end_logins(db=db, who=who.name, now=state.now(), user_id=user_id)
    return SessionsRevoked(user_id=user_id, sessions_revoked=count)


@tokens_router.get("")
def list_tokens(who: Admin, state: StateDep) -> list[TokenPublic]:
    with state.transaction(who) as db:
        return [TokenPublic.model_validate(t) for t in auth.api_tokens(db=db)]


@tokens_router.post("", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, who: Admin, state: StateDep) -> TokenCreated:
    with state.transaction(who) as db:
        machine = machines_repo.find_machine(db=db, name=body.machine, site=body.site) if body.machine else None
        token, row = auth.create_api_token(
            db=db,
            who=who.name,
            now=state.now(),
            role=body.role,
            label=body.label,
            machine=machine,
            valid_days=body.valid_days,
            site=None if machine is not None else sites_repo.site_for_new(sites=who.sites, asked=body.site),
        )
        return TokenCreated(**TokenPublic.model_validate(row).model_dump(), token=token)


@tokens_router.delete("/{token_id}")
def revoke_token(token_id: TokenId, who: Admin, state: StateDep) -> TokenPublic:
    with state.transaction(who) as db:
        return TokenPublic.model_validate(
            auth.revoke_api_token(db=db, who=who.name, now=state.now(), token_id=token_id)
        )
