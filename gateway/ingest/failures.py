"""Which failures are the store's (retry the batch) and which a message's (isolate it, dead-letter it)."""

from __future__ import annotations

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

_STORE_FAILURES = (
    OperationalError,  # locked, disk full, read-only file, server gone, deadlock, statement timeout
    InterfaceError,
    InternalError,  # e.g. a read-only PostgreSQL standby
    ProgrammingError,  # schema or privileges not what the code expects: values are always bound parameters
    NotSupportedError,
    DisconnectionError,
    PoolTimeoutError,
)


def store_unwell(err: BaseException) -> bool:
    """A failure of the store itself: no message's fault, retry the batch. A message's own are the DBAPI's
    data-dependent errors (IntegrityError, DataError) and any exception from outside the database."""
    return isinstance(err, _STORE_FAILURES) or (isinstance(err, DBAPIError) and err.connection_invalidated)
