"""CPU an event, the figure the load of a shared machine moves least (docs/performance.md, issue 21, third round).

``python -m bench.ingest_cpu drain [sqlite|postgresql] [EVENTS] [--script]``: one reader drains a backlog, as
the ingest benchmark does (``bench.ingest.drain_rate``), and each process's CPU (utime + stime from ``/proc``,
every thread) over the drain is divided by the events stored: the gateway's own process and its receiver,
or with ``--script`` the hand-written script's single process.

``python -m bench.ingest_cpu projector [EVENTS] [--profile]``: the projector alone (``Projector.apply_decoded``)
on the benchmark's stream, decoded beforehand, batches of 2,000 into a SQLite file, in a process holding the
gateway's modules, with the interpreter set as ingest sets it (``gateway.ingest.interpreter``); the thread's
CPU an event, or a cProfile of it.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import ingest
from bench.common import broker, event_stream
from harness import wait_until

BATCH = 2000


def _cpu_s(pid: int) -> float:
    """CPU seconds of every thread of ``pid`` so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return found


def drain(dialect: str, events: int, *, script: bool) -> None:
    reader = next(r for r in ingest.READERS if r.gateway != script and r.dialect == dialect)
    with tempfile.TemporaryDirectory(prefix="atelier-cpu-") as tmp:
        root = Path(tmp)
        with broker(root / "broker") as b, reader.store(root) as store:
            reader.prime(root, b, store)
            ingest._backlog(b, events)
            process = reader.start(root, b, store)
            try:
                wait_until(lambda: store.count(reader.table) > 0, 120, f"{reader.name}: the first rows")
                # The gateway's children: its receiver, and multiprocessing's resource tracker (next to no CPU).
                pids = {"own process": process.pid, **{f"child {c}": c for c in _children(process.pid)}}
                before = {name: _cpu_s(pid) for name, pid in pids.items()}
                started, first = time.monotonic(), store.count(reader.table)
                wait_until(lambda: store.count(reader.table) >= events, 900, f"{reader.name}: all", poll_s=0.02)
                elapsed, stored = time.monotonic() - started, events - first
                after = {name: _cpu_s(pid) for name, pid in pids.items()}
            finally:
                process.stop()
    print(f"{reader.name}: {stored / elapsed:,.0f} events/s, load {os.getloadavg()[0]:.1f}")
    for name in pids:
        per_event = (after[name] - before[name]) / stored * 1e6
        if per_event >= 0.5:
            print(f"  {name}: {per_event:.1f} µs of CPU an event")


def projector(events: int, *, profile: bool) -> None:
    import gateway.__main__  # noqa: F401 - the gateway process's modules: the heap the collector walks
    from gateway.ingest import interpreter
    from gateway.ingest.decoding import decode_all
    from gateway.ingest.gaps import Gaps, GapTracker
    from gateway.ingest.messages import Received
    from gateway.ingest.projection import Projector
    from gateway.store import db

    with tempfile.TemporaryDirectory(prefix="atelier-cpu-") as tmp:
        url = f"sqlite:///{tmp}/gateway.db"
        db.upgrade(url)
        engine = db.make_engine(url)
        apply = Projector(db.session_factory(engine))
        apply.load()
        now = datetime.now(UTC)
        stream = event_stream(ingest.AGENTS, ingest.MACHINES_PER_AGENT, events)
        items = [Received(topic, payload, n, 1, False, 1, now) for n, (topic, payload) in enumerate(stream)]
        gaps = Gaps(GapTracker(timeout_s=10.0), time.monotonic)
        births = ingest.AGENTS
        apply.apply(items[:births], gaps=gaps)
        batches = [decode_all(items[n : n + BATCH]) for n in range(births, len(items), BATCH)]
        interpreter.take()
        try:
            profiler = cProfile.Profile() if profile else None
            cpu = time.thread_time()
            if profiler is not None:
                profiler.enable()
            for batch in batches:
                apply.apply_decoded(batch, gaps=gaps)
            if profiler is not None:
                profiler.disable()
            cpu = time.thread_time() - cpu
        finally:
            interpreter.give_back()
            engine.dispose()
    print(f"projector alone: {cpu / events * 1e6:.1f} µs of CPU an event over {events:,} events")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str]) -> None:
    flags = {a for a in argv if a.startswith("--")}
    args = [a for a in argv if not a.startswith("--")]
    match args:
        case ["drain", *rest]:
            dialect = rest[0] if rest else "sqlite"
            drain(dialect, int(rest[1]) if len(rest) > 1 else 30_000, script="--script" in flags)
        case ["projector", *rest]:
            projector(int(rest[0]) if rest else 20_000, profile="--profile" in flags)
        case _:
            print(__doc__, file=sys.stderr)
            sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
