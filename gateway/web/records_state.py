"""What the records routes share: the database sessions, the ``[records]`` settings and the clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from gateway.config import RecordsSection
from gateway.errors import ConflictError
from gateway.login_throttle import Budget, LoginThrottle
from gateway.password_work import PasswordWork
from gateway.store import db

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecordsState:
    """Opens its engine on first use when given a URL (building an app touches no disk), and owns it then.

    It also holds the login throttle and the pool that computes password hashes, one of each per gateway.
    """

    def __init__(
        self,
        *,
        settings: RecordsSection,
        clock: Callable[[], datetime] = utc_now,
        engine: Engine | None = None,
        database_url: str | None = None,
    ) -> None:
        if engine is None and database_url is None:
            raise ValueError("the records need a database_url or an engine")
        self.settings = settings
        self.clock = clock
        self._engine = engine
        self._url = database_url
        self._owned = engine is None
        self._sessions: sessionmaker[Session] | None = None
        self._writes: sessionmaker[Session] | None = None
        self._lock = threading.Lock()
        self.throttle = LoginThrottle(
            Budget(
                per_address=settings.login_failures_per_address,
                per_username=settings.login_failures_per_username,
                window_s=settings.login_window_minutes * 60,
            )
        )
        self.passwords = PasswordWork(workers=settings.password_workers)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions for reading (pages, reports); a write goes through ``transaction()``."""
        return self._factories()[0]

    def _factories(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        with self._lock:
            if self._sessions is None or self._writes is None:
                if self._engine is None:
                    assert self._url is not None
                    self._engine = db.make_engine(self._url)
                self._sessions = db.session_factory(self._engine)
                self._writes = db.session_factory(db.writer(self._engine))
            return self._sessions, self._writes

    def close(self) -> None:
        self.passwords.close()
        with self._lock:
            if self._owned and self._engine is not None:
                self._engine.dispose()
                self._engine, self._sessions, self._writes = None, None, None

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work that writes: commits on success; a constraint another request won first is a 409.

        On SQLite it holds the write lock from its first statement (``db.writer``), so concurrent writes
        wait their turn instead of failing; on PostgreSQL the writes that check before they write lock the
        rows they depend on (``work_repo.lock``).
        """
        try:
            with self._factories()[1].begin() as session:
                yield session
        except IntegrityError as err:
            logger.info("a write clashed with a concurrent one: %s", err.orig)
            raise ConflictError("clash") from err

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: never takes the write lock, never waits for a writer."""
        with self.sessions.begin() as session:
            yield session


def get_state(connection: HTTPConnection) -> RecordsState:
    state: RecordsState = connection.app.state.records
    return state


StateDep = Annotated[RecordsState, Depends(get_state)]
