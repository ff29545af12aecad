"""Several gateways in one shared group: what each subscribes to, and gaps judged against the shared store."""

from __future__ import annotations

from atelier.bus_security import acl
from edge_agent.contract import MACHINE_CHANNELS
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


def test_a_pool_hosting_a_list_of_sites_subscribes_to_each_sites_tree_only() -> None:
    gateway = GatewaySection.model_validate({"id": "pool-1", "site": ["morez", "dole"]})
    settings = GatewaySettings(gateway=gateway, ingest=IngestSection(shared_group="pool"))
    status, machines = topic_filters(settings)
    assert status == ["atelier/v1/morez/agent/+/status", "atelier/v1/dole/agent/+/status"]
    assert machines == [
        f"$share/pool/atelier/v1/{site}/+/{channel}" for site in ("morez", "dole") for channel in MACHINE_CHANNELS
    ]
    alone, _ = topic_filters(GatewaySettings(gateway=GatewaySection(id="gw", site="lyon")))
    assert alone == ["atelier/v1/lyon/agent/+/status"]


def test_the_acl_of_a_pool_follows_its_sites() -> None:
    text = acl([], ["pool"], gateway_sites=("morez", "dole"))
    grants = text.strip().splitlines()[1:]
    reads = [g.removeprefix("topic read ") for g in grants if g.startswith("topic read ")]
    writes = [g.removeprefix("topic write ") for g in grants if g.startswith("topic write ")]
    assert not [r for r in reads if r.startswith("atelier/v1/+/") and not r.endswith("/network/aggregate")]
    assert "atelier/v1/+/network/aggregate" in reads  # the collector reads every school's aggregates
    assert {f"atelier/v1/{s}/+/event" for s in ("morez", "dole")} <= set(reads)
    assert writes == [
        "atelier/v1/morez/agent/+/replay",
        "atelier/v1/morez/network/aggregate",
        "atelier/v1/dole/agent/+/replay",
        "atelier/v1/dole/network/aggregate",
    ]
