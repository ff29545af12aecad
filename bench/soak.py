"""Soak: the whole chain for a long time (an hour by default) with faults injected at random.

``python -m bench soak [SECONDS] [MACHINES]``. Not part of CI. Every few
seconds one fault: the broker SIGKILLed and restarted, the gateway SIGKILLed
and restarted, or the agent SIGKILLed and restarted. Every 30 s it prints the
lost / doubled counters against the simulators' records (a cycle not yet in
the gateway counts as pending until the end) and each daemon's RSS, so growth
shows. At the end the faults stop, the chain settles and the final counters
decide the exit code.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atelier.broker import Broker
from bench.common import rss_mb, workdir
from harness import Chain, Daemon, sim_options


def _key(machine: str, started: Any) -> tuple[str, datetime]:
    ts = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    return machine, (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def counters(chain: Chain, before: datetime | None = None) -> dict[str, int]:
    """Cycles made (started before ``before``, if given) against cycles stored."""
    made = {_key(r["machine"], r["started"]) for r in chain.records()}
    stored = Counter(_key(row[0], row[2]) for row in chain.cycles())
    due = {k for k in made if before is None or k[1] < before}
    return {
        "made": len(made),
        "stored": len(stored),
        "missing": len(due - set(stored)),
        "doubled": sum(n - 1 for n in stored.values() if n > 1),
        "unrecorded": len(set(stored) - made),  # stored just before an agent SIGKILL, before the record line
    }


def _rss(daemon: Daemon | None) -> float:
    if daemon is None or daemon.process is None or daemon.process.poll() is not None:
        return 0.0
    return rss_mb(daemon.process.pid)


def inject(chain: Chain, rng: random.Random) -> str:
    fault = rng.choice(["broker", "gateway", "agent"])
    if fault == "broker":
        chain.broker.kill()
        time.sleep(rng.uniform(0.1, 3.0))
        chain.broker.start()
    elif fault == "gateway" and chain.gateway is not None:
        chain.gateway.kill()
        time.sleep(rng.uniform(0.1, 3.0))
        chain.start_gateway()
    elif chain.agent is not None:
        chain.agent.kill()
        time.sleep(rng.uniform(0.1, 1.0))
        chain.start_agent()
    return fault


def soak(root: Path, seconds: float, machines: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    b = Broker(data_dir=root / "broker")
    b.start()
    chain = Chain(root=root, broker=b, telemetry_interval_s=1.0)
    for i in range(machines):
        chain.add_machine(f"m{i:03d}", sim_options(i + 1, cycles=10**9, cycle_s=1.0, idle_s=0.3))
    faults: Counter[str] = Counter()
    try:
        chain.start()
        started = time.monotonic()
        next_fault, next_report = started + rng.uniform(5, 20), started
        while (now := time.monotonic()) - started < seconds:
            if now >= next_fault:
                faults[inject(chain, rng)] += 1
                next_fault = time.monotonic() + rng.uniform(5, 20)
            if now >= next_report:
                c = counters(chain)
                print(
                    f"t={now - started:6.0f}s made={c['made']} stored={c['stored']} pending={c['missing']} "
                    f"doubled={c['doubled']} agent_rss={_rss(chain.agent):.1f}MiB "
                    f"gateway_rss={_rss(chain.gateway):.1f}MiB broker_restarts={faults['broker']} "
                    f"gateway_kills={faults['gateway']} agent_kills={faults['agent']}",
                    flush=True,
                )
                next_report = now + 30
            time.sleep(0.2)
        return settle(chain)
    finally:
        chain.stop()
        b.stop()


def settle(chain: Chain, timeout_s: float = 120) -> dict[str, int]:
    """No more faults: every cycle started until now must reach the store (the agent stays up for replays)."""
    cutoff = datetime.now(UTC)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and counters(chain, cutoff)["missing"]:
        time.sleep(1.0)
    final = counters(chain, cutoff)
    print(
        f"final: made={final['made']} stored={final['stored']} lost={final['missing']} "
        f"doubled={final['doubled']} unrecorded={final['unrecorded']}",
        flush=True,
    )
    return final


def run(argv: list[str] | None = None) -> dict[str, int]:
    args = sys.argv[2:] if argv is None else argv
    seconds = float(args[0]) if args else 3600.0
    machines = int(args[1]) if len(args) > 1 else 10
    print(f"== soak: {seconds:.0f} s, {machines} simulated machines, random faults every 5-20 s", flush=True)
    with workdir("soak") as root:
        final = soak(root, seconds, machines)
    if final["missing"] or final["doubled"]:
        raise SystemExit("soak: cycles lost or doubled")
    return final


if __name__ == "__main__":
    run(sys.argv[1:])
