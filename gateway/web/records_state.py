"""What the records routes share: the gateway's database, the ``[records]`` settings and the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from gateway.auth import Principal
from gateway.config import RecordsSection
from gateway.login_throttle import Budget, LoginThrottle
from gateway.password_work import PasswordWork
from gateway.store import sites_repo
from gateway.store.db import Database, Db


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecordsState:
    """The database the routes read and write in (the gateway's own), the login throttle and the pool that
    computes password hashes, one of each per gateway."""

    def __init__(
        self, *, database: Database, settings: RecordsSection, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.throttle = LoginThrottle(
            Budget(
                per_address=settings.login_failures_per_address,
                per_username=settings.login_failures_per_username,
                window_s=settings.login_window_minutes * 60,
            )
        )
        self.passwords = PasswordWork(workers=settings.password_workers)

    def close(self) -> None:
        self.passwords.close()
        self.database.close()

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def transaction(self, who: Principal | None) -> Iterator[Db]:
        """A unit of work that writes (``Database.transaction``): a clash is a 409, a busy store a 503.

        It sees only the records of ``who``'s sites (``sites_repo.restrict``); None, for the requests nobody
        has to sign (a login, a status screen left open), sees every site.
        """
        with self.database.transaction() as db:
            sites_repo.restrict(db, None if who is None else who.sites)
            yield db

    @contextmanager
    def reading(self, who: Principal | None) -> Iterator[Db]:
        """A read-only unit of work (``Database.reading``): never waits for a writer; ``who`` as above."""
        with self.database.reading() as db:
            sites_repo.restrict(db, None if who is None else who.sites)
            yield db


def get_state(connection: HTTPConnection) -> RecordsState:
    state: RecordsState = connection.app.state.records
    return state


StateDep = Annotated[RecordsState, Depends(get_state)]
