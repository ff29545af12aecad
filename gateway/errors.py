"""The gateway's errors: a root, the store's failure, and refusals with a stable code and its parameters.

``GatewayError`` is the root of every error the gateway raises on purpose; library
errors are converted to these where they arise. ``StoreError``: the SQL store
could not be opened, migrated or written.

A refusal (``RecordsError`` and its subclasses) names its case with a stable code
and carries what a message needs: ``ConflictError("machine_taken",
machine=Named(...), since=ts)``. The API turns each class into one HTTP status and
answers ``{"detail": {"code", "params", "message"}}``, the message written in the
caller's language from the catalogue ``gateway.error_messages`` (machine labels,
local times, a student's name only for whom may see it); ``str()`` of the error is
the English message, for the command line and the logs.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar

from gateway.error_messages import MESSAGES, Named, render

__all__ = [
    "BusyError",
    "ConflictError",
    "ForbiddenError",
    "GatewayError",
    "InvalidError",
    "Named",
    "NotFoundError",
    "RecordsError",
    "StoreError",
    "ThrottledError",
    "UnauthorizedError",
]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class StoreError(GatewayError):
    """The SQL store could not be opened, migrated or written."""


Param = int | float | str | datetime | Named | list[str] | None


class RecordsError(GatewayError):
    """A request the gateway refuses (records, logins, a machine move); nothing was written.

    The first argument is a code of ``error_messages.MESSAGES``; any other text is taken as an
    English message under the class's generic code (kept so that a plain message still works).
    """

    status: ClassVar[int] = 400
    generic: ClassVar[str] = "invalid"

    def __init__(self, code: str, /, **params: Param) -> None:
        known = code in MESSAGES["en"]
        self.code = code if known else self.generic
        self.params = params if known else {**params, "text": code}
        super().__init__(self.message(lang="en", zone=UTC, names=True))

    def message(self, *, lang: str, zone: tzinfo, names: bool) -> str:
        return render(self.code, self.params, lang=lang, zone=zone, names=names)

    def public_params(self) -> dict[str, Any]:
        """The parameters as JSON: a named thing by its key, a time in UTC ISO 8601."""
        return {key: _public(value) for key, value in self.params.items()}


def _public(value: Param) -> Any:
    if isinstance(value, Named):
        return value.key
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


class NotFoundError(RecordsError):
    """An id that names nothing (HTTP 404)."""

    status = 404
    generic = "not_found"


class ConflictError(RecordsError):
    """The request clashes with what is stored: a duplicate, a machine already taken (HTTP 409)."""

    status = 409
    generic = "conflict"


class InvalidError(RecordsError):
    """Well-formed but meaningless input: an end before a start, an unknown machine name (HTTP 422)."""

    status = 422
    generic = "invalid"


class UnauthorizedError(RecordsError):
    """Nobody is recognised: no credentials, or expired or revoked ones (HTTP 401)."""

    status = 401
    generic = "not_logged_in"


class ForbiddenError(RecordsError):
    """The caller is recognised but may not do this (HTTP 403)."""

    status = 403
    generic = "forbidden"


class BusyError(RecordsError):
    """The database stayed busy longer than the busy timeout (HTTP 503, to be retried)."""

    status = 503
    generic = "database_busy"


class ThrottledError(RecordsError):
    """Too many failed attempts from this address or on this name (HTTP 429, with Retry-After)."""

    status = 429
    generic = "too_many_logins"

    def __init__(self, code: str, /, *, retry_after_s: int, **params: Param) -> None:
        super().__init__(code, minutes=max(1, -(-retry_after_s // 60)), **params)
        self.retry_after_s = retry_after_s
