"""Whether the pages meet issue 18's targets, from the figures ``python -m bench pages`` measured.

The issue: every page p95 < 300 ms with three years of one school; the network page p95 < 1 s with a year of
35 schools; no page growing faster than linearly with the rows it shows; the ratio to the bare query printed
for each. Pure functions over the figures (no store, no app), so that a saved run can be judged again:
``python -m bench.targets results.json`` (``BENCH_PAGES_JSON`` makes ``bench pages`` write one).

- **Target**: judged on the warm wall p95 (the requests of a gateway that is running; the cold ones, the first
  after a start, are printed apart). A shared machine blurs wall times: beside it the warm CPU p95, and a page
  that misses on the wall but not on CPU is said to be the load's, with the load average of its run.
- **Growth**: each page's warm CPU p50 (the steadier figure on a shared machine) against the rows that page
  shows (a student's sessions and cycles, the orders of the CSV, a week's constant window...), from one size
  to the next: (time ratio) / (rows ratio); above ``SUPER_LINEAR`` between the two largest sizes (1 year and
  3 years) the page is flagged as growing faster than linearly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_MS = 300.0
NETWORK_TARGET_MS = 1000.0
SUPER_LINEAR = 1.5  # time ratio over rows ratio: more than this between two sizes is faster than linear
TARGET_YEARS = 3.0  # the target holds with three years of history


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank, as ``bench.common.percentile``; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


@dataclass(frozen=True)
class PageRun:
    """One page timed at one size of history (milliseconds)."""

    cold_ms: list[float]
    warm_ms: list[float]
    cpu_ms: list[float]  # warm requests' CPU time in the process
    bare_ms: list[float]  # the bare SQL reading the same rows
    status: int
    shows: int | None = None  # the rows the page shows (``shows_what``), None: not counted
    shows_what: str = ""

    @property
    def warm_p50(self) -> float:
        return percentile(self.warm_ms, 50)

    @property
    def warm_p95(self) -> float:
        return percentile(self.warm_ms, 95)

    @property
    def cpu_p50(self) -> float:
        return percentile(self.cpu_ms, 50)

    @property
    def cpu_p95(self) -> float:
        return percentile(self.cpu_ms, 95)


@dataclass(frozen=True)
class SizeRun:
    label: str
    years: float
    load: str  # the load average while it ran
    rows: dict[str, int]
    pages: dict[str, PageRun] = field(default_factory=dict)
    load_1m: float = 0.0  # the one-minute load average after the run, and the cores: is the machine shared?
    cores: int = 0

    @property
    def loaded(self) -> bool:
        return self.cores > 0 and self.load_1m > self.cores


def verdict(p95_ms: float, target_ms: float = TARGET_MS) -> str:
    """``ok`` under the target, ``MISSED`` at or over it (or not measured)."""
    return "ok" if p95_ms < target_ms else "MISSED"


def ratio_to_bare(warm_p50_ms: float, bare_ms: float) -> float:
    """How many times the bare query's time the page takes; NaN when the bare query took no measurable time."""
    return warm_p50_ms / bare_ms if bare_ms > 0 else float("nan")


def growth(times: Sequence[float], rows: Sequence[int | None]) -> list[float | None]:
    """Per step from one size to the next: (time ratio) / (rows ratio); 1 is linear, below sub-linear (a fixed
    cost shared by more rows), above faster than linear. None where a ratio has no meaning (no rows, no time)."""
    steps: list[float | None] = []
    for i in range(1, len(times)):
        t0, t1, r0, r1 = times[i - 1], times[i], rows[i - 1], rows[i]
        if r0 is None or r1 is None or r0 <= 0 or r1 <= 0 or not t0 > 0 or not t1 >= 0:
            steps.append(None)
        else:
            steps.append((t1 / t0) / (r1 / r0))
    return steps


def super_linear(step: float | None) -> bool:
    return step is not None and step > SUPER_LINEAR


def page_line(name: str, run: PageRun) -> str:
    """One page at one size: cold and warm wall, CPU, the bare query and the ratio, and the target's verdict."""
    bare = percentile(run.bare_ms, 50)
    shown = "" if run.shows is None else f" | shows {run.shows:,} ({run.shows_what})"
    return (
        f"  {name:44} cold p50 {percentile(run.cold_ms, 50):8.1f} p95 {percentile(run.cold_ms, 95):8.1f} | "
        f"warm p50 {run.warm_p50:8.1f} p95 {run.warm_p95:8.1f} ms (n={len(run.warm_ms)}) | "
        f"warm CPU p50 {run.cpu_p50:8.1f} p95 {run.cpu_p95:8.1f} | bare SQL {bare:7.1f} ms | "
        f"ratio to bare {ratio_to_bare(run.warm_p50, bare):7.1f} | HTTP {run.status} | "
        f"p95 {run.warm_p95:.0f} ms vs {TARGET_MS:.0f}: {verdict(run.warm_p95)}{shown}"
    )


