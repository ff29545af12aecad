"""Engine factory and schema migrations.

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
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the folder (0700) and the file (0600) of a new SQLite database.

    SQLite gives its -wal and -shm files the mode of the database file, so they stay private too.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreError(f"database url {url!r} is not valid: {err}") from err
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
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


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str, *, engine: Engine | None = None) -> None:
    """Bring the schema at ``url`` to the latest revision (also creates it on an empty database)."""
    owned = engine is None
    engine = engine or make_engine(url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as err:
        raise StoreError(f"cannot migrate the database {engine.url!r}: {err}") from err
    finally:
        if owned:
            engine.dispose()
    logger.info("database schema up to date url=%r", engine.url.render_as_string(hide_password=True))
