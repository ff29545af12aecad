"""One log format for both daemons and the command line: one ``key=value`` line per event on stdout.

    ts=2026-12-04T15:20:01.123Z level=warning logger=gateway.ingest.gaps msg="gap in sequence 4..6 from lyon-pc"

Why this shape (logfmt): a field is found with a plain ``grep level=error`` or ``grep logger=edge_agent.publisher``,
the message is one JSON string, so a message or a traceback (``exc="..."``) with newlines stays on its line, and
log tools (Loki, lnav, ``jq -R``) split it without a pattern. ``ts`` is UTC with milliseconds: the journal keeps
its own time, but a line copied out of it still says when.

Under systemd (``JOURNAL_STREAM`` names our stdout) each line also starts with the syslog priority, ``<4>`` for a
warning, which journald takes off and keeps as the entry's priority: ``journalctl -p warning`` then shows only what
needs a look. Anywhere else (a terminal, a test's log file) the line starts with ``ts=``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

# syslog(3) priorities of the logging levels; journald reads them from a "<N>" line prefix.
_PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def _priority(levelno: int) -> int:
    return next((p for level, p in sorted(_PRIORITIES.items(), reverse=True) if levelno >= level), 7)


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg="..." [exc="..."]`` on one line; ``journald`` adds the priority prefix."""

    def __init__(self, *, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        # ensure_ascii=False: French names and messages stay readable in journalctl; JSON still escapes newlines.
        message = json.dumps(record.getMessage(), ensure_ascii=False)
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} msg={message}"
        if record.exc_info and record.exc_info[1] is not None:
            line += f" exc={json.dumps(''.join(traceback.format_exception(record.exc_info[1])), ensure_ascii=False)}"
        return f"<{_priority(record.levelno)}>{line}" if self.journald else line


def to_journal(stream: TextIO) -> bool:
    """True when ``stream`` is the journal connection systemd gave us (systemd.exec(5), ``$JOURNAL_STREAM``)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        found = os.fstat(stream.fileno())
    except (OSError, ValueError):  # no file behind it (a test's StringIO)
        return False
    return f"{found.st_dev}:{found.st_ino}" == f"{device}:{inode}"


def setup(level: int = logging.INFO, stream: TextIO | None = None, quiet: Iterable[str] = ()) -> None:
    """Every record of the process through one handler in this format; ``quiet`` loggers only from WARNING up."""
    out = stream or sys.stdout
    handler = logging.StreamHandler(out)
    handler.setFormatter(KeyValueFormatter(journald=to_journal(out)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
