"""While ingest runs the interpreter switches threads sooner and collects less often; it is given back after."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from gateway.ingest import interpreter
from tests.gateway.conftest import RunningGateway


@pytest.fixture
def untouched() -> Iterator[tuple[float, tuple[int, int, int]]]:
    """The interpreter as a test finds it, with settings ingest would change, then put back whatever happens."""
    before = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(0.005)
    gc.set_threshold(700, 10, 10)
    try:
        yield sys.getswitchinterval(), gc.get_threshold()
    finally:
        while interpreter._holders:
            interpreter.give_back()
        sys.setswitchinterval(before[0])
        gc.set_threshold(*before[1])


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_taken_then_given_back_exactly(untouched: tuple[float, tuple[int, int, int]]) -> None:
    switch, thresholds = untouched
    frozen = gc.get_freeze_count()
    interpreter.take()
    assert sys.getswitchinterval() == pytest.approx(interpreter.SWITCH_INTERVAL_S)
    assert gc.get_threshold() == (interpreter.GC_YOUNG_THRESHOLD, 10, 10)
    assert gc.get_freeze_count() > frozen  # the heap as ingest found it is left out of collections
    interpreter.give_back()
    assert sys.getswitchinterval() == pytest.approx(switch)
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_held_until_the_last_ingest_stops(untouched: tuple[float, tuple[int, int, int]]) -> None:
    switch, thresholds = untouched
    interpreter.take()
    interpreter.take()  # a second gateway in the same process
    interpreter.give_back()
    assert gc.get_threshold()[0] == interpreter.GC_YOUNG_THRESHOLD
    assert sys.getswitchinterval() == pytest.approx(interpreter.SWITCH_INTERVAL_S)
    interpreter.give_back()
    assert sys.getswitchinterval() == pytest.approx(switch)
    assert gc.get_threshold() == thresholds
    interpreter.give_back()  # once more than taken: nothing to give back, nothing changes
    assert sys.getswitchinterval() == pytest.approx(switch)
    assert gc.get_threshold() == thresholds


def test_cyclic_garbage_made_while_ingest_runs_is_still_collected(untouched: object) -> None:
    interpreter.take()
    garbage = Cycle()
    gone = weakref.ref(garbage)
    del garbage
    assert gone() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert gone() is None


def test_a_threshold_larger_than_ingests_is_kept(untouched: object) -> None:
    gc.set_threshold(50_000, 10, 10)
    interpreter.take()
    assert gc.get_threshold()[0] == 50_000
    interpreter.give_back()
    assert gc.get_threshold() == (50_000, 10, 10)


async def test_a_running_gateway_holds_the_settings_and_gives_them_back_when_it_stops(
    untouched: tuple[float, tuple[int, int, int]], gateway: RunningGateway
) -> None:
    switch, thresholds = untouched  # set before the gateway started
    assert gc.get_threshold() == (interpreter.GC_YOUNG_THRESHOLD, 10, 10)
    assert sys.getswitchinterval() == pytest.approx(interpreter.SWITCH_INTERVAL_S)
    assert gc.get_freeze_count() > 0
    gateway.stop.set()
    await asyncio.wait_for(gateway.task, 20)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
    assert sys.getswitchinterval() == pytest.approx(switch)
