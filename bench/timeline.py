"""Where a batch waits: one gateway drain with ingest's timeline on (``gateway/ingest/timeline.py``), summarised.

``python -m bench.timeline [sqlite|postgresql] [EVENTS]`` drains a backlog into the gateway alone, as the
ingest benchmark does, with ``ATELIER_INGEST_TIMELINE`` set, then prints the median time a batch spent
between each pair of hand-offs and how busy the database thread was.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench import ingest

# (label, from mark, to mark), in a batch's order.
STAGES = (
    ("received in the child → taken by the loop (pipe, inbox)", "received_last", "taken"),
    ("taken → decoding starts (the decoding thread busy)", "taken", "decode_start"),
    ("decoding", "decode_start", "decoded"),
    ("decoded → the loop sees it", "decoded", "loop_has_decoded"),
    ("the loop sees it → the database thread starts", "loop_has_decoded", "write_start"),
    ("writing and committing (database thread)", "write_start", "committed"),
    ("committed → the loop sees it", "committed", "loop_has_commit"),
    ("acknowledgements handed to the receiver", "loop_has_commit", "acks_sent"),
    ("live view, observers", "acks_sent", "done"),
)


def summarise(lines: list[dict[str, float]]) -> str:
    lines = sorted(lines, key=lambda line: line["write_start"])
    out = [f"{len(lines)} batches, median size {statistics.median(line['size'] for line in lines):.0f}"]
    for label, start, end in STAGES:
        spans = [(line[end] - line[start]) * 1000 for line in lines if start in line and end in line]
        if spans:
            out.append(f"  {label:<62} median {statistics.median(spans):7.1f} ms  max {max(spans):7.1f} ms")
    for label, key, start, end in (
        ("decoding thread's CPU", "decode_cpu", "decode_start", "decoded"),
        ("database thread's CPU", "write_cpu", "write_start", "committed"),
    ):
        cpu = sum(line[key] for line in lines)
        wall = sum(line[end] - line[start] for line in lines)
        out.append(f"  {label}: {cpu:.2f} s of {wall:.2f} s ({cpu / wall:.0%}; the rest waits: server, GIL, disk)")
    span = lines[-1]["committed"] - lines[0]["write_start"]
    busy = sum(line["committed"] - line["write_start"] for line in lines)
    idle = [(b["write_start"] - a["committed"]) * 1000 for a, b in itertools.pairwise(lines)]
    events = sum(line["size"] for line in lines)
    out.append(f"  database thread busy {busy / span:.0%} of {span:.2f} s ({events / span:,.0f} events/s);")
    if idle:
        out.append(f"  idle between two batches: median {statistics.median(idle):.1f} ms, max {max(idle):.1f} ms")
    return "\n".join(out)


def main(argv: list[str]) -> None:
    dialect = argv[0] if argv else "postgresql"
    events = int(argv[1]) if len(argv) > 1 else 30_000
    reader = next(r for r in ingest.READERS if r.gateway and r.dialect == dialect)
    with tempfile.TemporaryDirectory(prefix="atelier-timeline-") as tmp:
        path = Path(tmp) / "timeline.jsonl"
        os.environ["ATELIER_INGEST_TIMELINE"] = str(path)
        try:
            rate = ingest.drain_rate(reader, Path(tmp) / "run", events)
        finally:
            del os.environ["ATELIER_INGEST_TIMELINE"]
        lines = [json.loads(line) for line in path.read_text().splitlines()]
    print(f"{reader.name}: {rate:,.0f} events/s over {events:,} events, load {os.getloadavg()[0]:.1f}")
    print(summarise([line for line in lines if line["size"] > 1]))


if __name__ == "__main__":
    main(sys.argv[1:])
