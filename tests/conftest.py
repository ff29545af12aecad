"""Shared fixtures and the markers each folder carries.

A real mosquitto broker per test on a free loopback port (``broker``), a fresh database on the
local PostgreSQL (``postgres_url``), and the
markers ``make check`` leaves out, given by folder so that no new test file can
forget them: everything under ``tests/e2e/`` is ``e2e``, everything under
``tests/gateway/browser/`` is ``browser``. ``fault`` and ``slow`` are given test
by test, where a test kills processes or is an integration test too slow for the
inner loop; ``make test`` runs them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from atelier.broker import Broker

TESTS = Path(__file__).resolve().parent
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Folder (relative to tests/) -> the marker every test under it carries.
FOLDER_MARKERS = {
    "e2e": "e2e",
    "gateway/browser": "browser",
}


def folder_markers(path: Path) -> list[str]:
    """The markers a test file gets from the folders it sits in."""
    try:
        relative = path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return []
    return [marker for folder, marker in FOLDER_MARKERS.items() if relative.startswith(folder + "/")]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in folder_markers(item.path):
            item.add_marker(marker)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A private mosquitto with Atelier's shipped settings; tests may kill and restart it."""
    instance = Broker(data_dir=tmp_path / "broker")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"atelier_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as err:
        admin.dispose()
        pytest.fail(f"the local PostgreSQL at 127.0.0.1:5432 is needed for this test: {err}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
