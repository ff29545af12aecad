"""Errors of the records side; the API turns each into one HTTP status with its message."""

from __future__ import annotations

from gateway.errors import GatewayError


class RecordsError(GatewayError):
    """A request on the records that cannot be carried out; nothing was written."""


class NotFoundError(RecordsError):
    """An id that names nothing (HTTP 404)."""


class ConflictError(RecordsError):
    """The request clashes with what is stored: a duplicate, a machine already taken (HTTP 409)."""


class InvalidError(RecordsError):
    """Well-formed but meaningless input: an end before a start, an unknown machine name (HTTP 422)."""
