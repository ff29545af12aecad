"""Shared fixtures and the markers each folder carries.

A real mosquitto broker per test on a free loopback port (``broker``), and the
markers ``make check`` leaves out, given by folder so that no new test file can
forget them: everything under ``tests/e2e/`` is ``e2e``, everything under
``tests/gateway/browser/`` is ``browser``. ``fault`` and ``slow`` are given test
by test, where a test kills processes or is an integration test too slow for the
inner loop; ``make test`` runs them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.broker import Broker

TESTS = Path(__file__).resolve().parent

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
