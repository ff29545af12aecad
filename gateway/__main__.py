"""``python -m gateway run|check -c FILE``: the same as ``atelier gateway run|check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.app import check, main


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    parser.add_argument("action", choices=("run", "check"))
    parser.add_argument("-c", "--config", type=Path, default=Path("/etc/atelier/gateway.toml"))
    args = parser.parse_args(argv)
    return main(args.config) if args.action == "run" else check(args.config)


if __name__ == "__main__":
    sys.exit(run())
