"""Messages handed from the receiver's thread to the event loop, taken off in batches.

A ``call_soon_threadsafe`` per message costs a write to the loop's self-pipe
and a loop iteration each: at a few thousand messages a second that was half of
the receiving thread's time. Here that thread appends to a deque and wakes the
loop only when the loop is waiting and what it waits for is there (a first
message, or a full batch); the loop takes a whole batch at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

# While a backlog waits, ingest takes batches of up to this many times ``batch_size`` (``service.py``), and the
# MQTT session lets the broker send three such batches ahead of the commits (``consumer.py``).
DRAIN_BATCHES = 4


class Inbox(Generic[T]):
    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        # How many queued items the loop is waiting for (0: not waiting, it looks again by itself).
        self._wanted = 0
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that takes batches; ``put_many`` may be called from any thread once bound."""
        self._loop = loop

    def put_many(self, items: Sequence[T]) -> None:
        """From any thread: queue ``items`` in order; wake the loop only if it waits for what is now there."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("Inbox.put_many before bind")
        with self._lock:
            self._items.extend(items)
            if not self._wanted or len(self._items) < self._wanted:
                return
            self._wanted = 0  # one wake-up per wait
        loop.call_soon_threadsafe(self._ready.set)

    def close(self) -> None:
        """On the loop: what is queued is still handed out, then ``next_batch`` reports the end."""
        self._closed = True
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def next_batch(self, size: int, wait_s: float) -> tuple[list[T], bool]:
        """Wait for a first item, then up to ``wait_s`` for ``size``; (items, True once closed and drained)."""
        while not self._items and not self._closed:
            await self._wait_for(1, None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while len(self._items) < size and not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._wait_for(size, remaining)
        batch = self._take(size)
        return batch, self._closed and not self._items

    async def _wait_for(self, count: int, timeout_s: float | None) -> None:
        """Until ``count`` items are queued, the inbox is closed or ``timeout_s`` passed; may return early."""
        with self._lock:
            if len(self._items) >= count or self._closed:
                return
            self._ready.clear()
            self._wanted = count
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._wanted = 0

    def _take(self, count: int) -> list[T]:
        items = self._items
        taken: list[T] = []
        with self._lock:
            while items and len(taken) < count:
                taken.append(items.popleft())
        return taken
