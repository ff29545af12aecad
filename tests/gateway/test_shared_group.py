"""Several gateways in one shared group: what each subscribes to, and gaps judged against the shared store."""

from __future__ import annotations

from gateway.config import GatewaySection, GatewaySettings, IngestSection
from gateway.ingest.consumer import topic_filters
from gateway.ingest.gaps import GapTracker


def test_a_shared_group_splits_the_machine_stream_but_not_the_agent_births() -> None:
    settings = GatewaySettings(gateway=GatewaySection(id="gw-1"), ingest=IngestSection(shared_group="central"))
    status, machines = topic_filters(settings)
    assert status == ["atelier/v1/+/agent/+/status"]
    assert machines
    assert all(f.startswith("$share/central/atelier/v1/+/+/") for f in machines)


def test_without_a_group_nothing_is_shared() -> None:
    status, machines = topic_filters(GatewaySettings(gateway=GatewaySection(id="gw-1")))
    assert not any(f.startswith("$share/") for f in status + machines)


def test_seqs_another_member_stored_close_the_gap_before_any_request() -> None:
    tracker = GapTracker(timeout_s=2.0)
    key = ("lyon", "pc-1")
    for seq in (1, 2, 5, 9):  # this member's share
        tracker.observe(key, seq, now=0.0)
    assert tracker.open_ranges() == {key: (3, 8)}
    for seq in (3, 4, 6, 7, 8):  # what the store says the other member committed
        tracker.observe(key, seq, now=1.0)
    assert tracker.open_ranges() == {}
    assert tracker.due(10.0) == ([], [])
