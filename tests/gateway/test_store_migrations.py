"""Migrations create the schema the models describe, on SQLite and on the local PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from gateway.errors import StoreError
from gateway.ingest.projection import Projector
from gateway.store import db
from gateway.store.models import Agent, Base

TABLES = {"agents", "machines", "messages", "state_changes", "cycles", "part_counts", "alarms", "dead_letters"}


def _table_of(diff: Any) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(getattr(part, "table", None), "name", None)
            if table in TABLES or name in TABLES:
                return str(table or name)
    return None


def assert_schema_matches_models(engine: Engine) -> None:
    head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= TABLES
        # Only the ingest tables are this test's business; later revisions add tables of their own.
        diffs = [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata) if _table_of(d)]
        assert diffs == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head


def test_fresh_sqlite_gets_the_schema_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/dir/gateway.db"  # the folder does not exist yet
    db.upgrade(url)
    db.upgrade(url)  # a second start finds nothing to do
    engine = db.make_engine(url)
    try:
        assert_schema_matches_models(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


def test_timestamps_come_back_aware_utc_and_naive_ones_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gateway.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    paris = timezone(timedelta(hours=1))
    try:
        with db.session_factory(engine).begin() as session:
            session.add(
                Agent(site="s", name="a", status="online", version="", last_seen=datetime(2026, 1, 1, 9, tzinfo=paris))
            )
        with db.session_factory(engine)() as session:
            seen = session.scalars(select(Agent.last_seen)).one()
            assert seen == datetime(2026, 1, 1, 8, tzinfo=UTC)
            assert seen.tzinfo is not None
        with pytest.raises(Exception, match="naive datetime"), db.session_factory(engine).begin() as session:
            session.add(Agent(site="s", name="b", status="online", version="", last_seen=datetime(2026, 1, 1)))
    finally:
        engine.dispose()


def test_fresh_postgresql_gets_the_same_schema(postgres_url: str) -> None:
    db.upgrade(postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        assert_schema_matches_models(engine)
    finally:
        engine.dispose()


def test_a_bad_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="not valid"):
        db.make_engine("not a url")


def test_a_batch_is_projected_on_postgresql_too(postgres_url: str) -> None:
    from tests.gateway.helpers import birth, part, state
    from tests.gateway.test_projection import new_gaps, wire

    db.upgrade(postgres_url)
    engine = db.make_engine(postgres_url)
    try:
        projector = Projector(db.session_factory(engine))
        projector.load()
        batch = [wire(birth()), wire(state(1, part_count=3)), wire(part(2, counter=4)), wire(part(2, counter=4))]
        outcome = projector.apply(batch, gaps=new_gaps())
        assert (outcome.duplicates, outcome.dead_letters) == (1, 0)
        outcome = projector.apply([wire(part(2)), wire(part(3))], gaps=new_gaps())
        assert outcome.duplicates == 1
        with engine.connect() as conn:
            assert conn.execute(text("SELECT seq FROM part_counts ORDER BY seq")).scalars().all() == [2, 3]
            assert conn.execute(text("SELECT part_counter, last_state_ts FROM machines")).one()[0] == 4
            received = conn.execute(text("SELECT received_at FROM messages LIMIT 1")).scalar_one()
            assert received.utcoffset() == timedelta(0)
    finally:
        engine.dispose()


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_64_bit_seqs_and_counters_are_stored(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from tests.gateway.helpers import birth, part, state
    from tests.gateway.test_projection import new_gaps, wire

    url = f"sqlite:///{tmp_path}/gateway.db" if store == "sqlite" else request.getfixturevalue("postgres_url")
    big = 2**35  # past PostgreSQL's INTEGER (2**31 - 1); the test helpers date a message seq seconds after T0
    huge = 2**62
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        projector = Projector(db.session_factory(engine))
        projector.load()
        batch = [wire(birth()), wire(state(big, part_count=huge)), wire(part(big + 1, counter=-huge))]
        outcome = projector.apply(batch, gaps=new_gaps())
        assert (len(outcome.accepted), outcome.dead_letters) == (3, 0)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT seq, counter FROM part_counts")).one() == (big + 1, -huge)
            assert conn.execute(text("SELECT last_state_seq, part_counter FROM machines")).one() == (big, -huge)
            assert conn.execute(text("SELECT max(seq) FROM messages")).scalar_one() == big + 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_0004_bounds_the_dead_letters_already_stored(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import hashlib

    from alembic import command

    url = f"sqlite:///{tmp_path}/gateway.db" if store == "sqlite" else request.getfixturevalue("postgres_url")
    engine = db.make_engine(url)
    config = db.alembic_config()
    whole = bytes(range(256)) * 4096  # 1 MiB, as dead letters could hold before
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
            connection.execute(
                text("INSERT INTO dead_letters (received_at, topic, payload, reason) VALUES (:at, 't', :p, 'r')"),
                {"at": datetime(2026, 11, 25, tzinfo=UTC), "p": whole},
            )
        db.upgrade(url, engine=engine)
        with engine.connect() as connection:
            payload, size, digest = connection.execute(
                text("SELECT payload, payload_size, payload_sha256 FROM dead_letters")
            ).one()
        assert (bytes(payload), size, digest) == (whole[:4096], len(whole), hashlib.sha256(whole).hexdigest())
        assert_schema_matches_models(engine)
    finally:
        engine.dispose()
