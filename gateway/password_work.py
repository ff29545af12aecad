"""Password hashing off the event loop, a few at a time.

argon2id is slow (tens of milliseconds of CPU) and takes 64 MiB per hash on
purpose. Run on the event loop it stalls every page and WebSocket; run in the
web server's shared thread pool, sixteen guessers take a gigabyte. Here it runs
in a pool of its own with ``workers`` threads (argon2-cffi releases the GIL), and
at most ``max_waiting`` calls may queue: past that, callers are told to come back
(``Busy``) instead of piling up memory and latency.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Busy(Exception):  # noqa: N818 - a state, said to the client as 503
    """Too many password checks are waiting already."""


class PasswordWork:
    def __init__(self, workers: int = 1, max_waiting: int = 32) -> None:
        self.workers = workers
        self.max_waiting = max_waiting
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` in the pool; raises ``Busy`` when too many calls wait already."""
        if self._pending >= self.workers + self.max_waiting:
            raise Busy
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="passwords")
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        finally:
            self._pending -= 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
