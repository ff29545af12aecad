"""Records fixtures: the records API over a real database built by the real migrations, on SQLite and PostgreSQL.

Each backend's database is created and migrated once per test session (once
per pytest-xdist worker), when a test first needs it; the PostgreSQL one under
a unique name, dropped at the end. Every test starts from empty tables. The
PostgreSQL half of every test carries the ``slow`` marker: ``make check``
runs the SQLite half, ``make test`` both. The local PostgreSQL (127.0.0.1:5432, user postgres, trust
authentication) is required: a missing server fails the PostgreSQL half loudly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.orm import Session, sessionmaker

from gateway import auth
from gateway.config import DatabaseSection, GatewaySection, GatewaySettings, RecordsSection
from gateway.live import LiveView
from gateway.store import db
from gateway.store.db import Database
from gateway.store.models import Agent, Base, Cycle, Machine, PartCount, StateChange
from gateway.web.app import create_app
from gateway.web.records_api import include_records
from gateway.web.services import Services

PG_SERVER = os.environ.get("ATELIER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class _Databases(dict[str, str]):
    """Each backend's database, created and migrated on first use: a run without the PostgreSQL half
    (``make check`` leaves it out) never creates one."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder
        self._pg_name: str | None = None

    def __missing__(self, kind: str) -> str:
        if kind == "sqlite":
            url = f"sqlite:///{self._folder / 'records.db'}"
        elif kind == "postgresql":
            self._pg_name = f"atelier_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            with _admin() as admin, admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self._pg_name}"'))
            url = f"{PG_SERVER}/{self._pg_name}"
        else:
            raise KeyError(kind)
        db.upgrade(url)
        self[kind] = url
        return url

    def drop(self) -> None:
        if self._pg_name is not None:
            with _admin() as admin, admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))


@contextmanager
def _admin() -> Iterator[Engine]:
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        yield admin
    finally:
        admin.dispose()


class _Engines(dict[str, Engine]):
    def __init__(self, databases: dict[str, str]) -> None:
        super().__init__()
        self._databases = databases

    def __missing__(self, kind: str) -> Engine:
        engine = self[kind] = db.make_engine(self._databases[kind])
        return engine


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    made = _Databases(tmp_path_factory.mktemp("records"))
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture(scope="session")
def engines(databases: dict[str, str]) -> Iterator[dict[str, Engine]]:
    made = _Engines(databases)
    yield made
    for engine in made.values():
        engine.dispose()


# The PostgreSQL half is left out of ``make check`` (the inner loop) and run by ``make test``.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(engines: dict[str, Engine], backend: str) -> Engine:
    chosen = engines[backend]
    with chosen.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    return chosen


