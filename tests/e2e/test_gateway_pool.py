"""Several gateways on one bus: an MQTT 5 shared subscription over one PostgreSQL database.

Two gateways split the event stream; one is SIGKILLed mid-run and comes back
a little later, as systemd restarts it. Every cycle must land exactly once:
what the dead gateway had received but not committed is redelivered to it or
replayed on request (each gateway checks the shared store before asking, so
the other member's share is not mistaken for a gap).
"""

from __future__ import annotations

import pytest

from harness import Chain, sim_options
from tests.e2e.test_chain import check_exactly_once, check_parts, made_parts

pytestmark = [pytest.mark.e2e, pytest.mark.fault]

MACHINES = ("mill-1", "lathe-2", "router-3", "drill-4")


def test_two_gateways_one_killed_every_cycle_once(chain: Chain, postgres_url: str) -> None:
    chain.database_url, chain.shared_group = postgres_url, "pool"
    for seed, machine in enumerate(MACHINES, start=1):
        chain.add_machine(machine, sim_options(seed, 30, cycle_s=0.3))
    chain.write_configs()
    chain.start_gateway()
    chain.wait_for(lambda: bool(chain.query("SELECT 1 FROM alembic_version")), 30, "the schema")
    second = chain.add_gateway("e2e-gw2")  # after the first has migrated the shared database
    chain.start_agent()
    chain.wait_for(lambda: len(chain.cycles()) >= 8, 30, "the first cycles")
    assert chain.gateway is not None
    chain.gateway.kill()  # mid-run
    made = len(chain.records())
    chain.wait_for(lambda: len(chain.records()) >= made + 12, 30, "cycles while one gateway is dead")
    assert second.running
    # mosquitto keeps queueing the dead member's share in its persistent session; systemd's restart brings
    # it back to commit that share (a gateway gone for good: see docs/scaling.md on session expiry).
    chain.start_gateway()
    chain.wait_for(lambda: chain.all_cycles_made(30), 90, "the simulators to finish")
    # The agent keeps running: the survivor may still need it to replay what died with the other gateway.
    chain.wait_for(lambda: len(chain.cycles()) >= len(chain.records()), 90, "every cycle via the survivor")
    assert check_exactly_once(chain) == 30 * len(MACHINES)
    # A cycle's part_counted is the message after its cycle_ended: the last one may still be on its way.
    chain.wait_for(lambda: chain.parts() == made_parts(chain), 30, "every part")
    check_parts(chain)
    survivor_log = (chain.root / "e2e-gw2.log").read_text()
    assert "$share/pool/" in survivor_log, "the survivor did not use the shared subscription"
