"""The real gateway app over a migrated SQLite store: headers, API docs, body limits, HTTPS, proxies, charts."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI

from atelier.broker import Broker, free_port
from gateway import app as gateway_app
from gateway import auth
from gateway.config import DatabaseSection, GatewaySection, GatewaySettings, HttpSection, RecordsSection
from gateway.live import LiveView
from gateway.store import db, students_repo
from gateway.web.app import create_app
from gateway.web.body_limit import BodyLimit
from gateway.web.charts import series_chart
from gateway.web.services import Services
from plumbing import tomlconfig
from tests.gateway.helpers import gateway_toml
from tests.tls_certs import make_tls_files

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_hashing() -> Iterator[None]:
    saved = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = saved


@dataclass
class Store:
    url: str
    database: db.Database


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    database = db.Database(engine)
    with database.sessions.begin() as s:
        auth.create_user(
            db=s, who="t", now=NOW, username="master", password="master-pass", role="admin", student_id=None
        )
        lea = students_repo.create_student(
            db=s,
            who="t",
            now=NOW,
            fields={"first_name": "Léa", "last_initial": "M", "class_name": "C", "track": "CAP"},
        )
        auth.create_user(
            db=s, who="t", now=NOW, username="lea", password="lea-pass-1", role="student", student_id=lea.id
        )
    yield Store(url, database)
    engine.dispose()


def make_app(store: Store, http: HttpSection | None = None) -> FastAPI:
    settings = GatewaySettings(
        gateway=GatewaySection(id="sec"),
        database=DatabaseSection(url=store.url),
        http=http or HttpSection(),
        records=RecordsSection(timezone="UTC"),
    )
    return create_app(settings, Services(live=LiveView(), database=store.database))


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        yield http


async def bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    login = await client.post("/api/auth/login", json={"username": username, "password": password})
    client.cookies.clear()
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def test_security_headers_on_pages_api_and_errors(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/health", "/api/students", "/nope"):
        response = await client.get(path)
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src 'self';" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store", path
        assert "strict-transport-security" not in headers  # plain HTTP: HSTS would mean nothing
    static = await client.get("/static/pages.css")
    assert static.headers["cache-control"] == "no-cache"
    assert static.headers["x-content-type-options"] == "nosniff"


async def test_api_docs_are_for_masters_only_and_fetch_nothing_from_outside(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 401, path
        assert (await client.get(path, headers=await bearer(client, "lea", "lea-pass-1"))).status_code == 403
    admin = await bearer(client, "master", "master-pass")
    schema = (await client.get("/openapi.json", headers=admin)).json()
    assert "/api/auth/login" in schema["paths"]
    docs = await client.get("/docs", headers=admin)
    assert docs.status_code == 200
    assert "/api/users/{user_id}/password" in docs.text
    assert "http://" not in docs.text
    assert "https://" not in docs.text
    assert "<script" not in docs.text


async def test_a_large_body_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    big = b"{" + b" " * (200 * 1024) + b"}"
    refused = await client.post("/api/auth/login", content=big, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    assert "64 KiB" in refused.json()["detail"]
    # Declared larger than it is: refused on the header alone.
    declared = await client.post("/login", content=b"x", headers={"content-length": str(200 * 1024 * 1024)})
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(100):
            yield b"username=" + b"a" * 4096

    streamed = await client.post("/login", content=chunks())
    assert streamed.status_code == 413
    assert (
        await client.post("/api/auth/login", json={"username": "master", "password": "master-pass"})
    ).status_code == 200


def test_only_csv_imports_get_the_larger_limit() -> None:
    limit = BodyLimit(FastAPI(), default=64 * 1024, imports=8 * 1024 * 1024)
    assert limit.limit_for("POST", "/api/students/import") == 8 * 1024 * 1024
    assert limit.limit_for("PUT", "/api/orders.csv") == 8 * 1024 * 1024
    assert limit.limit_for("POST", "/api/auth/login") == 64 * 1024
    assert limit.limit_for("GET", "/api/students/import") == 64 * 1024


@contextlib.asynccontextmanager
async def served(app: FastAPI, http: HttpSection) -> AsyncIterator[uvicorn.Server]:
    server = uvicorn.Server(gateway_app.server_config(app, http))
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_a_chunked_body_over_the_wire_is_cut_off(store: Store) -> None:
    http = HttpSection(port=free_port())
    async with served(make_app(store, http), http):
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        answer = b""
        with contextlib.suppress(ConnectionError):
            while sent < 50 * 1024 * 1024:
                chunk = b" " * 65536
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
                sent += len(chunk)
                with contextlib.suppress(TimeoutError):
                    answer += await asyncio.wait_for(reader.read(4096), 0.001)
                if answer:
                    break
        if not answer:
            answer = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 10 * 1024 * 1024  # the gateway answered long before the client was done


async def test_forwarded_headers_are_believed_only_from_trusted_proxies(store: Store) -> None:
    untrusted = HttpSection(port=free_port())
    untrusted_client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{untrusted.port}")
    async with served(make_app(store, untrusted), untrusted), untrusted_client as client:
        codes = []
        for i in range(12):  # a guesser inventing a new X-Forwarded-For for each try
            headers = {"X-Forwarded-For": f"10.9.0.{i}", "X-Forwarded-Proto": "https"}
            answer = await client.post("/api/auth/login", json={"username": "x", "password": "y"}, headers=headers)
            codes.append(answer.status_code)
        assert codes == [401] * 10 + [429] * 2
        assert "strict-transport-security" not in answer.headers
    trusted = HttpSection(port=free_port(), trusted_proxies=["127.0.0.0/8"])
    trusted_client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{trusted.port}")
    async with served(make_app(store, trusted), trusted), trusted_client as client:
        for i in range(12):  # a proxy's clients: each address has its own budget
            headers = {"X-Forwarded-For": f"10.9.1.{i}", "X-Forwarded-Proto": "https"}
            answer = await client.post("/api/auth/login", json={"username": "x", "password": "y"}, headers=headers)
            assert answer.status_code == 401
        assert answer.headers["strict-transport-security"] == "max-age=31536000"
        headers = {"X-Forwarded-For": "10.9.2.1", "X-Forwarded-Proto": "https"}
        login = await client.post(
            "/api/auth/login", json={"username": "master", "password": "master-pass"}, headers=headers
        )
        assert all("secure" in c.lower() for c in login.headers.get_list("set-cookie"))


async def test_the_gateway_serves_https_with_the_schools_ca(broker: Broker, store: Store, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "pki")
    port = free_port()
    config = tmp_path / "gateway.toml"
    text = gateway_toml(broker, tmp_path / "gateway.db", http_port=port)
    config.write_text(text + f'\n[http.tls]\ncert_file = "{tls.cert_file}"\nkey_file = "{tls.key_file}"\n')
    assert gateway_app.check(config) == 0
    settings = tomlconfig.load(config, GatewaySettings)
    stop = asyncio.Event()
    task = asyncio.create_task(gateway_app.serve(settings, stop=stop))
    trust = ssl.create_default_context(cafile=str(tls.ca_file))
    try:
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trust) as client:
            for _ in range(400):
                with contextlib.suppress(httpx.TransportError):
                    health = await client.get("/api/health")
                    break
                await asyncio.sleep(0.025)
            assert health.status_code == 200
            assert health.headers["strict-transport-security"] == "max-age=31536000"
            login = await client.post("/api/auth/login", json={"username": "master", "password": "master-pass"})
            assert login.status_code == 200
            cookies = login.headers.get_list("set-cookie")
            assert len(cookies) == 2
            assert all("; secure" in c.lower() for c in cookies)
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}") as stranger:  # the system's CAs only
            with pytest.raises(httpx.ConnectError):
                await stranger.get("/api/health")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # plain HTTP gets no page
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            answer = await asyncio.wait_for(reader.read(4096), 5)
            assert b"ingest_running" not in answer
        writer.close()
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def test_check_names_a_missing_or_wrong_https_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tls = make_tls_files(tmp_path / "pki")
    config = tmp_path / "gateway.toml"
    base = '[gateway]\nid = "g"\n\n[http]\nport = 8443\n\n[http.tls]\n'
    config.write_text(base + f'cert_file = "{tls.cert_file}"\nkey_file = "{tmp_path / "missing.key"}"\n')
    assert gateway_app.check(config) == 2
    assert "http.tls.key_file" in capsys.readouterr().err
    config.write_text(base + f'cert_file = "{tls.ca_file}"\nkey_file = "{tls.key_file}"\n')  # the CA, not the server
    assert gateway_app.check(config) == 2
    assert "http.tls.cert_file" in capsys.readouterr().err


def test_charts_escape_every_text_and_skip_non_numbers() -> None:
    chart = str(
        series_chart(
            [1.0, float("nan"), 2.0, float("inf")],
            float("nan"),
            title='<script>alert(1)</script>"',
            unit="<b>",
            ref_label="<img src=x>",
        )
    )
    assert "<script>" not in chart
    assert "<b>" not in chart
    assert "&lt;script&gt;" in chart
    assert "nan" not in chart
    assert "inf" not in chart
    assert chart.count("<circle") == 2
