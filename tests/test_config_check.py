"""``atelier edge|gateway check`` and ``run`` on broken files: the exact line, exit code 2, no traceback.

Cases already in tests/test_cli.py (bad id, unknown machine key, unknown driver or profile, a port
that is not a number, TOML syntax of the agent's file, a missing agent file) and tests/gateway/test_config.py
(a missing gateway file, a missing certificate file) are not repeated here.
An unreadable file cannot be made with chmod 000: the tests run as root, which reads it anyway. A
directory where a file belongs and a file that is not PEM stand in for it: they fail the same read
that a permission problem fails, and each must be named as precisely.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from atelier.broker import free_port
from tests.tls_certs import make_tls_files

EXIT_CONFIG = 2
MACHINE = '[[machines]]\nid = "m"\ndriver = "simulator"\n'
GATEWAY = '[gateway]\nid = "gw"\n'

# Each case: (id, configuration text with {tmp} for the test folder, expected stderr lines with {path} and {tmp}).
Case = tuple[str, str, list[str]]

EDGE_CASES: list[Case] = [
    ("config-is-a-directory", "", ["{tmp}: is a directory, expected a TOML file"]),
    ("not-utf8", "", ["{path}: not UTF-8 text: invalid start byte at byte 0"]),
    (
        "broker-url-as-host",
        '[broker]\nhost = "mqtt://server:1883"\n',
        [
            '{path}: broker.host: expected a host name or IP address, not a URL: drop "scheme://" '
            "(found 'mqtt://server:1883')"
        ],
    ),
    (
        "broker-host-with-port",
        '[broker]\nhost = "server:1883"\n',
        [
            "{path}: broker.host: expected a host name or IP address without a port (the port has its own key) "
            "(found 'server:1883')"
        ],
    ),
    (
        "metrics-listen-without-host",
        '[agent]\nmetrics_listen = "9101"\n',
        [
            '{path}: agent.metrics_listen: expected host:port with a port from 1 to 65535, such as "127.0.0.1:9101" '
            "(found '9101')"
        ],
    ),
    (
        "tls-ca-missing",
        '[broker.tls]\nca_file = "{tmp}/no-ca.pem"\n',
        ["{path}: broker.tls.ca_file: file not found (found '{tmp}/no-ca.pem')"],
    ),
    (
        "tls-ca-is-a-directory",
        '[broker.tls]\nca_file = "{tmp}"\n',
        ["{path}: broker.tls.ca_file: is a directory, expected a PEM file (found '{tmp}')"],
    ),
    (
        "tls-ca-not-pem",
        '[broker.tls]\nca_file = "{tmp}/not-pem.txt"\n',
        [
            "{path}: broker.tls.ca_file: expected a PEM CA certificate; OpenSSL says: no certificate or crl found "
            "(found '{tmp}/not-pem.txt')"
        ],
    ),
    (
        "tls-cert-not-pem-and-key-alone",
        '[broker.tls]\nca_file = "{tmp}/tls/ca.pem"\ncert_file = "{tmp}/not-pem.txt"\n'
        'key_file = "{tmp}/tls/server.key"\n',
        [
            "{path}: broker.tls.cert_file: expected a PEM certificate (no BEGIN CERTIFICATE line) "
            "(found '{tmp}/not-pem.txt')"
        ],
    ),
    (
        "tls-key-does-not-match",
        '[broker.tls]\ncert_file = "{tmp}/tls/server.pem"\nkey_file = "{tmp}/other.key"\n',
        [
            "{path}: broker.tls.cert_file: expected a certificate and its unencrypted key; OpenSSL says: "
            "key values mismatch (found '{tmp}/tls/server.pem')"
        ],
    ),
]

GATEWAY_CASES: list[Case] = [
    ("toml-syntax", GATEWAY + "port = \n", ["{path}: not valid TOML: Invalid value (at line 3, column 8)"]),
    (
        "wrong-type",
        GATEWAY + '[ingest]\nbatch_size = "many"\n',
        [
            "{path}: ingest.batch_size: expected input should be a valid integer, unable to parse string as an "
            "integer (found 'many')"
        ],
    ),
    (
        "raw-retention-too-short",
        GATEWAY + '[records]\nraw_state_retention_days = 1\nraw_telemetry_retention_days = "week"\n',
        [
            "{path}: records.raw_state_retention_days: expected input should be greater than or equal to 2 (found 1)",
            "{path}: records.raw_telemetry_retention_days: expected input should be a valid integer, unable to "
            "parse string as an integer (found 'week')",
        ],
    ),
    (
        "summary-budget-negative",
        GATEWAY + "[records]\nsummary_budget_s = -1\n",
        ["{path}: records.summary_budget_s: expected input should be greater than or equal to 0 (found -1)"],
    ),
    (
        "unknown-section",
        GATEWAY + "[brokers]\nport = 1883\n",
        ["{path}: brokers: unknown key (check the spelling) (found {'port': 1883})"],
    ),
    (
        "broker-url-as-host",
        GATEWAY + '[broker]\nhost = "mqtts://server"\n',
        [
            '{path}: broker.host: expected a host name or IP address, not a URL: drop "scheme://" '
            "(found 'mqtts://server')"
        ],
    ),
    (
        "tls-ca-is-a-directory-and-cert-not-pem",
        GATEWAY
        + '[broker.tls]\nca_file = "{tmp}"\ncert_file = "{tmp}/not-pem.txt"\nkey_file = "{tmp}/tls/server.key"\n',
        [
            "{path}: broker.tls.ca_file: is a directory, expected a PEM file (found '{tmp}')",
            "{path}: broker.tls.cert_file: expected a PEM certificate (no BEGIN CERTIFICATE line) "
            "(found '{tmp}/not-pem.txt')",
        ],
    ),
]


def atelier(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atelier", *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


def prepare(tmp_path: Path, case_id: str, text: str, header: str) -> Path:
    """Write the case's file (with TLS material beside it); return the path to check."""
    make_tls_files(tmp_path / "tls")
    (tmp_path / "not-pem.txt").write_text("this is not a certificate\n")
    other = make_tls_files(tmp_path / "other")
    other.key_file.rename(tmp_path / "other.key")
    path = tmp_path / "config.toml"
    if case_id == "config-is-a-directory":
        return tmp_path
    if case_id == "not-utf8":
        path.write_bytes(b"\xff" + header.encode())
        return path
    path.write_text(header + text.replace("{tmp}", str(tmp_path)))
    return path


