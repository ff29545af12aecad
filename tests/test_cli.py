"""The ``atelier`` command as a person types it: help, checks with exact messages and exit codes, admin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.tls_certs import make_tls_files

AGENT = '[agent]\nid = "pc"\nsite = "lyon"\n'
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def atelier(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atelier", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        input=stdin,
    )


def test_help_lists_every_command() -> None:
    result = atelier("--help")
    assert result.returncode == 0
    for command in ("edge", "gateway", "demo", "bus", "install"):
        assert command in result.stdout


@pytest.mark.slow  # atelier processes
def test_shipped_examples_pass_their_checks(tmp_path: Path) -> None:
    edge = (EXAMPLES / "edge.toml").read_text().replace("/var/lib/atelier/edge", str(tmp_path / "edge"))
    # The example points at a CA file that exists on a configured PC; here, at a real temporary one.
    make_tls_files(tmp_path / "tls").ca_file.rename(tmp_path / "ca.pem")
    (tmp_path / "edge.toml").write_text(edge.replace("/etc/atelier/ca.pem", str(tmp_path / "ca.pem")))
    result = atelier("edge", "check", "-c", tmp_path / "edge.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    gateway = (EXAMPLES / "gateway.toml").read_text().replace("/etc/atelier/ca.pem", str(tmp_path / "ca.pem"))
    (tmp_path / "gateway.toml").write_text(gateway)
    result = atelier("gateway", "check", "-c", tmp_path / "gateway.toml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("daemon", "text", "expected"),
    [
        ("edge", '[agent]\nid = "PC 1"\nsite = "lyon"\n[[machines]]\nid = "m"\ndriver = "simulator"\n', "agent.id"),
        (
            "edge",
            '[agent]\nid = "pc"\nsite = "lyon"\n[[machines]]\nid = "m"\ndriver = "simulator"\nspeed = 3\n',
            "machines.0.speed: unknown key",
        ),
        ("edge", '[agent]\nid = "pc"\nsite = "lyon"\n[[machines]]\nid = "m"\ndriver = "laser"\n', "laser"),
        (
            "edge",
            AGENT + '[[machines]]\nid = "m"\ndriver = "serial"\nprofile = "no-such-profile"\n',
            "no-such-profile",
        ),
        (
            "edge",
            AGENT + '[broker]\nport = "eighty"\n[[machines]]\nid = "m"\ndriver = "simulator"\n',
            "broker.port",
        ),
        ("edge", "[agent\n", "not valid TOML"),
        ("gateway", '[gateway]\nid = "gw"\n[database]\nurl = "mysql://x"\n', "database.url"),
        ("gateway", '[gateway]\nid = "gw"\n[http]\nport = 0\n', "http.port"),
        ("gateway", '[gateway]\nid = "gw"\n[records]\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
    ],
)
@pytest.mark.slow  # one atelier process per case
def test_bad_configuration_names_file_and_key(tmp_path: Path, daemon: str, text: str, expected: str) -> None:
    path = tmp_path / f"{daemon}.toml"
    path.write_text(text)
    result = atelier(daemon, "check", "-c", path)
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert str(path) in output
    assert expected in output
    assert "Traceback" not in output


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    result = atelier("edge", "check", "-c", tmp_path / "nowhere.toml")
    assert result.returncode == 2
    assert "file not found" in result.stdout + result.stderr


@pytest.mark.slow  # atelier processes
def test_create_admin_then_backup(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nid = "gw"\n[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    result = atelier(
        "gateway", "create-admin", "maitre", "--password-stdin", "-c", config, stdin="un-mot-de-passe-long\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "db.sqlite").stat().st_mode & 0o777 == 0o600
    result = atelier("gateway", "backup", tmp_path / "copy.sqlite", "-c", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "copy.sqlite").stat().st_size > 0
    assert (tmp_path / "copy.sqlite").stat().st_mode & 0o777 == 0o600
    # The password went through standard input: it works, and no option could have shown it to ps.
    assert "--password " not in atelier("gateway", "create-admin", "--help").stdout
