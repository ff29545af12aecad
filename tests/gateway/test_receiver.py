"""The MQTT receiver process: messages in, acknowledgements out, and its life tied to the gateway's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from atelier.broker import Broker, free_port
from gateway.config import GatewaySettings
from gateway.ingest.messages import Received
from gateway.ingest.receiver import Receiver
from tests.gateway.helpers import Publisher, birth, gateway_toml, part, subscribed, wait_until

ROOT = Path(__file__).parents[2]


class Collected:
    def __init__(self) -> None:
        self.items: list[Received] = []
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[Received]) -> None:
        with self.lock:
            self.items.extend(items)

    def topics(self) -> list[str]:
        with self.lock:
            return [item.topic for item in self.items]


@pytest.fixture
def receiver(make_settings: Callable[..., GatewaySettings]) -> Iterator[tuple[Receiver, Collected]]:
    collected = Collected()
    instance = Receiver(make_settings(), collected)
    instance.start()
    yield instance, collected
    instance.stop()


@pytest.mark.fault
def test_an_unacknowledged_message_comes_back_after_the_receiver_process_dies(
    receiver: tuple[Receiver, Collected], broker: Broker
) -> None:
    instance, collected = receiver
    wait_until(instance.subscribed.is_set, what="the child's subscriptions")
    publisher = Publisher(broker)
    try:
        publisher.send(birth())
        publisher.send(part(1))
        wait_until(lambda: len([t for t in collected.topics() if t.endswith("/event")]) == 1, what="the event")
        os.kill(instance._process.pid, signal.SIGKILL)  # a crash of the child, not of the gateway
        wait_until(lambda: not instance.connected.is_set(), what="the loss to be noticed")
        wait_until(instance.subscribed.is_set, what="a new child", timeout_s=20)
        # Never acknowledged, the event is the broker's to send again, to the new child.
        wait_until(lambda: len([t for t in collected.topics() if t.endswith("/event")]) == 2, what="the redelivery")
        instance.ack_all([item for item in collected.items if item.topic.endswith("/event")][-1:])
        assert instance.connections >= 1
    finally:
        publisher.client.loop_stop()
        publisher.client.disconnect()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


@pytest.mark.fault
def test_the_receiver_process_leaves_with_a_sigkilled_gateway(broker: Broker, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(gateway_toml(broker, tmp_path / "gateway.db", http_port=port))
    gateway = subprocess.Popen(
        [sys.executable, "-m", "atelier", "gateway", "run", "-c", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: subscribed(port), what="the gateway to subscribe", timeout_s=30)
        children = _children(gateway.pid)  # the receiver, and multiprocessing's resource tracker
        assert children
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(10)
        # An orphan would keep the gateway's session and fight the restarted gateway for its client id.
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{child}").exists() for child in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [child for child in children if Path(f"/proc/{child}").exists()]
        assert not left, f"processes outlived the gateway: {left}"
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(10)