def assert_refused(result: subprocess.CompletedProcess[str], expected: list[str]) -> None:
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert sorted(lines) == sorted(expected), result.stderr


def edge_header(tmp_path: Path) -> str:
    # The keys a case adds to [agent] are spliced in by TOML's dotted-table rule: [agent] comes once, first.
    return f'[agent]\nid = "pc"\nsite = "lyon"\nstate_dir = "{tmp_path / "state"}"\n'


def edge_text(tmp_path: Path, text: str) -> str:
    if text.startswith("[agent]\n"):
        return text.removeprefix("[agent]\n") + MACHINE
    return text + MACHINE


def expand(lines: list[str], path: Path, tmp_path: Path) -> list[str]:
    return [line.replace("{path}", str(path)).replace("{tmp}", str(tmp_path)) for line in lines]


@pytest.mark.slow  # one atelier process per case
@pytest.mark.parametrize(("case_id", "text", "expected"), EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_edge_check_names_file_key_found_and_expected(
    tmp_path: Path, case_id: str, text: str, expected: list[str]
) -> None:
    path = prepare(tmp_path, case_id, edge_text(tmp_path, text), edge_header(tmp_path))
    assert_refused(atelier("edge", "check", "-c", path), expand(expected, path, tmp_path))


@pytest.mark.slow  # one atelier process per case
@pytest.mark.parametrize(("case_id", "text", "expected"), GATEWAY_CASES, ids=[c[0] for c in GATEWAY_CASES])
def test_gateway_check_names_file_key_found_and_expected(
    tmp_path: Path, case_id: str, text: str, expected: list[str]
) -> None:
    path = prepare(tmp_path, case_id, text, "")
    assert_refused(atelier("gateway", "check", "-c", path), expand(expected, path, tmp_path))


@pytest.mark.slow  # one atelier process per case
@pytest.mark.parametrize("daemon", ["edge", "gateway"])
def test_run_refuses_a_bad_certificate_before_starting(tmp_path: Path, daemon: str) -> None:
    """``run`` exits 2 like ``check`` (systemd does not restart on 2): a restart cannot fix the file."""
    (tmp_path / "not-pem.txt").write_text("this is not a certificate\n")
    tls = f'[broker.tls]\nca_file = "{tmp_path}/not-pem.txt"\n'
    if daemon == "edge":
        text = edge_header(tmp_path) + tls + MACHINE
    else:
        text = GATEWAY + f'[database]\nurl = "sqlite:///{tmp_path}/g.db"\n[http]\nport = {free_port()}\n' + tls
    path = tmp_path / "config.toml"
    path.write_text(text)
    expected = (
        f"{path}: broker.tls.ca_file: expected a PEM CA certificate; OpenSSL says: no certificate or crl found "
        f"(found '{tmp_path}/not-pem.txt')"
    )
    assert_refused(atelier(daemon, "run", "-c", path), [expected])
