"""Moving a machine to another agent: the admin API and ``atelier gateway move-machine``, both audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from atelier import cli
from gateway.store.models import Agent, AuditEntry, Machine
from tests.gateway.records.conftest import World


def _owner(sessions: sessionmaker[Session], name: str) -> str:
    with sessions() as session:
        machine = session.scalars(select(Machine).where(Machine.name == name)).one()
        return session.get_one(Agent, machine.agent_id).name


def _moves(sessions: sessionmaker[Session]) -> list[tuple[str, object, object]]:
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "move").order_by(AuditEntry.id))
        return [(e.who, e.before, e.after) for e in entries]


async def test_a_master_moves_a_machine_through_the_api(world: World) -> None:
    moved = await world.ok("POST", "/api/machines/lyon/lathe/move", json={"agent": "pc-spare"})
    assert moved == {
        "site": "lyon",
        "machine": "lathe",
        "previous_agent": "pc-lathe",
        "agent": "pc-spare",
        "agent_known": False,
    }
    assert _owner(world.sessions, "lathe") == "pc-spare"
    assert _moves(world.sessions) == [
        (
            "master",
            {"site": "lyon", "machine": "lathe", "agent": "pc-lathe"},
            {"site": "lyon", "machine": "lathe", "agent": "pc-spare"},
        )
    ]
    back = await world.ok("POST", "/api/machines/lyon/lathe/move", json={"agent": "pc-lathe"})
    assert back["agent_known"] is True


@pytest.mark.parametrize(
    "case",
    [
        ("/api/machines/lyon/nope/move", {"agent": "pc-2"}, 404, "machine_unknown"),
        ("/api/machines/lyon/lathe/move", {"agent": "pc-lathe"}, 409, "machine_owned_already"),
        ("/api/machines/lyon/lathe/move", {"agent": "Not An Id"}, 422, "pattern"),
        ("/api/machines/lyon/lathe/move", {"agent": "pc-2", "force": True}, 422, "extra"),
        ("/api/machines/Lyon!/lathe/move", {"agent": "pc-2"}, 422, "pattern"),
    ],
    ids=["unknown-machine", "same-agent", "bad-agent", "extra-field", "bad-site"],
)
async def test_a_move_that_cannot_be_is_refused_with_why(
    world: World, case: tuple[str, dict[str, object], int, str]
) -> None:
    path, body, status, detail = case
    response = await world.call("POST", path, json=body)
    assert response.status_code == status, response.text
    assert detail in response.text
    assert _owner(world.sessions, "lathe") == "pc-lathe"
    assert _moves(world.sessions) == []


def test_the_cli_moves_a_machine(
    world: World,
    databases: dict[str, str],
    backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nid = "test"\n\n[database]\nurl = "{databases[backend]}"\n')
    assert cli.main(["gateway", "move-machine", "-c", str(config), "mill", "pc-lathe"]) == 1
    assert "give the machine's site with --site" in capsys.readouterr().err
    assert cli.main(["gateway", "move-machine", "-c", str(config), "--site", "lyon", "mill", "pc-lathe"]) == 0
    out = capsys.readouterr().out
    assert "machine 'mill' of site 'lyon' moved from agent 'pc-mill' to 'pc-lathe'" in out
    assert _owner(world.sessions, "mill") == "pc-lathe"
    [(who, before, after)] = _moves(world.sessions)
    assert who.startswith("atelier gateway move-machine (")
    assert (before, after) == (
        {"site": "lyon", "machine": "mill", "agent": "pc-mill"},
        {"site": "lyon", "machine": "mill", "agent": "pc-lathe"},
    )
    assert cli.main(["gateway", "move-machine", "-c", str(config), "--site", "lyon", "ghost", "pc-lathe"]) == 1
    assert "Machine lyon/ghost is unknown" in capsys.readouterr().err
