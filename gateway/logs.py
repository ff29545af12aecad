"""One line per event on stdout (journald keeps the time, but a line read alone still has it)."""

from __future__ import annotations

import logging
import sys
import time


class OneLineFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # typeshed types gmtime without its optional argument

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        # A traceback folded onto the same line keeps "one line per event" true for errors too.
        return super().format(record).replace("\n", " | ")


def setup(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
