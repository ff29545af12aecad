"""``/api/auth``: log in and out, who am I, screens; ``/api/users`` and ``/api/tokens`` for masters."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.requests import Request

from gateway import auth
from gateway.store.models import Machine
from gateway.store.records import ApiToken, User
from gateway.store.records_repo import find_machine
from gateway.web.auth_schemas import (
    LoginIn,
    LoginOut,
    Me,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
)
from gateway.web.guards import COOKIE, Admin, Anyone, credentials
from gateway.web.header import kiosk_path
from gateway.web.records_state import RecordsState, StateDep
from gateway.web.schemas import MAX_ID

router = APIRouter(prefix="/api/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/users", tags=["auth"])
tokens_router = APIRouter(prefix="/api/tokens", tags=["auth"])
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _set_cookie(response: Response, state: RecordsState, token: str, max_age_s: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age_s, httponly=True, samesite="lax", secure=state.settings.secure_cookies
    )


@router.post("/login")
def login(body: LoginIn, response: Response, state: StateDep) -> LoginOut:
    now = state.now()
    hours = state.settings.login_hours
    with state.transaction() as session:
        found = auth.login(session=session, username=body.username, password=body.password, now=now, hours=hours)
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
        token, user = found
        out = LoginOut(token=token, username=user.username, role=user.role, expires=now + timedelta(hours=hours))
    _set_cookie(response, state, token, int(hours * 3600))
    return out


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, who: Anyone, state: StateDep) -> Response:
    token = credentials(request)
    if token is not None and token.startswith(auth.SESSION_PREFIX):
        with state.transaction() as session:
            auth.logout(session=session, token=token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE)
    return response


@router.get("/me")
def me(who: Anyone) -> Me:
    return Me(role=who.role, name=who.name, student_id=who.student_id, machine_id=who.machine_id)


@router.get("/screen", response_class=RedirectResponse, status_code=status.HTTP_303_SEE_OTHER)
def screen(state: StateDep, token: Annotated[str, Query(min_length=1, max_length=200)]) -> RedirectResponse:
    """A kiosk or status screen opens this once with its API token; the cookie then keeps it signed in.

    A kiosk lands on its machine's kiosk page, a status screen on the wall.
    """
    with state.sessions() as session:
        who = auth.resolve(session=session, token=token, now=state.now())
        kiosk = who is not None and who.role == "kiosk" and who.machine_id is not None
        machine = session.get(Machine, who.machine_id) if kiosk and who is not None else None
        target = "/" if machine is None else kiosk_path(machine)
    if who is None or not token.startswith(auth.TOKEN_PREFIX):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API token")
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    _set_cookie(response, state, token, 400 * 24 * 3600)
    return response


@users_router.get("")
def list_users(who: Admin, state: StateDep) -> list[UserPublic]:
    with state.transaction() as session:
        return [UserPublic.model_validate(u) for u in session.scalars(select(User).order_by(User.username))]


@users_router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, who: Admin, state: StateDep) -> UserPublic:
    with state.transaction() as session:
        user = auth.create_user(session=session, who=who.name, now=state.now(), **body.model_dump())
        return UserPublic.model_validate(user)


@tokens_router.get("")
def list_tokens(who: Admin, state: StateDep) -> list[TokenPublic]:
    with state.transaction() as session:
        return [TokenPublic.model_validate(t) for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]


@tokens_router.post("", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, who: Admin, state: StateDep) -> TokenCreated:
    with state.transaction() as session:
        machine = find_machine(session=session, name=body.machine, site=body.site) if body.machine else None
        token, row = auth.create_api_token(
            session=session, who=who.name, now=state.now(), role=body.role, label=body.label, machine=machine
        )
        return TokenCreated(**TokenPublic.model_validate(row).model_dump(), token=token)


@tokens_router.delete("/{token_id}")
def revoke_token(token_id: TokenId, who: Admin, state: StateDep) -> TokenPublic:
    with state.transaction() as session:
        return TokenPublic.model_validate(
            auth.revoke_api_token(session=session, who=who.name, now=state.now(), token_id=token_id)
        )
