"""Secrets stay off command lines and files holding them or students' records are private."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from atelier import bus_security
from gateway.store import db


def test_broker_passwords_never_go_on_a_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real = subprocess.run

    def watched(args: list[str], *rest: Any, **kwargs: Any) -> Any:
        seen.append([str(a) for a in args])
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", watched)
    passwords = {"pc-1": "first-secret-AAA", "gateway": "second-secret-BBB"}
    path = tmp_path / "passwd"
    bus_security.write_password_file(path, passwords)
    assert seen, "mosquitto_passwd was not run"
    for argv in seen:
        for secret in passwords.values():
            assert all(secret not in arg for arg in argv), argv
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert sorted(line.split(":")[0] for line in text.splitlines()) == ["gateway", "pc-1"]
    assert all(line.split(":", 1)[1].startswith("$7$") for line in text.splitlines())  # hashed, PBKDF2-SHA512
    assert "secret" not in text


def test_a_name_that_would_break_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        bus_security.write_password_file(tmp_path / "passwd", {"a:b": "x"})
    assert not (tmp_path / "passwd").exists()


def test_a_new_sqlite_store_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "gateway"
    db.upgrade(f"sqlite:///{folder / 'atelier.db'}")
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in ("atelier.db", "atelier.db-wal", "atelier.db-shm"):
        if (folder / name).exists():
            assert (folder / name).stat().st_mode & 0o777 == 0o600, name
