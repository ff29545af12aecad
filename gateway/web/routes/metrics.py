"""``/metrics``: the gateway's counters in the Prometheus text format, for a scraper; open, like the status screen.

Identifiers only (site, machine): nothing here names a student.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from gateway.ingest.service import Ingest
from gateway.web.deps import ServicesDep
from gateway.web.services import Services
from plumbing import __version__
from plumbing.prometheus import CONTENT_TYPE, Exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    out = Exposition()
    out.add("atelier_gateway_info", "gauge", "The gateway's version.", [({"version": __version__}, 1)])
    _ingest(out, services)
    await _store(out, services)
    _machines(out, services)
    _influx(out, services)
    return PlainTextResponse(out.text(), media_type=CONTENT_TYPE)


def _ingest(out: Exposition, services: Services) -> None:
    ingest = services.ingest
    out.add(
        "atelier_gateway_ingest_running", "gauge", "1 while the ingest loop runs.", int(bool(ingest and ingest.healthy))
    )
    if ingest is None:
        return
    stats, consumer = ingest.stats, ingest.consumer
    connected = consumer is not None and consumer.connected.is_set()
    reconnects = 0 if consumer is None else max(0, consumer.connections - 1)
    out.add("atelier_gateway_mqtt_connected", "gauge", "1 while connected to the broker.", int(connected))
    out.add(
        "atelier_gateway_mqtt_reconnects_total", "counter", "Connections to the broker after the first.", reconnects
    )
    out.add(
        "atelier_gateway_messages_received_total", "counter", "Messages taken off the bus into a batch.", stats.received
    )
    out.add("atelier_gateway_messages_accepted_total", "counter", "Messages validated and recorded.", stats.accepted)
    out.add(
        "atelier_gateway_messages_duplicate_total", "counter", "Messages dropped as already recorded.", stats.duplicates
    )
    out.add(
        "atelier_gateway_dead_letters_total", "counter", "Messages refused into the dead letters.", stats.dead_letters
    )
    out.add("atelier_gateway_batches_committed_total", "counter", "Batches committed to the store.", stats.batches)
    out.histogram(
        "atelier_gateway_batch_commit_seconds",
        "From a batch taken off the queue to its commit, retries included.",
        stats.commit_seconds,
    )
    out.add("atelier_gateway_ingest_queue_messages", "gauge", "Messages received, waiting for a batch.", ingest.queued)
    out.add(
        "atelier_gateway_replay_requests_total",
        "counter",
        "Replays asked of agents for gaps in their sequence.",
        stats.replay_requests,
    )
    _trust(out, ingest)


def _trust(out: Exposition, ingest: Ingest) -> None:
    """What hostile or broken input cost: refusals, isolated batches, stalls, dead letters purged."""
    stats = ingest.stats
    out.add(
        "atelier_gateway_ownership_refusals_total",
        "counter",
        "Machine messages and status claims refused: the agent named does not own the machine.",
        stats.ownership_refusals,
    )
    out.add(
        "atelier_gateway_batches_replayed_total",
        "counter",
        "Batches written again message by message after a failure that was not the store's.",
        stats.replayed_batches,
    )
    out.add(
        "atelier_gateway_batches_split_total",
        "counter",
        "Batches split in halves to isolate the message a failure came from.",
        stats.split_batches,
    )
    out.add(
        "atelier_gateway_ingest_stalls_total",
        "counter",
        "Times messages waited longer than ingest.stall_after_s with no commit.",
        stats.stalls,
    )
    out.add(
        "atelier_gateway_ingest_stalled",
        "gauge",
        "1 while messages wait longer than ingest.stall_after_s with no commit.",
        int(ingest.stalled_for() is not None),
    )
    out.add(
        "atelier_gateway_dead_letters_purged_total",
        "counter",
        "Dead letters deleted past ingest.dead_letter_retention_days.",
        stats.dead_letters_purged,
    )


async def _store(out: Exposition, services: Services) -> None:
    if services.database is None:
        return
    total = await services.totals.dead_letter_count(services.database)
    if total is not None:
        out.add("atelier_gateway_dead_letters_stored", "gauge", "Rows in the dead_letters table (cached 15 s).", total)


def _machines(out: Exposition, services: Services) -> None:
    samples = [
        ({"site": m["site"], "machine": m["id"]}, int(m["availability"] == "AVAILABLE"))
        for m in services.live.machines()
    ]
    out.add("atelier_machine_available", "gauge", "1 when the machine and its agent are available.", samples)


def _influx(out: Exposition, services: Services) -> None:
    sink = services.influx
    if sink is None:
        return
    stats = sink.stats
    out.add("atelier_gateway_influx_lines_written_total", "counter", "Lines written to InfluxDB.", stats.written)
    out.add(
        "atelier_gateway_influx_lines_dropped_total",
        "counter",
        "Lines dropped, oldest first, while the buffer was full.",
        stats.dropped,
    )
    out.add(
        "atelier_gateway_influx_lines_rejected_total", "counter", "Lines InfluxDB refused as malformed.", stats.rejected
    )
    out.add("atelier_gateway_influx_lines_buffered", "gauge", "Lines waiting to be written.", stats.buffered)
    out.add("atelier_gateway_influx_write_failures_total", "counter", "Write attempts that failed.", stats.failures)
    out.add("atelier_gateway_influx_failing", "gauge", "1 while the latest write attempt failed.", int(sink.failing))
    out.add(
        "atelier_gateway_influx_last_error_timestamp_seconds",
        "gauge",
        "When the last write error happened (Unix time; 0: none).",
        stats.last_error_at,
    )
    if stats.last_error:
        out.add(
            "atelier_gateway_influx_last_error_info",
            "gauge",
            "The last write error, as a label.",
            [({"error": stats.last_error[:200]}, 1)],
        )
