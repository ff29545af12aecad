from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.broker import Broker
from harness import Chain


@pytest.fixture
def chain(tmp_path: Path, broker: Broker) -> Iterator[Chain]:
    system = Chain(root=tmp_path, broker=broker)
    try:
        yield system
    finally:
        system.stop()