@pytest.fixture(autouse=True, scope="session")
def _test_sized_hashing() -> Iterator[None]:
    # The same argon2id, at a cost sized for a test run instead of for an attacker.
    saved = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = saved


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """The app, its clock, a session factory on the same database, and one credential per role."""

    client: httpx.AsyncClient
    app: FastAPI
    clock: Clock
    sessions: sessionmaker[Session]
    backend: str
    machines: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def as_(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    async def call(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, path, headers=self.as_(role), **kwargs)
        self.client.cookies.clear()  # credentials go in the header; a login's cookie must not stick
        return response

    async def ok(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        response = await self.call(method, path, role, **kwargs)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content and "json" in response.headers["content-type"] else response

    async def authorise(self, student_id: int) -> None:
        """Let the student use every machine of the world (the workshop group), regulated dates held."""
        grant = {
            "student_id": student_id,
            "group_id": self.ids["workshop"],
            "granted_on": "2026-09-01",
            "training_on": "2026-09-02",
            "medical_valid_until": "2027-08-31",
        }
        await self.ok("POST", "/api/authorisations", json=grant)

    def count(self, model: type[Any]) -> int:
        with self.sessions() as session:
            return len(session.query(model).all())


def add_machine(sessions: sessionmaker[Session], name: str, site: str = "lyon") -> int:
    with sessions.begin() as session:
        agent = Agent(site=site, name=f"pc-{name}", status="online", version="1", last_seen=T0, contiguous_seq=None)
        session.add(agent)
        session.flush()
        machine = Machine(site=site, name=name, agent_id=agent.id, first_seen=T0, last_seen=T0)
        session.add(machine)
        session.flush()
        return machine.id


_seq = iter(range(1, 10**9))


def add_cycle(
    sessions: sessionmaker[Session],
    machine_id: int,
    started: datetime,
    ended: datetime,
    *,
    parts: int = 1,
    outcome: str = "completed",
    count_parts: bool = True,
) -> int:
    """A cycle as ingest writes it, with its part count at the end (the edge counts each part once)."""
    with sessions.begin() as session:
        machine = session.get_one(Machine, machine_id)
        cycle = Cycle(
            machine_id=machine_id,
            agent_id=machine.agent_id,
            seq=next(_seq),
            program="O1000",
            kind="cycle",
            started=started,
            ended=ended,
            duration_s=(ended - started).total_seconds(),
            held_s=0.0,
            parts=parts,
            outcome=outcome,
        )
        session.add(cycle)
        if count_parts and parts:
            session.add(
                PartCount(
                    machine_id=machine_id,
                    agent_id=machine.agent_id,
                    seq=next(_seq),
                    ts=ended,
                    count=parts,
                    counter=None,
                    program="O1000",
                )
            )
        session.flush()
        return cycle.id


def add_state(
    sessions: sessionmaker[Session], machine_id: int, ts: datetime, availability: str, execution: str | None
) -> None:
    with sessions.begin() as session:
        session.add(
            StateChange(machine_id=machine_id, ts=ts, availability=availability, execution=execution, mode=None)
        )


def build_app(engine: Engine, clock: Clock, settings: RecordsSection | None = None) -> FastAPI:
    app = FastAPI()
    include_records(app, database=Database(engine), settings=settings or RecordsSection(timezone="UTC"), clock=clock)
    return app


@asynccontextmanager
async def site_client(
    url: str, clock: Clock, records: RecordsSection | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole gateway app (pages included, no ingest) over the database at ``url``, on the test's clock."""
    settings = GatewaySettings(
        gateway=GatewaySection(id="t"), database=DatabaseSection(url=url), records=records or RecordsSection()
    )
    app = create_app(settings, Services(live=LiveView()))
    app.state.records.clock = clock
    try:
        # A 500 comes back as a response, as a browser would see it, instead of raising in the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    finally:
        app.state.records.close()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
async def world(engine: Engine, backend: str) -> AsyncIterator[World]:
    clock = Clock(at(0))
    sessions = db.session_factory(engine)
    app = build_app(engine, clock)
    async with client_for(app) as client:
        w = World(client=client, app=app, clock=clock, sessions=sessions, backend=backend)
        w.machines = {"mill": add_machine(sessions, "mill"), "lathe": add_machine(sessions, "lathe")}
        await _credentials(w)
        yield w


async def _credentials(w: World) -> None:
    with w.sessions.begin() as session:
        auth.create_user(
            db=session,
            who="test",
            now=T0,
            username="master",
            password="master-pass",
            role="admin",
            student_id=None,
        )
    login = {"username": "master", "password": "master-pass"}
    w.tokens["admin"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    lea = {"first_name": "Léa", "last_initial": "M", "class_name": "CAP1", "track": "CAP", "badge": "B-LEA"}
    w.ids["student"] = (await w.ok("POST", "/api/students", json=lea))["id"]
    workshop = {"name": "Atelier", "machine_ids": sorted(w.machines.values())}
    w.ids["workshop"] = (await w.ok("POST", "/api/machine-groups", json=workshop))["id"]
    await w.authorise(w.ids["student"])
    user = {"username": "lea", "password": "lea-pass-1", "role": "student", "student_id": w.ids["student"]}
    await w.ok("POST", "/api/users", json=user)
    login = {"username": "lea", "password": "lea-pass-1"}
    w.tokens["student"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    kiosk = {"role": "kiosk", "label": "mill kiosk", "machine": "mill"}
    w.tokens["kiosk"] = (await w.ok("POST", "/api/tokens", json=kiosk))["token"]
    viewer = {"role": "viewer", "label": "big screen"}
    w.tokens["viewer"] = (await w.ok("POST", "/api/tokens", json=viewer))["token"]
    await w.ok("POST", "/api/users", json={"username": "reseau", "password": "reseau-pass-1", "role": "network"})
    login = {"username": "reseau", "password": "reseau-pass-1"}
    w.tokens["network"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    w.ids["customer"] = (await w.ok("POST", "/api/customers", json={"name": "Acme", "contact": "buyer@acme.example"}))[
        "id"
    ]
    order = {
        "customer_id": w.ids["customer"],
        "reference": "PO-1",
        "part_number": "BRK-01",
        "drawing_revision": "B",
        "quantity": 10,
        "due": at(24 * 60).isoformat(),
        "standard_cycle_s": 300,
        "programs": ["O1000"],
    }
    w.ids["order"] = (await w.ok("POST", "/api/orders", json=order))["id"]


async def master_of(w: World, username: str, sites: list[str]) -> None:
    """A master of ``sites`` (the first their own), logged in: ``w.tokens[username]``."""
    from gateway import auth

    with w.sessions.begin() as session:
        auth.create_user(
            db=session,
            who="t",
            now=at(0),
            username=username,
            password="password-1",
            role="admin",
            student_id=None,
            sites=sites,
        )
    login = {"username": username, "password": "password-1"}
    w.tokens[username] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
