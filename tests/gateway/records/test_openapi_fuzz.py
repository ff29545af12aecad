"""A property-based run of schemathesis against the records API's OpenAPI schema: no input gives a 500.

The API runs in a real uvicorn server (on each backend) and is called over HTTP
as a master, so that the generated requests get past authentication and reach
validation, the store and the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, delete

from atelier.broker import free_port
from gateway import auth
from gateway.config import RecordsSection
from gateway.store import db
from gateway.store.db import Database
from gateway.store.models import Base, Customer, Order, Student
from gateway.web.records_api import include_records
from tests.gateway.records.conftest import add_machine

NOW = datetime.now(UTC)


def _schema_app() -> FastAPI:
    app = FastAPI(title="records")
    include_records(app, database=Database.at("sqlite://"), settings=RecordsSection(timezone="UTC"))
    return app


schema = schemathesis.openapi.from_dict(_schema_app().openapi())


def _seed(engine: Engine) -> str:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    sessions = db.session_factory(engine)
    add_machine(sessions, "mill")
    with sessions.begin() as session:
        auth.create_user(
            db=session, who="t", now=NOW, username="fuzz", password="fuzz-pass", role="admin", student_id=None
        )
        customer = Customer(site="lyon", name="Acme", contact="", created=NOW)
        session.add(customer)
        session.flush()
        session.add(
            Order(
                site="lyon",
                customer_id=customer.id,
                reference="PO-1",
                part_number="P",
                drawing_revision="",
                quantity=5,
                due=None,
                standard_cycle_s=60.0,
                programs=[],
                status="open",
                created=NOW,
            )
        )
        session.add(
            Student(
                site="lyon",
                first_name="Léa",
                last_initial="M",
                class_name="CAP1",
                track="CAP",
                badge="B-1",
                active=True,
                created=NOW,
            )
        )
    with sessions.begin() as session:
        found = auth.login(db=session, username="fuzz", password="fuzz-pass", now=NOW, hours=12)
        assert found is not None
        return found[0]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, engines: dict[str, Engine]) -> Iterator[tuple[str, dict[str, str]]]:
    engine = engines[str(request.param)]
    token = _seed(engine)
    app = FastAPI()
    include_records(app, database=Database(engine), settings=RecordsSection(timezone="UTC"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    finally:
        server.should_exit = True
        thread.join(10)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.slow  # schemathesis over every route of the API
def test_no_input_gives_a_server_error(case: schemathesis.Case[Any], live: tuple[str, dict[str, str]]) -> None:
    base_url, headers = live
    response = case.call(base_url=base_url, headers=headers)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
