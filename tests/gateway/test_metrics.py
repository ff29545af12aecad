"""/metrics and /healthz on a running gateway (real broker, SQLite file), and the [influx] configuration checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from atelier.broker import Broker, free_port
from edge_agent import contract as c
from gateway import app, config
from gateway.config import GatewaySection, GatewaySettings
from gateway.live import LiveView
from gateway.store import db
from gateway.web.app import create_app
from gateway.web.services import Services
from plumbing import tomlconfig
from plumbing.prometheus import Exposition, Histogram
from tests.gateway.conftest import RunningGateway
from tests.gateway.helpers import MACHINE, SITE, Publisher, birth, count, part, state, until
from tests.gateway.prometheus_text import Scrape, histogram_is_consistent, parse

COUNTERS = (
    "atelier_gateway_messages_received_total",
    "atelier_gateway_messages_accepted_total",
    "atelier_gateway_messages_duplicate_total",
    "atelier_gateway_dead_letters_total",
    "atelier_gateway_batches_committed_total",
    "atelier_gateway_replay_requests_total",
    "atelier_gateway_mqtt_reconnects_total",
)


async def scrape(gw: RunningGateway) -> Scrape:
    async with httpx.AsyncClient(base_url=gw.base_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


async def healthz(base_url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as client:
        return await client.get("/healthz")


async def test_counters_move_where_messages_and_dead_letters_arrive(
    gateway: RunningGateway, publisher: Publisher
) -> None:
    event = c.machine_topic(SITE, MACHINE, "event")
    publisher.send(birth())
    publisher.send(state(1))
    for seq in (2, 3, 4):
        publisher.send(part(seq))
    publisher.send(part(3))  # a duplicate
    publisher.raw(event, b"{not json")
    await until(lambda: count(gateway.db_path, "dead_letters") == 1 and count(gateway.db_path, "messages") == 4)
    first = await scrape(gateway)
    assert {name: first.types[name] for name in COUNTERS} == dict.fromkeys(COUNTERS, "counter")
    assert first.value("atelier_gateway_messages_received_total") == 7
    assert first.value("atelier_gateway_messages_accepted_total") == 5  # the birth and four sequenced messages
    assert first.value("atelier_gateway_messages_duplicate_total") == 1
    assert first.value("atelier_gateway_dead_letters_total") == 1
    assert first.value("atelier_gateway_dead_letters_stored") == 1
    assert first.value("atelier_gateway_mqtt_connected") == 1
    assert first.value("atelier_gateway_ingest_running") == 1
    assert first.value("atelier_machine_available", site=SITE, machine=MACHINE) == 1
    batches = first.value("atelier_gateway_batches_committed_total")
    assert batches >= 1
    assert first.types["atelier_gateway_batch_commit_seconds"] == "histogram"
    assert first.value("atelier_gateway_batch_commit_seconds_count") == batches
    assert histogram_is_consistent(first, "atelier_gateway_batch_commit_seconds")
    assert not any(name.startswith("atelier_gateway_influx") for name in first.names())  # not configured

    publisher.raw(event, b"[]")
    publisher.raw(event, b'{"schema":1}')
    publisher.send(part(5))
    publisher.send(birth(status="offline"))
    await until(lambda: count(gateway.db_path, "dead_letters") == 3 and count(gateway.db_path, "messages") == 5)
    second = await scrape(gateway)
    assert second.value("atelier_gateway_messages_received_total") == 7 + 4
    assert second.value("atelier_gateway_messages_accepted_total") == 5 + 2
    assert second.value("atelier_gateway_dead_letters_total") == 3
    assert second.value("atelier_machine_available", site=SITE, machine=MACHINE) == 0
    assert second.value("atelier_gateway_batches_committed_total") > batches


async def test_healthz_fails_while_the_broker_is_away_and_recovers(gateway: RunningGateway, broker: Broker) -> None:
    ok = await healthz(gateway.base_url)
    assert ok.status_code == 200
    assert ok.json()["status"] == "ok"
    assert {name: check["ok"] for name, check in ok.json()["checks"].items()} == {
        "ingest": True,
        "mqtt": True,
        "database": True,
    }
    broker.kill()
    down = await until(_status(gateway.base_url, 503), what="/healthz to answer 503")
    assert down.json()["failing"] == ["mqtt"]
    assert down.json()["checks"]["mqtt"]["detail"] == "not connected to the broker"
    broker.start()
    back = await until(_status(gateway.base_url, 200), what="/healthz to answer 200 again")
    assert back.json()["failing"] == []
    metrics = await scrape(gateway)
    assert metrics.value("atelier_gateway_mqtt_reconnects_total") == 1
    assert metrics.value("atelier_gateway_mqtt_connected") == 1


def _status(base_url: str, wanted: int) -> Callable[[], httpx.Response | None]:
    def check() -> httpx.Response | None:
        response = httpx.get(f"{base_url}/healthz", timeout=5)
        return response if response.status_code == wanted else None

    return check


async def test_healthz_names_a_database_that_does_not_answer() -> None:
    # A PostgreSQL URL on a port where nothing listens: a real connection refused, no gateway needed.
    engine = create_engine(f"postgresql+psycopg://atelier@127.0.0.1:{free_port()}/atelier")
    try:
        services = Services(live=LiveView(), database=db.Database(engine))
        web = create_app(GatewaySettings(gateway=GatewaySection(id="web")), services)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://gw") as client:
            response = await client.get("/healthz")
            metrics = await client.get("/metrics")
    finally:
        engine.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["ingest", "mqtt", "database"]
    assert body["checks"]["database"]["detail"].startswith("OperationalError: ")
    scraped = parse(metrics.text)
    assert scraped.value("atelier_gateway_ingest_running") == 0
    assert "atelier_gateway_dead_letters_stored" not in scraped.names()  # no figure rather than a wrong one


def test_exposition_escapes_labels_and_writes_histograms() -> None:
    out = Exposition()
    out.add("t_gauge", "gauge", 'help with "quotes" and \\ and\nnewline', [({"error": 'a "b" \\ c\nd'}, 1.5)])
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 0.5, 7.0):
        histogram.observe(value)
    out.histogram("t_seconds", "a histogram", histogram)
    scraped = parse(out.text())
    assert scraped.value("t_gauge", error='a "b" \\ c\nd') == 1.5
    assert [scraped.value("t_seconds_bucket", le=le) for le in ("0.1", "1.0", "+Inf")] == [1, 3, 4]
    assert scraped.value("t_seconds_sum") == 8.05
    assert histogram_is_consistent(scraped, "t_seconds")


# --- the [influx] section -------------------------------------------------------------------

GATEWAY = '[gateway]\nid = "gw"\n'


@pytest.mark.slow  # atelier processes
def test_a_bad_influx_url_is_a_configuration_error_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(GATEWAY + '[influx]\nurl = "influx.school:8086"\nbucket = "atelier"\n')
    result = subprocess.run(
        [sys.executable, "-m", "atelier", "gateway", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"{path}: influx.url: expected an http:// or https:// URL with a host, such as http://127.0.0.1:8086 "
        "(found 'influx.school:8086')\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('url = "ftp://influx:8086"', "influx.url: expected an http:// or https:// URL with a host"),
        ('url = "http://"', "influx.url: expected an http:// or https:// URL with a host"),
        ('url = "http://influx:99999"', "influx.url: expected an http:// or https:// URL with a host"),
        ('url = "http://influx:8086"\ntoken = "t"\ntoken_file = "/t"', "influx.token_file: expected either token"),
        ('url = "http://influx:8086"\nbatch_size = 0', "influx.batch_size: expected input should be greater than"),
        ('url = "http://influx:8086"\nbuket = "a"', "influx.buket: unknown key (check the spelling)"),
        ('bucket = "a"', "influx.url: required key is missing"),
    ],
)
def test_every_influx_problem_names_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(f"{GATEWAY}[influx]\n{text}\n")
    assert app.check(path) == 2
    assert f"{path}: {expected}" in capsys.readouterr().err


def test_influx_defaults_and_a_missing_token_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(GATEWAY + '[influx]\nurl = "https://influx.school:8086/"\n')
    settings = config.load(path)
    assert settings.influx is not None
    assert (settings.influx.url, settings.influx.org, settings.influx.bucket) == (
        "https://influx.school:8086",
        "atelier",
        "atelier",
    )
    assert (settings.influx.batch_size, settings.influx.max_buffered_lines) == (5000, 200_000)
    assert app.check(path) == 0
    assert "influx https://influx.school:8086 bucket atelier" in capsys.readouterr().out
    missing = tmp_path / "nowhere" / "token"
    path.write_text(GATEWAY + f'[influx]\nurl = "http://influx:8086"\ntoken_file = "{missing}"\n')
    assert app.check(path) == 2
    assert capsys.readouterr().err == f"{path}: influx.token_file: file not found (found '{missing}')\n"
    with pytest.raises(tomlconfig.ConfigError):
        config.load(write_toml(tmp_path, GATEWAY + '[influx]\nurl = "http://[::1"\n'))


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "other.toml"
    path.write_text(text)
    return path
