"""The ``[records]`` section is part of the gateway's one settings model: same checks, same messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway import config
from plumbing import tomlconfig


def test_a_bad_records_section_names_the_file_the_key_and_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\nid = "gw"\n[records]\nlogin_hours = 0\nretention_dayz = 3\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(tomlconfig.ConfigError) as caught:
        config.load(path)
    problems = "\n".join(str(problem) for problem in caught.value.problems)
    assert f"{path}: records.login_hours: expected input should be greater than 0 (found 0)" in problems
    assert f"{path}: records.retention_dayz: unknown key" in problems
    assert f"{path}: records.timezone: expected value error, unknown time zone 'Mars/Olympus'" in problems


def test_the_records_section_keeps_its_keys_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\nid = "gw"\n[records]\nretention_days = 10\ntimezone = "America/Cayenne"\n')
    records = config.load(path).records
    now = datetime(2026, 1, 20, tzinfo=UTC)
    assert records.retention_cutoff(now) == now - timedelta(days=10)
    assert records.zone().key == "America/Cayenne"
    assert config.RecordsSection(retention_days=None).retention_cutoff(now) is None
    assert config.RecordsSection().timezone == config.SCHOOL_ZONE == "Europe/Paris"
