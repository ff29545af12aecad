"""``atelier bus bridge``: the bridge block and the central ACL entry an operator pastes, as the docs show them.

A real school broker bridged with this output is in tests/e2e/test_sites_bridge.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from atelier.bridge import bridge_acl, bridge_block

DOCS = Path(__file__).resolve().parent.parent / "docs"
CENTRAL = ["--central", "central.example.org:8883"]
TLS = ["--cafile", "/etc/atelier/tls/central-ca.pem"]


def atelier(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atelier", "bus", "bridge", *args],
        capture_output=True, text=True, check=False, timeout=60, input=stdin,
    )  # fmt: skip


def _conf_blocks(markdown: str) -> list[str]:
    return re.findall(r"```conf\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_guide_shows_what_the_command_prints() -> None:
    """docs/scaling.md's bridge block and ACL entry are the command's output for lyon, line for line."""
    blocks = _conf_blocks((DOCS / "scaling.md").read_text())
    block = atelier("lyon", *CENTRAL, *TLS, "--part", "block")
    acl = atelier("lyon", *CENTRAL, "--part", "acl")
    assert block.returncode == acl.returncode == 0, block.stderr + acl.stderr
    assert block.stdout in blocks
    assert acl.stdout in blocks
    assert "remote_password <the bridge's password>\n" in block.stdout


def test_both_parts_each_under_where_it_goes() -> None:
    done = atelier("nantes", *CENTRAL, *TLS, "--username", "nantes-link", "--restart-timeout", "2 20")
    assert done.returncode == 0, done.stderr
    school, centre = done.stdout.split("\n\n# --- for the central broker's ACL file")
    assert school.startswith("# --- for nantes's mosquitto.conf")
    assert school.split("\n", 1)[1] + "\n" == bridge_block(
        "nantes", "central.example.org", 8883, restart_timeout="2 20",
        cafile=Path("/etc/atelier/tls/central-ca.pem"), username="nantes-link", password="<the bridge's password>",
    ).lstrip("\n")  # fmt: skip
    assert centre.split("\n", 1)[1] == bridge_acl("nantes", "nantes-link")
    assert "topic write atelier/v1/nantes/#" in centre
    assert "lyon" not in done.stdout


def test_the_password_comes_from_standard_input_only() -> None:
    done = atelier("lyon", *CENTRAL, *TLS, "--password-stdin", "--part", "block", stdin="s3cr#t-é\n")
    assert done.returncode == 0, done.stderr
    assert "remote_username lyon-bridge\nremote_password s3cr#t-é\n" in done.stdout
    assert "--password " not in atelier("--help").stdout


def test_an_anonymous_plain_bridge_has_no_account_and_no_acl() -> None:
    done = atelier("lyon", "--central", "10.0.0.5:1883", "--anonymous")
    assert done.returncode == 0, done.stderr
    assert "remote_username" not in done.stdout
    assert "bridge_cafile" not in done.stdout
    assert "ACL" not in done.stdout
    assert "address 10.0.0.5:1883\n" in done.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["ly on", *CENTRAL], None, "site 'ly on': letters, digits"),
        (["lyon", "--central", "mqtts://central:8883"], None, "--central 'mqtts://central:8883': HOST:PORT"),
        (["lyon", "--central", "central"], None, "--central 'central': HOST:PORT"),
        (["lyon", "--central", "[::1]:8883"], None, "--central '[::1]:8883': HOST:PORT"),
        (["lyon", *CENTRAL, "--restart-timeout", "soon"], None, "--restart-timeout 'soon': one or two"),
        (["lyon", *CENTRAL, "--password-stdin"], "\n", "--password-stdin: the first line"),
        (["lyon", *CENTRAL, "--password-stdin"], "two words\n", "--password-stdin: the first line"),
        (["lyon", *CENTRAL, "--anonymous", "--password-stdin"], "x\n", "an anonymous bridge has no password"),
    ],
)
def test_a_bad_request_exits_2_and_says_why(args: list[str], stdin: str | None, expected: str) -> None:
    done = atelier(*args, stdin=stdin)
    assert done.returncode == 2
    assert expected in done.stderr
    assert not done.stdout
    assert "Traceback" not in done.stderr
