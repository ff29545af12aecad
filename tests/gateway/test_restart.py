"""The gateway process stopped (SIGTERM) or killed (SIGKILL) while an agent publishes: after a restart
every message is in the store exactly once (persistent session, acknowledgement only after commit)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from atelier.broker import Broker, free_port
from edge_agent import contract as c
from tests.gateway.helpers import (
    AGENT,
    MACHINE,
    SITE,
    Publisher,
    birth,
    count,
    gateway_toml,
    part,
    rows,
    subscribed,
    wait_until,
)

TOTAL = 600


def spawn(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "gateway", "run", "-c", str(config)], stdout=out, stderr=out)


def publish_steadily(publisher: Publisher, done: threading.Event) -> None:
    infos = []
    for seq in range(2, TOTAL + 2):
        infos.append(publisher.client.publish(c.machine_topic(SITE, MACHINE, "event"), c.encode(part(seq)), qos=1))
        time.sleep(0.002)
    for info in infos:
        info.wait_for_publish(timeout=30)
    done.set()


@pytest.mark.fault
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_every_message_arrives_exactly_once_across_a_gateway_restart(
    how: signal.Signals, broker: Broker, tmp_path: Path
) -> None:
    db_path, config, log = tmp_path / "gateway.db", tmp_path / "gateway.toml", tmp_path / "gateway.log"
    port = free_port()
    config.write_text(gateway_toml(broker, db_path, http_port=port, batch_size=50, batch_ms=30))
    gateway = spawn(config, log)
    publisher = Publisher(broker)
    try:
        wait_until(lambda: subscribed(port), timeout_s=30, what="the gateway subscribed")
        publisher.send(birth())
        publisher.send(part(1))
        wait_until(lambda: count(db_path, "part_counts") == 1, what="the first part")

        done = threading.Event()
        feeder = threading.Thread(target=publish_steadily, args=(publisher, done))
        feeder.start()
        wait_until(lambda: count(db_path, "part_counts") >= 150, what="ingest under way")
        gateway.send_signal(how)
        code = gateway.wait(20)
        stored_at_stop = count(db_path, "part_counts")
        assert code == (0 if how is signal.SIGTERM else -signal.SIGKILL), log.read_text()[-2000:]
        feeder.join(30)
        assert done.is_set()
        assert stored_at_stop < TOTAL + 1, "the agent published faster than the test can interrupt"

        gateway = spawn(config, log)
        wait_until(lambda: count(db_path, "part_counts") >= TOTAL + 1, timeout_s=30, what="every message after restart")
        time.sleep(0.3)  # anything redelivered late would show up as a duplicate now
        seqs = [seq for (seq,) in rows(db_path, "SELECT seq FROM part_counts ORDER BY seq")]
        assert seqs == list(range(1, TOTAL + 2))
        assert count(db_path, "messages") == TOTAL + 1
        assert count(db_path, "dead_letters") == 0
        assert rows(db_path, "SELECT contiguous_seq FROM agents WHERE name = ?", AGENT) == [(TOTAL + 1,)]
    finally:
        publisher.close()
        if gateway.poll() is None:
            gateway.terminate()
            gateway.wait(20)
