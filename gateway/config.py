"""The gateway's configuration file (``/etc/atelier/gateway.toml``), checked once at start-up."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from edge_agent.contract import ID_PATTERN
from plumbing import tomlconfig
from plumbing.addresses import HostName

DEFAULT_DATABASE_URL = "sqlite:////var/lib/atelier/gateway/atelier.db"
SITE_FILTER_PATTERN = r"^(\+|[a-z0-9][a-z0-9_-]{0,62})$"
DEFAULT_RETENTION_DAYS = 3 * 365  # a CAP or Bac Pro lasts two to three years; exam files need the log
# The school's zone, not the host's: a gateway on a server or in a container often runs in UTC, and a due
# time of 17:00 must read 17:00 in the workshop.
SCHOOL_ZONE = "Europe/Paris"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


EVERY_SITE = "+"
SITE_EXPECTED = 'a site id, a list of site ids such as ["morez", "dole"], or "+" for every site'


class GatewaySection(_Section):
    id: str = Field(pattern=ID_PATTERN, description="stable gateway id; the MQTT client id derives from it")
    # A list: a central pool hosting several small schools ingests theirs and nobody else's (the events an
    # own-server school's bridge carries to the centre are that school's gateway's business, not the pool's).
    site: str | tuple[str, ...] = Field(default=EVERY_SITE, description=SITE_EXPECTED)

    @field_validator("site", mode="before")
    @classmethod
    def _sites(cls, value: object) -> str | tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        pattern = re.compile(SITE_FILTER_PATTERN)
        valid = bool(items) and all(isinstance(item, str) and pattern.match(item) for item in items)
        if not valid or (len(items) > 1 and EVERY_SITE in items) or len(set(items)) != len(items):
            raise PydanticCustomError("site", SITE_EXPECTED + ' (each once, "+" alone)')
        return value if isinstance(value, str) else tuple(items)  # type: ignore[arg-type]

    @property
    def sites(self) -> tuple[str, ...]:
        """The hosted sites, or ``("+",)`` for every site: one MQTT topic filter segment each."""
        return (self.site,) if isinstance(self.site, str) else self.site

    def hosts(self, site: str) -> bool:
        return EVERY_SITE in self.sites or site in self.sites

    @property
    def only_site(self) -> str | None:
        """The one site this gateway hosts, or None (every site, or several): the site new records and the
        rows a migration gives a site go to (``sites_repo.home_site``)."""
        return self.sites[0] if len(self.sites) == 1 and self.sites[0] != EVERY_SITE else None


class TlsSection(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class BrokerSection(_Section):
    host: HostName = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    tls: TlsSection | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)


class DatabaseSection(_Section):
    url: str = Field(default=DEFAULT_DATABASE_URL, pattern=r"^(sqlite|postgresql)(\+\w+)?://")


class IngestSection(_Section):
    batch_size: int = Field(default=500, ge=1, le=10_000)
    batch_ms: int = Field(default=50, ge=1, le=10_000)
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=60, le=0xFFFFFFFF)
    shared_group: str | None = Field(default=None, pattern=ID_PATTERN, description="MQTT 5 shared subscription group")
    # Longer than a pool member's restart (systemd's 5 s plus start-up): the survivor would otherwise ask
    # the agents again for what the restarting member's session still holds.
    gap_timeout_s: float = Field(default=30.0, gt=0, le=86_400, description="a gap older than this is asked for")
    replay_max_span: int = Field(default=1000, ge=1, le=1_000_000, description="most seqs one replay request asks for")
    replay_max_per_minute: int = Field(default=60, ge=1, le=10_000, description="replay requests, all agents together")
    stall_after_s: float = Field(
        default=30.0, gt=0, le=86_400, description="messages waiting this long with no commit: /healthz says stalled"
    )
    dead_letter_retention_days: float = Field(
        default=30.0, gt=0, le=3650, description="dead letters older than this are purged (hourly, and at start)"
    )


class HttpTlsSection(_Section):
    """The gateway serves HTTPS itself: a certificate from the school's own CA and its unencrypted key."""

    cert_file: Path = Field(description="PEM certificate (with any intermediate certificates after it)")
    key_file: Path = Field(description="its PEM private key, unencrypted, readable by the gateway only")


class HttpSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    tls: HttpTlsSection | None = None
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For/-Proto are believed; "
        "empty: none (the client address is the socket's)",
    )
    allowed_hosts: list[str] | None = Field(
        default=None, description='host names the pages answer to (such as "atelier.lycee.fr"); none: any'
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="other origins (scheme://host[:port]) whose pages may open the status WebSocket",
    )
    max_body_kib: int = Field(default=64, ge=1, le=1024, description="largest request body, except CSV imports")
    max_import_kib: int = Field(default=8192, ge=1, le=262_144, description="largest CSV import body")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as err:
                raise PydanticCustomError(
                    "address", "an IP address or network such as 10.0.0.2 or 10.0.0.0/24"
                ) from err
        return value


