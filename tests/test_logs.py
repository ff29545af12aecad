"""The one log format both daemons and the command line write (plumbing/logs.py)."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plumbing import logs


def _record(level: int, message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("edge_agent.x", level, __file__, 1, message, args, None)


def test_a_line_is_key_value_and_stays_one_line_with_a_traceback() -> None:
    err = ValueError("bad\nthing")
    record = _record(logging.ERROR, "failed: %s", err)
    record.exc_info = (type(err), err, None)
    line = logs.KeyValueFormatter().format(record)
    assert "\n" not in line
    assert line.startswith("ts=")
    assert line[3:27].endswith("Z"), "UTC with milliseconds"
    assert " level=error logger=edge_agent.x " in line
    message, exc = line.split(" msg=", 1)[1].split(" exc=")
    assert json.loads(message) == "failed: bad\nthing"
    assert "ValueError: bad\nthing" in json.loads(exc)


def test_french_stays_readable() -> None:
    line = logs.KeyValueFormatter().format(_record(logging.INFO, "élève %s", "Léa"))
    assert 'msg="élève Léa"' in line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = logging.getLogger("noisy.library").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("noisy.library").setLevel(quiet)


@pytest.mark.usefixtures("restore_logging")
def test_setup_sends_every_record_through_one_handler_and_quiets_the_noisy() -> None:
    out = io.StringIO()
    logs.setup(logging.INFO, out, quiet=["noisy.library"])
    logging.getLogger("gateway.x").info("kept")
    logging.getLogger("noisy.library").info("dropped")
    logging.getLogger("noisy.library").warning("a warning is kept")
    lines = out.getvalue().splitlines()
    assert [json.loads(line.split(" msg=", 1)[1]) for line in lines] == ["kept", "a warning is kept"]
    assert all(line.startswith("ts=") for line in lines), "a StringIO is no journal: no priority prefix"


@pytest.mark.usefixtures("restore_logging")
def test_under_systemd_each_line_carries_its_priority_for_journald(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "journal").open("w") as stream:
        found = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
        logs.setup(logging.DEBUG, stream)
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
            logging.getLogger("edge_agent.x").log(level, "m")
    prefixes = [line.split("ts=")[0] for line in (tmp_path / "journal").read_text().splitlines()]
    assert prefixes == ["<7>", "<6>", "<4>", "<3>", "<2>"]


def test_another_file_is_not_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (tmp_path / "journal").open("w") as journal, (tmp_path / "other").open("w") as other:
        found = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
        assert logs.to_journal(journal)
        assert not logs.to_journal(other)
    monkeypatch.delenv("JOURNAL_STREAM")
    assert not logs.to_journal(io.StringIO())
