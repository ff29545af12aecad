"""The gateway's TOML configuration: defaults, every problem named, ``check`` and ``main`` exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import app, config
from plumbing import tomlconfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_minimal_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    settings = config.load(write(tmp_path, '[gateway]\nid = "gw-1"\n'))
    assert settings.gateway.site == "+"
    assert settings.client_id == "atelier-gateway-gw-1"
    assert settings.database.url == "sqlite:////var/lib/atelier/gateway/atelier.db"
    assert settings.ingest.session_expiry_s == 7 * 24 * 3600
    assert settings.ingest.shared_group is None
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8000)


def test_full_file(tmp_path: Path) -> None:
    text = """
[gateway]
id = "gw-1"
site = "lyon"
[broker]
host = "mqtt.school"
port = 8883
username = "gw"
password = "secret"
keepalive_s = 20
[broker.tls]
ca_file = "/etc/ssl/ca.pem"
[database]
url = "postgresql+psycopg://atelier@db/atelier"
[ingest]
batch_size = 200
batch_ms = 25
shared_group = "gateways"
gap_timeout_s = 3.5
[http]
host = "0.0.0.0"
port = 8080
"""
    settings = config.load(write(tmp_path, text))
    assert settings.broker.tls is not None
    assert settings.broker.tls.ca_file == Path("/etc/ssl/ca.pem")
    assert settings.ingest.shared_group == "gateways"
    assert settings.database.url.startswith("postgresql+psycopg://")


def test_every_problem_is_named_with_file_key_and_value(tmp_path: Path) -> None:
    text = '[gateway]\nid = "Bad Id"\nsite = "*"\n[ingest]\nbatch_size = 0\nbatchms = 5\n[http]\nport = 99999\n'
    path = write(tmp_path, text)
    with pytest.raises(tomlconfig.ConfigError) as caught:
        config.load(path)
    by_key = {p.key: p for p in caught.value.problems}
    assert set(by_key) == {"gateway.id", "gateway.site", "ingest.batch_size", "ingest.batchms", "http.port"}
    assert all(p.file == str(path) for p in caught.value.problems)
    assert "'Bad Id'" in by_key["gateway.id"].found
    assert "unknown key" in by_key["ingest.batchms"].expected


def test_main_and_check_exit_2_on_a_bad_file_and_print_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[gateway]\nsite = 3\n")
    assert app.main(path) == 2
    err = capsys.readouterr().err
    assert "gateway.id: required key is missing" in err
    assert "gateway.site" in err
    assert app.check(path) == 2
    assert app.check(tmp_path / "missing.toml") == 2
    assert "file not found" in capsys.readouterr().err


def test_check_accepts_a_good_file_and_refuses_missing_tls_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, f'[gateway]\nid = "gw"\n[database]\nurl = "sqlite:///{tmp_path}/g.db"\n')
    assert app.check(good) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, f'[gateway]\nid = "gw"\n[broker.tls]\nca_file = "{tmp_path}/nope.pem"\n')
    assert app.check(bad) == 2
    assert "broker.tls.ca_file: file not found" in capsys.readouterr().err


def test_the_network_section_defaults_off_and_names_its_problems(tmp_path: Path) -> None:
    settings = config.load(write(tmp_path, '[gateway]\nid = "gw-1"\n'))
    assert (settings.network.publish, settings.network.collect) == (False, False)
    assert (settings.network.republish_days, settings.network.min_group_students) == (7, 3)
    network = 'publish = "yes please"\ninterval_s = 1\nrepublish_days = 365\nnames = true\n'
    text = f'[gateway]\nid = "gw-1"\n[network]\n{network}'
    path = write(tmp_path, text)
    with pytest.raises(tomlconfig.ConfigError) as caught:
        config.load(path)
    by_key = {p.key: p for p in caught.value.problems}
    assert set(by_key) == {"network.publish", "network.interval_s", "network.republish_days", "network.names"}
    assert all(p.file == str(path) for p in caught.value.problems)
    assert "5" in by_key["network.interval_s"].expected
    assert "unknown key" in by_key["network.names"].expected


@pytest.mark.parametrize(
    ("value", "sites"),
    [('"+"', ("+",)), ('"lyon"', ("lyon",)), ('["morez", "dole"]', ("morez", "dole")), ('["morez"]', ("morez",))],
)
def test_site_is_one_site_a_list_of_sites_or_every_site(tmp_path: Path, value: str, sites: tuple[str, ...]) -> None:
    settings = config.load(write(tmp_path, f'[gateway]\nid = "gw"\nsite = {value}\n'))
    assert settings.gateway.sites == sites
    assert settings.gateway.hosts("morez") == ("+" in sites or "morez" in sites)
    assert settings.gateway.hosts("lyon") == ("+" in sites or "lyon" in sites)
    assert settings.gateway.only_site == (sites[0] if len(sites) == 1 and sites != ("+",) else None)


@pytest.mark.parametrize("value", ["[]", '["morez", "+"]', '["morez", "morez"]', '["Morez"]', "[3]", '"a/b"', "3"])
def test_a_bad_site_value_is_named_with_file_key_and_what_is_expected(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f'[gateway]\nid = "gw"\nsite = {value}\n')
    assert app.check(path) == 2
    err = capsys.readouterr().err
    assert f"{path}: gateway.site" in err
    assert "a list of site ids" in err
    assert "Traceback" not in err