class InfluxSection(_Section):
    """Optional: telemetry and the state timeline into InfluxDB 2 or 3 (v2 write API)."""

    url: str = Field(description="base URL of the InfluxDB server, such as http://127.0.0.1:8086")
    org: str = Field(default="atelier", min_length=1)
    bucket: str = Field(default="atelier", min_length=1, description="bucket (InfluxDB 3: database)")
    token: str | None = Field(default=None, min_length=1)
    token_file: Path | None = Field(default=None, description="file holding the token; keeps it out of this file")
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="lines per write request")
    flush_interval_s: float = Field(default=1.0, gt=0, le=3600)
    max_buffered_lines: int = Field(
        default=200_000, ge=1, le=50_000_000, description="while InfluxDB is down; the oldest are dropped past it"
    )
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="one write request")
    retry_max_s: float = Field(default=30.0, gt=0, le=3600, description="longest wait between attempts while down")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a port out of range
        except ValueError:
            valid = False
        if not valid:
            raise PydanticCustomError("url", "an http:// or https:// URL with a host, such as http://127.0.0.1:8086")
        return value.rstrip("/")

    @field_validator("token_file")
    @classmethod
    def _one_token(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("token") is not None:
            raise PydanticCustomError("token", "either token or token_file, not both")
        return value


class RecordsSection(_Section):
    """Retention of practice logs, logins and the login throttle, the school's time zone."""

    retention_days: int | None = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        description="practice logs older than this many days are detached from their students; none keeps them",
    )
    raw_state_retention_days: int | None = Field(
        default=None,
        ge=2,
        le=36500,
        description="state changes older than this many days are deleted once their days are summarised; "
        "none keeps them all",
    )
    raw_telemetry_retention_days: int | None = Field(
        default=None,
        ge=2,
        le=36500,
        description="cycles and part counts older than this many days that no work session needs are deleted "
        "once their days are summarised; none keeps them all",
    )
    summary_budget_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="seconds the hourly job spends a round preparing finished work sessions' summaries (at "
        "least one chunk of 200 a round, even at 0); the rest waits for the next rounds",
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
    open_status_screen: bool | tuple[str, ...] = Field(
        default=True,
        description="anyone on the network reads machine state (status page, /api/machines): true, the one "
        'school\'s (none when the gateway holds machines of several sites); a list such as ["morez"], those '
        "sites'; false: a viewer token",
    )

    @field_validator("open_status_screen", mode="before")
    @classmethod
    def _open_sites(cls, value: object) -> bool | tuple[str, ...]:
        if isinstance(value, bool):
            return value
        pattern = re.compile(SITE_FILTER_PATTERN)
        items = value if isinstance(value, list) else None
        if not items or not all(isinstance(i, str) and i != EVERY_SITE and pattern.match(i) for i in items):
            raise PydanticCustomError("open_status_screen", 'true, false or a list of site ids such as ["morez"]')
        return tuple(dict.fromkeys(items))

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

    def retention_cutoff(self, now: datetime) -> datetime | None:
        """Practice logs of work sessions that ended before this instant are purged; None: keep everything."""
        if self.retention_days is None:
            return None
        return now - timedelta(days=self.retention_days)


class NetworkSection(_Section):
    """Aggregates between schools (docs/network.md): a school's gateway publishes, the network's collects."""

    publish: bool = Field(default=False, description="publish this school's daily and hourly aggregates")
    collect: bool = Field(default=False, description="store the aggregates the schools publish (network gateway)")
    interval_s: float = Field(default=300.0, ge=5, le=86_400, description="how often the aggregates are computed")
    republish_days: int = Field(
        default=7, ge=1, le=92, description="finished days sent again at every (re)connection: repairs gaps"
    )
    min_group_students: int = Field(
        default=3, ge=1, le=100, description="a class and track with fewer students is sent as OTHER"
    )


class GatewaySettings(_Section):
    gateway: GatewaySection
    broker: BrokerSection = BrokerSection()
    database: DatabaseSection = DatabaseSection()
    ingest: IngestSection = IngestSection()
    http: HttpSection = HttpSection()
    records: RecordsSection = RecordsSection()
    influx: InfluxSection | None = None
    network: NetworkSection = NetworkSection()

    @property
    def client_id(self) -> str:
        return f"atelier-gateway-{self.gateway.id}"


def load(path: Path) -> GatewaySettings:
    """Read and check the file; raise ``tomlconfig.ConfigError`` listing every problem."""
    return tomlconfig.load(path, GatewaySettings)
