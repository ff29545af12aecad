"""The interpreter's settings while ingest runs: a shorter thread switch interval, a cheaper garbage collector.

Both are process-wide, so they are taken while at least one ingest runs and given back when the last
stops (tests run several gateways in one process, one after the other or at once).

- **Switch interval.** The database thread gives the GIL up at every wait for the server and every
  SQLite step, and the decoding thread (or the receiver's reader) takes it; the default 5 ms before a
  waiting thread may take it back was most of the database thread's idle time between two statements
  (the timeline, docs/performance.md, issue 21).
- **Garbage collector.** A gateway's heap holds about 170,000 objects once the app is built (modules,
  the ORM's and FastAPI's classes, the contract's validators), none of which ingest frees; every full
  collection walked them all (about 130 ms each), and draining a backlog allocates enough to set one
  off every few thousand events. The other generations ran every 700 allocations, most of a batch's
  messages and rows still alive. Measured on a drain of 30,000 events into SQLite, the collector took
  about a third of the gateway process's CPU (docs/performance.md, issue 21, third round). So the heap
  as it stands when ingest starts is frozen (``gc.freeze``: left out of every collection, after one
  collection so that no garbage is frozen), and the youngest generation is collected every
  ``GC_YOUNG_THRESHOLD`` allocations: a batch's objects die before they are looked at, and what is
  cyclic garbage is still collected, later. Reference counting frees everything else as before.
"""

from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass

SWITCH_INTERVAL_S = 0.0005
GC_YOUNG_THRESHOLD = 20_000  # CPython's default is 700


@dataclass
class _Saved:
    switch_interval: float
    thresholds: tuple[int, int, int]


_lock = threading.Lock()
_holders = 0
_saved: _Saved | None = None


def take() -> None:
    """Ingest starts: the first one sets the interpreter up for it."""
    global _holders, _saved
    with _lock:
        _holders += 1
        if _holders > 1:
            return
        _saved = _Saved(sys.getswitchinterval(), gc.get_threshold())
        sys.setswitchinterval(min(_saved.switch_interval, SWITCH_INTERVAL_S))
        young, *older = _saved.thresholds
        gc.collect()
        gc.freeze()
        gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), *older)


def give_back() -> None:
    """Ingest stops: the last one puts the interpreter back as it found it."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders or _saved is None:
            return
        sys.setswitchinterval(_saved.switch_interval)
        gc.set_threshold(*_saved.thresholds)
        gc.unfreeze()  # the frozen heap goes back to the oldest generation
        _saved = None
