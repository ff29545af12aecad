"""What reads ingest's output (the live view, the InfluxDB sink, the metrics) imports neither paho nor sqlalchemy.

The transfer types live in ``gateway.ingest.messages``; a fresh interpreter imports each reader and lists which
of those libraries came along, through any chain of imports.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("paho", "sqlalchemy")
READERS = ["gateway.ingest.messages", "gateway.ingest.decoding", "gateway.live", "gateway.influx", "gateway.metrics"]


@pytest.mark.parametrize("module", READERS)
def test_readers_of_ingest_stay_clear_of_the_mqtt_client_and_the_store(module: str) -> None:
    probe = f"import sys, {module}; print(sorted({{n.split('.')[0] for n in sys.modules}} & {set(HEAVY)!r}))"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert found == "[]", f"{module} pulls in {found}"
