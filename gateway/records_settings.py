"""The ``[records]`` section of ``gateway.toml``: retention of practice logs, logins, the school's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_RETENTION_DAYS = 3 * 365  # a CAP or Bac Pro lasts two to three years; exam files need the log
# The school's zone, not the host's: a gateway on a server or in a container often runs in UTC, and a due
# time of 17:00 must read 17:00 in the workshop.
SCHOOL_ZONE = "Europe/Paris"


class RecordsSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    retention_days: int | None = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        description="practice logs older than this many days are detached from their students; none keeps them",
    )
    login_hours: float = Field(default=12.0, gt=0, le=24 * 90, description="how long a page login lasts")
    timezone: str = Field(
        default=SCHOOL_ZONE,
        description="the school's time zone: days and weeks of reports, times on pages, PDF and CSV",
    )
    secure_cookies: bool = Field(
        default=False, description="send the login cookie over HTTPS only (always so when the request came by HTTPS)"
    )
    login_failures_per_address: int = Field(
        default=10, ge=1, le=1_000_000, description="failed logins a client address may make per login window"
    )
    login_failures_per_username: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="failed logins on one user name per window, from all addresses; browsers that logged in "
        "as that user before are spared",
    )
    login_window_minutes: float = Field(default=15.0, gt=0, le=24 * 60, description="the login throttle's window")
    password_workers: int = Field(
        default=1, ge=1, le=64, description="password hashes computed at once (each takes 64 MiB and the CPU)"
    )
    open_status_screen: bool = Field(
        default=True,
        description="anyone on the network reads machine state (status page, /api/machines); false: viewer token",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from err
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def retention_cutoff(settings: RecordsSection, now: datetime) -> datetime | None:
    """Practice logs of sessions that ended before this instant are purged; None: keep everything."""
    if settings.retention_days is None:
        return None
    return now - timedelta(days=settings.retention_days)
