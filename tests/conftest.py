"""Shared fixtures: a real mosquitto broker per test on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A private mosquitto with Atelier's shipped settings; tests may kill and restart it."""
    instance = Broker(data_dir=tmp_path / "broker")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
