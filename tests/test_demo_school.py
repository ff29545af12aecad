"""The demo's school is seeded once: a second seeding on the same store adds nothing and shows no password.

The kiosks' tokens are issued once too (kept in the data folder, readable by its owner only), a token that no
longer works is replaced and revoked, and a session left open by a demo stopped without its goodbyes is ended.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from atelier.demo_school import JOBS, MASTER, PUPILS, TOKEN_FILE, kiosk_tokens, seed_school
from gateway import auth
from gateway.store import db, work_repo
from gateway.store.models import (
    ApiToken,
    AuditEntry,
    Authorisation,
    Customer,
    Machine,
    OperationRecord,
    Order,
    Student,
    User,
)
from tests.gateway.records.conftest import add_machine

PARIS = ZoneInfo("Europe/Paris")


def counts(url: str) -> dict[str, int]:
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine).begin() as s:
            return {
                m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
                for m in (User, Student, Customer, Order, ApiToken)
            }
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same argon2id, at a cost sized for a test run instead of for an attacker.
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_the_school_is_seeded_once_and_its_master_can_log_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    first = seed_school(url, zone=PARIS, pace=0.5)
    assert first.password is not None
    assert first.created == {"users": 1, "students": len(PUPILS), "customers": 3, "orders": len(JOBS)}
    after_first = counts(url)
    again = seed_school(url, zone=PARIS)
    assert again.password is None
    assert again.created == {"users": 0, "students": 0, "customers": 0, "orders": 0}
    assert counts(url) == after_first
    assert again.orders == first.orders
    assert again.operations == first.operations
    routed = sorted(first.operations.values())
    assert routed == [((10, ("BRIDE_A12.MPF",)), (20, ("BRIDE_A12.MPF",))), ((10, ("O1042",)), (20, ("enseigne.nc",)))]
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine).begin() as s:
            now = datetime.now(UTC)
            logged = auth.login(db=s, username=MASTER, password=first.password, now=now, hours=1)
            assert logged is not None
            assert logged[1].badge == first.master_badge  # the master approves first parts by badge at a kiosk
            marking = s.scalars(select(OperationRecord).where(OperationRecord.label == "Marquage")).one()
            assert (marking.number, marking.first_part, marking.standard_cycle_s) == (20, True, 7.5)
            standards = sorted(o.standard_cycle_s or 0 for o in s.scalars(select(Order)))
            assert standards == sorted(j.standard_cycle_s * 0.5 for j in JOBS)  # scaled with the pace
    finally:
        engine.dispose()


def test_kiosk_tokens_are_kept_replaced_when_dead_and_forgotten_sessions_ended(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    mill = add_machine(sessions, "mill", site="demo")
    add_machine(sessions, "lathe", site="demo")
    school = seed_school(url, zone=PARIS)
    first = kiosk_tokens(url, data_dir=tmp_path, machines=["mill", "lathe"], site="demo", timeout_s=5)
    kept = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text()) == {m: {"token": t} for m, t in first.items()}
    assert kiosk_tokens(url, data_dir=tmp_path, machines=["mill", "lathe"], site="demo", timeout_s=5) == first
    with sessions() as s:  # every pupil authorised on the demo's machines once, however often the demo starts
        assert s.scalar(select(func.count()).select_from(Authorisation)) == len(PUPILS)
        changes = select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "machine_group")
        assert s.scalar(changes) == 1  # created, never rewritten

    with sessions.begin() as s:  # a master revokes the mill's tablet; a student was left checked in on it
        row = auth.api_token(db=s, token=first["mill"])
        assert row is not None
        auth.revoke_api_token(db=s, who="test", now=datetime.now(UTC), token_id=row.id)
        student = s.scalars(select(Student).where(Student.badge == school.badges[0])).one()
        machine = s.get_one(Machine, mill)
        now = datetime.now(UTC)
        work_repo.check_in(
            db=s, who="test", machine=machine, student_id=student.id, order_id=None, at=now, day=now.date()
        )
    third = kiosk_tokens(url, data_dir=tmp_path, machines=["mill", "lathe"], site="demo", timeout_s=5)
    assert third["lathe"] == first["lathe"]
    assert third["mill"] != first["mill"]
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 3  # one replaced, none doubled
        assert auth.resolve(db=s, token=third["mill"], now=datetime.now(UTC)) is not None
        assert work_repo.open_work_session(db=s, machine=s.get_one(Machine, mill)) is None
    engine.dispose()
