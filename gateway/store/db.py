"""The store's engine, the units of work every caller opens on it, and schema migrations.

The gateway opens one engine on its database (``gateway.app``) and shares it as a
``Database``: ingest, the live view's start-up, the health probes and the records
API all use it.

SQLite runs in WAL mode (the web pages read while ingest writes), with foreign
keys on and ``synchronous=FULL``: a batch is acknowledged to the broker only
after its commit, so the commit must survive a power cut. pysqlite's own
transaction handling is turned off so that SAVEPOINTs work (SQLAlchemy's
documented recipe); each message of a batch runs in one.

A transaction that reads and then writes (a check-in checks the machine is free
first) must start with ``BEGIN IMMEDIATE`` on SQLite (``writer(engine)``): a
deferred one that read before another connection committed cannot take the
write lock at all, and fails at once with "database is locked" whatever the
busy timeout. ``IMMEDIATE`` takes the lock first, waiting up to the busy timeout.
Reads stay deferred, so pages never queue behind each other.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import BusyError, ConflictError, StoreError
from gateway.store import bulk_pg

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000

# What a repository function reads and writes in: the web layer holds one (from ``Database.reading()`` or
# ``Database.transaction()``) and passes it on, without importing SQLAlchemy.
Db: TypeAlias = Session


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the folder (0700) and the file (0600) of a new SQLite database.

    SQLite gives its -wal and -shm files the mode of the database file, so they stay private too.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreError(f"database url {url!r} is not valid: {err}") from err
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(parsed, pool_pre_ping=True)
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            bulk_pg.install(engine)  # ingest's writes on PostgreSQL go in pipelines
        return engine
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as err:
            raise StoreError(f"cannot create {database} or its folder: {err}") from err
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}", "synchronous=FULL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


BEGIN_OPTION = "atelier_sqlite_begin"


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(BEGIN_OPTION) == "IMMEDIATE"
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), whose transactions take SQLite's write lock as they begin."""
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class Database:
    """The store as its callers see it: one engine, and the two units of work they open on it.

    ``Database(engine)`` shares an engine its caller owns (the gateway's); ``Database.at(url)`` opens one on
    first use (building an app touches no disk) and owns it until ``close()``.
    """

    def __init__(self, engine: Engine | None = None, *, url: str | None = None) -> None:
        if engine is None and url is None:
            raise ValueError("a Database needs an engine or a url")
        self._engine = engine
        self._url = url
        self._owned = engine is None
        self._reads: sessionmaker[Session] | None = None
        self._writes: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    @classmethod
    def at(cls, url: str) -> Database:
        return cls(url=url)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Plain sessions on the engine, for callers that run their own transactions (ingest, start-up)."""
        return self._factories()[0]

    @property
    def writes(self) -> sessionmaker[Session]:
        """Sessions that hold SQLite's write lock from their first statement (``writer``), for callers outside a
        request that read and then write in their own transaction: a deferred one that read first fails at once
        ("database is locked") when another writer committed meanwhile, whatever the busy timeout."""
        return self._factories()[1]

    def _factories(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        with self._lock:
            if self._reads is None or self._writes is None:
                if self._engine is None:
                    assert self._url is not None
                    self._engine = make_engine(self._url)
                self._reads = session_factory(self._engine)
                self._writes = session_factory(writer(self._engine))
            return self._reads, self._writes

    def close(self) -> None:
        """Dispose of the engine if this object opened it; an engine the caller gave stays the caller's."""
        with self._lock:
            if self._owned and self._engine is not None:
                self._engine.dispose()
                self._engine, self._reads, self._writes = None, None, None

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """One unit of work that writes: commits on success; a constraint another request won first is a 409.

        On SQLite it holds the write lock from its first statement (``writer``), so concurrent writes
        wait their turn instead of failing; on PostgreSQL the writes that check before they write lock the
        rows they depend on (``work_repo.lock``).
        """
        try:
            with _unavailable_is_busy(), self._factories()[1].begin() as db:
                yield db
        except IntegrityError as err:
            logger.info("a write clashed with a concurrent one: %s", err.orig)
            raise ConflictError("clash") from err

    @contextmanager
    def reading(self) -> Iterator[Db]:
        """A read-only unit of work: never takes the write lock, never waits for a writer."""
        with _unavailable_is_busy(), self._factories()[0].begin() as db:
            yield db


@contextmanager
def _unavailable_is_busy() -> Iterator[None]:
    # The busy timeout ran out (SQLite) or the server is unreachable: nothing was written, try again.
    try:
        yield
    except OperationalError as err:
        logger.warning("database unavailable: %s", err)
        raise BusyError("database_busy") from err


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str, *, engine: Engine | None = None, site: str | None = None) -> None:
    """Bring the schema at ``url`` to the latest revision (also creates it on an empty database).

    ``site``: the gateway's own site, where the records that existed before records had a site go (0018).
    """
    owned = engine is None
    engine = engine or make_engine(url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            config.attributes["site"] = site
            command.upgrade(config, "head")
    except SQLAlchemyError as err:
        raise StoreError(f"cannot migrate the database {engine.url!r}: {err}") from err
    finally:
        if owned:
            engine.dispose()
    logger.info("database schema up to date url=%r", engine.url.render_as_string(hide_password=True))
