"""``python -m bench`` runs every benchmark; ``python -m bench ingest latency`` runs those named.

``python -m bench soak [SECONDS] [MACHINES]`` runs the soak (an hour by default), never part of the rest.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "ingest",
    "latency",
    "outbox",
    "memory",
    "opcua_latency",
    "serial_poll",
    "sites",
    "logins",
    "pages",
    "network_page",
)


def main(argv: list[str]) -> int:
    if argv[:1] == ["soak"]:
        from bench import soak

        soak.run(argv[1:])
        return 0
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)} or soak", file=sys.stderr
        )
        return 2
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
