"""Admin commands: first admin, CSV imports (all or nothing, line-by-line errors), database backup."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway import admin, auth
from gateway.config import RecordsSection
from gateway.store import db
from gateway.store.models import Customer, Order, Student, User


@pytest.fixture
def config_file(tmp_path: Path, engine: Engine, databases: dict[str, str], backend: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[gateway]\nid = "test"\n\n[database]\nurl = "{databases[backend]}"\n')
    return path


def _rows(engine: Engine, model: type[Any]) -> list[Any]:
    with Session(engine) as session:
        return list(session.scalars(select(model)))


def test_create_admin_then_log_in(config_file: Path, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.create_admin(config_file, "roux", "atelier-2026") == 0
    [user] = _rows(engine, User)
    assert (user.username, user.role) == ("roux", "admin")
    assert user.password_hash.startswith("$argon2id$")
    assert auth.verify_password(user.password_hash, "atelier-2026")
    assert admin.create_admin(config_file, "roux", "another-one") == 1
    assert "Username 'roux' is taken" in capsys.readouterr().err
    assert admin.create_admin(config_file, "dupont", "short") == 1
    assert "at least 8 characters" in capsys.readouterr().err


def test_create_admin_for_named_sites_or_the_gateway_s_own(
    config_file: Path, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin.create_admin(config_file, "roux", "atelier-2026") == 0  # no gateway.site, no machine yet
    assert "give --site SITE" in capsys.readouterr().err
    assert admin.create_admin(config_file, "vidal", "atelier-2026", sites=["lyon", "annecy"]) == 0
    assert "created for lyon, annecy" in capsys.readouterr().out
    assert admin.create_admin(config_file, "petit", "atelier-2026", sites=["Lyon!"]) == 1
    assert "is not a site id" in capsys.readouterr().err
    with Session(engine) as session:
        found = {u.username: auth.user_sites(session, u) for u in session.scalars(select(User))}
    assert found == {"roux": {"school"}, "vidal": {"lyon", "annecy"}}
    config_file.write_text(config_file.read_text().replace('id = "test"', 'id = "test"\nsite = "grenoble"'))
    assert admin.create_admin(config_file, "morel", "atelier-2026") == 0
    assert "created for grenoble" in capsys.readouterr().out


@contextmanager
def _gateway_writing(path: Path, hold_s: float) -> Iterator[None]:
    """Another connection (the running gateway's ingest) holds SQLite's write lock, then commits a change."""
    holding = threading.Event()

    def write() -> None:
        with sqlite3.connect(path, timeout=10, isolation_level=None) as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = "('lyon', 'Ingest', '', '2026-12-03')"
            conn.execute(f"INSERT INTO customers (site, name, contact, created) VALUES {row}")
            holding.set()
            threading.Event().wait(hold_s)
            conn.execute("COMMIT")

    writer = threading.Thread(target=write)
    writer.start()
    holding.wait(10)
    try:
        yield
    finally:
        writer.join()


def test_create_admin_waits_for_the_running_gateway_s_write(tmp_path: Path) -> None:
    """Issue 19's morning: ``create-admin`` while the demo ran failed with "database is locked" and a traceback.

    It read the users, then wrote; the gateway committed in between, and a deferred SQLite transaction whose
    snapshot is stale cannot take the write lock at all. The admin commands now take it first, and wait.
    """
    path = tmp_path / "gateway.sqlite"
    db.upgrade(f"sqlite:///{path}")
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nid = "test"\n\n[database]\nurl = "sqlite:///{path}"\n')
    with _gateway_writing(path, hold_s=1.0):
        assert admin.create_admin(config, "roux", "atelier-2026") == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("roux",)]


def test_a_database_busy_beyond_the_timeout_is_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.sqlite"
    db.upgrade(f"sqlite:///{path}")
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nid = "test"\n\n[database]\nurl = "sqlite:///{path}"\n')
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    with _gateway_writing(path, hold_s=3.0):
        assert admin.create_admin(config, "roux", "atelier-2026") == 1
    err = capsys.readouterr().err
    assert "the database is busy" in err
    assert "Traceback" not in err


def test_a_bad_configuration_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\nsite = "lyon"\n')
    assert admin.create_admin(path, "roux", "atelier-2026") == 2
    assert f"{path}: gateway.id: required key is missing" in capsys.readouterr().err


STUDENTS_OK = (
    "first_name,last_initial,class_name,track,badge\nLéa,M,CAP1,CAP,B-1\nTom,B.,CAP1,CAP,\nInès,K,BP2,BAC_PRO,B-3\n"
)
HEADER = "first_name,last_initial,class_name,track,badge\n"
STUDENTS_BAD = HEADER + "Léa,M,CAP1,CAP,B-1\nTom,B,CAP1,MASTER,B-2\nInès,K,BP2,BAC_PRO,B-1\n"


def test_import_students_all_or_nothing(
    config_file: Path, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(STUDENTS_BAD)
    assert admin.import_students(config_file, bad) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: track:" in err
    assert f"{bad}:4: badge 'B-1' is already on line 2" in err
    assert "nothing imported" in err
    assert _rows(engine, Student) == []
    good = tmp_path / "good.csv"
    good.write_text(STUDENTS_OK)
    assert admin.import_students(config_file, good) == 0
    assert sorted(s.first_name for s in _rows(engine, Student)) == ["Inès", "Léa", "Tom"]
    assert admin.import_students(config_file, good) == 1  # the badges are now taken: nothing doubled
    assert "already given to a student in the database" in capsys.readouterr().err
    assert len(_rows(engine, Student)) == 3


ORDERS_HEADER = "customer,reference,part_number,drawing_revision,quantity,due,standard_cycle_s,programs,status\n"


def test_import_orders_all_or_nothing(
    config_file: Path, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "orders-bad.csv"
    bad.write_text(
        ORDERS_HEADER
        + "Acme,PO-1,BRK-01,B,50,2026-12-15,300,O1000;O1001,open\n"
        + "Acme,PO-2,BRK-02,A,-4,2026-12-15,,,\n"
        + "Bolt SA,PO-9,AX-1,,10,2026-12-15T10:00:00,,,\n"
    )
    assert admin.import_orders(config_file, bad) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: quantity:" in err
    assert f"{bad}:4: due:" in err
    assert (_rows(engine, Order), _rows(engine, Customer)) == ([], [])
    good = tmp_path / "orders.csv"
    good.write_text(
        ORDERS_HEADER + "Acme,PO-1,BRK-01,B,50,2026-12-15,300,O1000;O1001,open\nBolt SA,PO-9,AX-1,,10,,,,\n"
    )
    assert admin.import_orders(config_file, good) == 0
    orders = {o.reference: o for o in _rows(engine, Order)}
    assert orders["PO-1"].programs == ["O1000", "O1001"]
    # A bare date is due by the end of that day, in the reports' time zone (the host's by default).
    assert orders["PO-1"].due == datetime.combine(date(2026, 12, 16), time(), tzinfo=RecordsSection().zone())
    assert sorted(c.name for c in _rows(engine, Customer)) == ["Acme", "Bolt SA"]


def test_a_missing_column_is_reported(
    config_file: Path, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.csv"
    path.write_text("first_name,class_name\nLéa,CAP1\n")
    assert admin.import_students(config_file, path) == 1
    assert "missing column(s) last_initial, track, badge" in capsys.readouterr().err


def test_backup(config_file: Path, engine: Engine, tmp_path: Path, backend: str) -> None:
    assert admin.import_students(config_file, _write(tmp_path / "s.csv", STUDENTS_OK)) == 0
    target = tmp_path / "backup.db"
    assert admin.backup(config_file, target) == 0
    assert target.stat().st_size > 0
    if backend == "sqlite":
        with sqlite3.connect(target) as copy:
            assert copy.execute("select count(*) from students").fetchone() == (3,)
    else:
        assert target.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert admin.backup(config_file, target) == 1  # never overwrites


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
