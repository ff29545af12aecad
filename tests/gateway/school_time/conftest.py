"""The records fixtures (real SQLite and PostgreSQL, built by the migrations) for the school's time."""

from tests.gateway.records.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    _test_sized_hashing,
    backend,
    databases,
    engine,
    engines,
    world,
)
