"""The desk's people queries on SQLite and PostgreSQL alike: the student search (a typed ``%`` or ``_`` is a
character, not a wildcard), the IT page's agents with their machines and its latest dead letters."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import db, it_repo, students_repo
from gateway.store.models import DeadLetter
from tests.gateway.records.conftest import T0, add_machine, at


def _student(sessions: sessionmaker[Session], first: str, klass: str, badge: str | None) -> None:
    fields = {"first_name": first, "last_initial": "X", "class_name": klass, "track": "CAP", "badge": badge}
    with sessions.begin() as s:
        students_repo.create_student(db=s, who="t", now=T0, fields=fields)


@pytest.mark.parametrize(
    ("class_name", "text", "expected"),
    [
        (None, None, ["Bob", "Li_a", "Ana", "Zoé"]),  # by class, then first name
        ("BP2", None, ["Bob", "Li_a"]),
        (None, "ZO", ["Zoé"]),
        (None, "b-b", ["Bob"]),
        (None, "_", ["Li_a"]),  # not "any character"
        (None, "%", []),  # not "anything"
        ("CAP1", "bob", []),
    ],
)
def test_search_students_by_class_and_text(
    engine: Engine, class_name: str | None, text: str | None, expected: list[str]
) -> None:
    sessions = db.session_factory(engine)
    for first, klass, badge in (
        ("Zoé", "CAP1", "B-Z"),
        ("Ana", "CAP1", None),
        ("Bob", "BP2", "B-B"),
        ("Li_a", "BP2", None),
    ):
        _student(sessions, first, klass, badge)
    with sessions() as s:
        found = students_repo.search_students(db=s, class_name=class_name, text=text)
        assert [x.first_name for x in found] == expected
        assert students_repo.class_names(db=s) == ["BP2", "CAP1"]


def test_agents_with_their_machines_and_the_latest_dead_letters(engine: Engine) -> None:
    sessions = db.session_factory(engine)
    add_machine(sessions, "mill")
    add_machine(sessions, "lathe")
    with sessions.begin() as s:
        for minute in range(3):
            payload = b"\xff\xfe{bad" + bytes([65 + minute]) * 300
            s.add(
                DeadLetter(
                    received_at=at(minute),
                    topic=f"atelier/v1/lyon/mill/event/{minute}",
                    payload=payload,
                    payload_size=len(payload),
                    payload_sha256="0" * 64,
                    reason="not JSON",
                )
            )
    with sessions() as s:
        agents = it_repo.agents(db=s)
        assert [(a.name, a.machines, a.status) for a in agents] == [
            ("pc-lathe", ["lathe"], "online"),
            ("pc-mill", ["mill"], "online"),
        ]
        total, latest = it_repo.dead_letters(db=s, limit=2)
    assert total == 3
    assert [d.topic[-1] for d in latest] == ["2", "1"]  # the newest first
    assert latest[0].preview == "\ufffd\ufffd{bad" + "C" * (it_repo.PREVIEW_BYTES - 6)
    assert latest[0].size == 306
