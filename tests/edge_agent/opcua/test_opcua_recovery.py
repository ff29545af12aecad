"""Server restarts, machines switched off and silently dropped subscriptions: the driver notices and a new
``readings()`` call (what ``pipeline.run_machine`` does after its back-off) starts a fresh session that delivers
again."""

from __future__ import annotations

import pytest

from edge_agent.drivers import build
from edge_agent.errors import DriverError
from tests.edge_agent.opcua.conftest import SINUMERIK, options

NODES = {"progStatus": f"{SINUMERIK}/Channel/State/progStatus", "actParts": f"{SINUMERIK}/Channel/State/actParts"}


@pytest.mark.fault
@pytest.mark.parametrize("machine_off", [False, True])
async def test_server_restart_on_the_same_port_ends_readings_and_a_new_call_resumes(cnc_factory, readers, machine_off):
    cnc = await cnc_factory()
    driver = build("opcua", machine_id="m1", options=options(cnc.endpoint, NODES), profile=None)
    first = readers(driver)
    await first.until(lambda: len(first.batches) >= 1, "the first batch")

    await cnc.stop(machine_off=machine_off)
    error = await first.ended()
    assert isinstance(error, DriverError)

    down = readers(driver)  # run_machine's retry while the control is still off
    assert "connection refused" in str(await down.ended())

    await cnc.start()
    again = readers(driver)
    await again.until(lambda: len(again.batches) >= 1, "the first batch after the restart")
    await cnc.apply({"part_count": 12})
    await again.until(lambda: 12 in again.values("actParts"), "a change after the restart")


@pytest.mark.fault
async def test_watchdog_catches_a_subscription_the_server_forgot(cnc_factory, readers):
    cnc = await cnc_factory()
    driver = build("opcua", machine_id="m1", options=options(cnc.endpoint, NODES), profile=None)
    first = readers(driver)
    await first.until(lambda: len(first.batches) >= 1, "the first batch")

    assert await cnc.drop_subscriptions() == 1  # the session lives on, the subscription is gone
    error = await first.ended()
    assert isinstance(error, DriverError)
    assert "keep-alive" in str(error)

    again = readers(driver)
    await again.until(lambda: len(again.batches) >= 1, "the first batch of the new session")
    await cnc.apply({"part_count": 3})
    await again.until(lambda: 3 in again.values("actParts"), "a change on the new subscription")
