"""``bench.targets`` (issue 18) judges the page benchmark's figures: each page's p95 against 300 ms, its ratio to
the bare query, its growth against the rows it shows (faster than linear flagged), and a summary of what misses
with the load average. Run as the command a saved run is judged with (``python -m bench.targets FILE``): tests
and bench never import each other.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def page(warm: float, cpu: float, shows: int, *, bare: float = 2.0, what: str = "rows") -> dict[str, Any]:
    """A page timed at one size: every warm sample ``warm`` ms, every CPU sample ``cpu`` ms."""
    return {
        "cold_ms": [warm * 3],
        "warm_ms": [warm] * 5,
        "cpu_ms": [cpu] * 5,
        "bare_ms": [bare] * 3,
        "status": 200,
        "shows": shows,
        "shows_what": what,
    }


def size(years: float, load: str, pages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    one_minute = float(load.split()[2])
    return {
        "label": f"{years:g} year(s), 1 school",
        "years": years,
        "load": load,
        "rows": {},
        "pages": pages,
        "load_1m": one_minute,
        "cores": 2,
    }


def judged(tmp_path: Path, sizes: list[dict[str, Any]]) -> list[str]:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({"sizes": sizes, "network": None}))
    done = subprocess.run(
        [sys.executable, "-m", "bench.targets", str(saved)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def line_of(lines: list[str], start: str, name: str) -> str:
    """The first line after the one starting with ``start`` that names ``name``."""
    begin = next(i for i, line in enumerate(lines) if line.startswith(start))
    return next(line for line in lines[begin:] if name in line)


def test_verdicts_ratios_growth_and_summary(tmp_path: Path) -> None:
    year = size(
        1,
        "load average 1.00 1.00 1.00 on 2 cores",
        {
            "week": page(120, 100, 140, what="machine-days of the week: constant"),
            "log": page(200, 150, 10_000),
            "slow": page(250, 200, 1_000),
            "loaded": page(200, 100, 500),
        },
    )
    three = size(
        3,
        "load average 5.50 5.00 4.00 on 2 cores",
        {
            "week": page(130, 110, 140, what="machine-days of the week: constant"),  # flat: ok
            "log": page(290, 290, 20_000),  # 1.93x the time for 2x the rows: linear, under target
            "slow": page(900, 700, 1_500),  # 3.5x the time for 1.5x the rows: faster than linear, missed
            "loaded": page(450, 110, 600),  # missed on the wall, not on CPU: the load's
        },
    )
    lines = judged(tmp_path, [year, three])
    # Each page line: p95 against 300 ms, and the ratio to the bare query (warm p50 / bare p50).
    assert "p95 290 ms vs 300: ok" in line_of(lines, "3 year(s)", "  log ")
    assert "p95 900 ms vs 300: MISSED" in line_of(lines, "3 year(s)", "  slow ")
    assert "ratio to bare   450.0" in line_of(lines, "3 year(s)", "  slow ")
    assert "p95 250 ms vs 300: ok" in line_of(lines, "1 year(s)", "  slow ")
    # Growth against the rows each page shows, the last step flagged when faster than linear.
    assert line_of(lines, "growth", "  week ").rstrip().endswith("ok   (machine-days of the week: constant)")
    assert "  0.97   ok" in line_of(lines, "growth", "  log ")
    assert "  2.33   FASTER THAN LINEAR" in line_of(lines, "growth", "  slow ")
    # The summary: what misses at the largest size, and why, with that run's load average.
    summary = lines[next(i for i, line in enumerate(lines) if line.startswith("targets")) :]
    assert summary[0] == "targets, at 3 year(s), 1 school (load average 5.50 5.00 4.00 on 2 cores):"
    missed = [line.strip() for line in summary if "MISSED" in line]
    assert missed == [
        "MISSED slow: warm p95 900 ms, CPU p95 700 ms (its own: CPU p95 over it)",
        "MISSED loaded: warm p95 450 ms, CPU p95 110 ms (the load's: CPU p95 under the target)",
    ]
    assert "growth faster than linear in the rows shown (last step): slow (2.33)" in summary[-2]
    assert "the machine was loaded" in summary[-3], "load 5.5 on 2 cores: the figures are said to be blurred"


def test_all_pages_under_target_and_a_short_run(tmp_path: Path) -> None:
    month = size(0.083, "load average 0.50 0.50 0.50 on 2 cores", {"wall": page(5, 4, 20), "log": page(50, 40, 0)})
    lines = judged(tmp_path, [month])
    summary = lines[next(i for i, line in enumerate(lines) if line.startswith("targets")) :]
    assert "  (the target holds at 3 years; this run's largest: 0.083)" in summary
    assert "  every page p95 < 300 ms: ok (2 pages)" in summary
    assert not any(line.startswith("growth") for line in lines), "one size: no growth to show"
    assert not any("the machine was loaded" in line for line in lines), "load 0.5 on 2 cores: quiet"
