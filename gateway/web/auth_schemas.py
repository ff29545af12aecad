"""Bodies of logins, users and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from gateway.auth import DEFAULT_TOKEN_DAYS, MIN_PASSWORD
from gateway.web.schemas import Id, InputModel, Name, PublicModel, Short, SiteId, printable

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")]
Password = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(printable)]


class LoginIn(InputModel):
    username: Username
    password: Password


class LoginOut(BaseModel):
    token: str = Field(description="also set as the atelier_session cookie; usable as a Bearer token")
    username: str
    role: str
    expires: datetime


class Me(BaseModel):
    role: str
    name: str
    student_id: int | None
    machine_id: int | None
    sites: list[str] = Field(default_factory=list, description="the sites whose records it reads and changes")


class UserCreate(InputModel):
    username: Username
    password: Password = Field(description="at least 8 characters")
    role: Literal["admin", "viewer", "student", "network"] = Field(
        description="viewer: reads the wall, orders, utilisation; network: the network page only"
    )
    student_id: Id | None = None
    sites: list[SiteId] | None = Field(
        default=None,
        max_length=100,
        description="a master's or a viewer's sites, among yours (default: yours when you have one)",
    )


class UserUpdate(InputModel):
    active: bool = Field(description="false disables the user and ends their logins")


class UserSitesSet(InputModel):
    sites: list[SiteId] = Field(
        min_length=1,
        max_length=100,
        description="every site the master's or viewer's login acts on from now on, among yours; "
        "removing one ends its logins",
    )


class UserSites(BaseModel):
    user_id: int
    site: str = Field(description="the login's own site")
    sites: list[str] = Field(description="every site it acts on")


class BadgeSet(InputModel):
    badge: Short | None = Field(description="the master's badge, as the reader types it; null takes it back")


class PasswordChange(InputModel):
    current_password: Password
    new_password: Password = Field(description=f"at least {MIN_PASSWORD} characters")


class PasswordReset(InputModel):
    password: Password = Field(description=f"at least {MIN_PASSWORD} characters")


class SessionsRevoked(BaseModel):
    user_id: int
    sessions_revoked: int


class UserPublic(PublicModel):
    id: int
    site: str
    username: str
    role: str
    student_id: int | None
    active: bool
    created: datetime
    badge: str | None = None


class TokenCreate(InputModel):
    role: Literal["kiosk", "viewer"]
    label: Name
    machine: Short | None = Field(default=None, description="a kiosk's machine (its id on the bus)")
    site: Short | None = None
    valid_days: int = Field(default=DEFAULT_TOKEN_DAYS, ge=1, le=3 * 365, description="the token stops working then")


class TokenPublic(PublicModel):
    id: int
    site: str
    role: str
    label: str
    machine_id: int | None
    created: datetime
    expires: datetime
    revoked: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="shown once; only its hash is kept")
