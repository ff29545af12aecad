"""What the web app is given to serve: the live view, the store and, when it runs ingest, the ingest."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.influx import InfluxSink
from gateway.ingest.service import Ingest
from gateway.live import LiveView
from gateway.store.db import Database
from gateway.web.probes import DatabaseProbe, TableTotals


@dataclass
class Services:
    live: LiveView
    ingest: Ingest | None = None  # None: serve pages only (tests, or a read-only replica)
    database: Database | None = None  # the gateway's store, shared with ingest; the records API uses it too
    influx: InfluxSink | None = None  # the optional telemetry sink; the lifespan runs it
    database_probe: DatabaseProbe = field(default_factory=DatabaseProbe)
    totals: TableTotals = field(default_factory=TableTotals)