def growth_lines(sizes: Sequence[SizeRun]) -> list[str]:
    """The growth table: warm CPU p50 and rows shown at each size, each step's (time ratio)/(rows ratio), and
    a flag where the last step (the two largest sizes) grows faster than linearly."""
    if len(sizes) < 2:
        return []
    lines = [
        f"\ngrowth: warm CPU p50 (ms) / rows the page shows, at {' → '.join(s.label.split(',')[0] for s in sizes)}; "
        f"each step (time ratio)/(rows ratio): 1 linear, > {SUPER_LINEAR} flagged"
    ]
    for name in _common_pages(sizes):
        runs = [s.pages[name] for s in sizes]
        steps = growth([r.cpu_p50 for r in runs], [r.shows for r in runs])
        cells = "".join(f"{r.cpu_p50:9.1f} / {_count(r.shows):>9}" for r in runs)
        ratios = "  ".join("  n/a" if s is None else f"{s:5.2f}" for s in steps)
        flag = "FASTER THAN LINEAR" if super_linear(steps[-1]) else "ok"
        lines.append(f"  {name:44}{cells}   {ratios}   {flag}   ({runs[-1].shows_what})")
    return lines


def summary_lines(sizes: Sequence[SizeRun], network: dict[str, Any] | None = None) -> list[str]:
    """Which pages miss the targets, at the largest size run, with the load average of that run."""
    if not sizes:
        return []
    largest = max(sizes, key=lambda s: s.years)
    lines = [f"\ntargets, at {largest.label} ({largest.load}):"]
    if largest.years < TARGET_YEARS:
        lines.append(f"  (the target holds at {TARGET_YEARS:g} years; this run's largest: {largest.years:g})")
    missed = {name: run for name, run in largest.pages.items() if verdict(run.warm_p95) != "ok"}
    if not missed:
        lines.append(f"  every page p95 < {TARGET_MS:.0f} ms: ok ({len(largest.pages)} pages)")
    for name, run in missed.items():
        why = "the load's: CPU p95 under the target" if verdict(run.cpu_p95) == "ok" else "its own: CPU p95 over it"
        lines.append(f"  MISSED {name}: warm p95 {run.warm_p95:,.0f} ms, CPU p95 {run.cpu_p95:,.0f} ms ({why})")
    if any(s.loaded for s in sizes):
        lines.append(
            "  the machine was loaded (load average above its cores): wall p95s are the load's as much as the "
            "pages', CPU times are inflated too (shared caches and cores), and a growth flag near "
            f"{SUPER_LINEAR} may be the load rising between sizes: rerun on a quiet machine before trusting them"
        )
    faster = []
    if len(sizes) >= 2:
        ordered = sorted(sizes, key=lambda s: s.years)
        for name in _common_pages(ordered):
            runs = [s.pages[name] for s in ordered[-2:]]
            step = growth([r.cpu_p50 for r in runs], [r.shows for r in runs])[0]
            if super_linear(step):
                faster.append(f"{name} ({step:.2f})")
    lines.append(
        "  growth faster than linear in the rows shown (last step): " + (", ".join(faster) if faster else "none")
    )
    if network is None:
        lines.append(
            "  a year of 35 schools (target p95 < 1 s): not run here (BENCH_PAGES_PG_SITES=35 for the per-site "
            "aggregate; the network page: python -m bench network_page)"
        )
    else:
        p95 = float(network["p95_ms"])
        lines.append(
            f"  a year of schools ({network['label']}): p95 {p95:,.0f} ms vs {NETWORK_TARGET_MS:.0f}: "
            f"{verdict(p95, NETWORK_TARGET_MS)} ({network.get('load', '')})"
        )
    return lines


def _common_pages(sizes: Sequence[SizeRun]) -> list[str]:
    first = sizes[0].pages
    return [name for name in first if all(name in s.pages for s in sizes)]


def _count(rows: int | None) -> str:
    return "?" if rows is None else f"{rows:,}"


# --- saved runs --------------------------------------------------------------


def to_json(sizes: Sequence[SizeRun], network: dict[str, Any] | None) -> str:
    return json.dumps(
        {
            "sizes": [
                {
                    "label": s.label,
                    "years": s.years,
                    "load": s.load,
                    "rows": s.rows,
                    "pages": {name: vars(run) for name, run in s.pages.items()},
                    "load_1m": s.load_1m,
                    "cores": s.cores,
                }
                for s in sizes
            ],
            "network": network,
        },
        indent=1,
    )


def from_json(text: str) -> tuple[list[SizeRun], dict[str, Any] | None]:
    data = json.loads(text)
    sizes = [
        SizeRun(
            label=s["label"],
            years=float(s["years"]),
            load=s.get("load", ""),
            rows=dict(s.get("rows", {})),
            pages={name: PageRun(**run) for name, run in s["pages"].items()},
            load_1m=float(s.get("load_1m", 0.0)),
            cores=int(s.get("cores", 0)),
        )
        for s in data["sizes"]
    ]
    return sizes, data.get("network")


def report(sizes: Sequence[SizeRun], network: dict[str, Any] | None) -> list[str]:
    """What ``bench pages`` prints after its runs: each size's page lines, the growth table, the summary."""
    lines: list[str] = []
    for size in sizes:
        lines.append(f"\n{size.label} ({size.load})")
        lines += [page_line(name, run) for name, run in size.pages.items()]
    return lines + growth_lines(sizes) + summary_lines(sizes, network)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.targets RESULTS.json (written by BENCH_PAGES_JSON=... python -m bench pages)")
        return 2
    sizes, network = from_json(Path(argv[0]).read_text())
    print("\n".join(report(sizes, network)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
