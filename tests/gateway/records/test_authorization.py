"""Every records route × every role: exactly the allowed roles succeed; the others get 401 (nobody) or 403."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from gateway.store.models import Customer, Order, Student, WorkSessionRecord
from tests.gateway.records.conftest import World, add_cycle, at, master_of

ROLES = ("admin", "kiosk", "viewer", "student", "network")
ADMIN = {"admin"}
_names = itertools.count()
Prepared = tuple[str, dict[str, Any] | None, dict[str, Any] | None]  # path, json body, query


@dataclass(frozen=True)
class Case:
    method: str
    route: str
    allowed: set[str]
    prepare: Callable[[World], Awaitable[Prepared]]


def fixed(
    path: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None
) -> Callable[[World], Awaitable[Prepared]]:
    async def prepare(w: World) -> Prepared:
        return path.format(**w.ids), body, query

    return prepare


def fresh(make: Callable[[World], Prepared]) -> Callable[[World], Awaitable[Prepared]]:
    async def prepare(w: World) -> Prepared:
        return make(w)

    return prepare


def _new_row(w: World, row: Any) -> int:
    with w.sessions.begin() as session:
        session.add(row)
        session.flush()
        return int(row.id)


def _free_mill(w: World) -> None:
    with w.sessions.begin() as session:
        for row in session.query(WorkSessionRecord).filter(WorkSessionRecord.ended.is_(None)):
            row.ended = max(row.started, w.clock.now)


def _open_on_mill(w: World) -> Prepared:
    _free_mill(w)
    w.clock.now = at(next(_names) + 1)
    _new_row(
        w,
        WorkSessionRecord(
            machine_id=w.machines["mill"],
            student_id=w.ids["student"],
            order_id=None,
            started=w.clock.now,
            ended=None,
            opened_by="t",
        ),
    )
    w.clock.now = at(next(_names) + 1)
    return "/api/sessions/check-out", {"machine": "mill", "badge": "B-LEA"}, None


def _check_in(w: World) -> Prepared:
    _free_mill(w)
    w.clock.now = at(next(_names) + 1)
    return "/api/sessions/check-in", {"machine": "mill", "badge": "B-LEA", "order_id": w.ids["order"]}, None


def _deletable_customer(w: World) -> Prepared:
    return (
        f"/api/customers/{_new_row(w, Customer(site='lyon', name=f'c{next(_names)}', contact='', created=at(0)))}",
        None,
        None,
    )


def _deletable_order(w: World) -> Prepared:
    order = Order(
        site="lyon",
        customer_id=w.ids["customer"],
        reference=f"o{next(_names)}",
        part_number="p",
        drawing_revision="",
        quantity=1,
        due=None,
        standard_cycle_s=None,
        programs=[],
        status="open",
        created=at(0),
    )
    return f"/api/orders/{_new_row(w, order)}", None, None


def _deletable_student(w: World) -> Prepared:
    student = Student(
        site="lyon",
        first_name="X",
        last_initial="Y",
        class_name="C",
        track="CAP",
        badge=None,
        active=True,
        created=at(0),
    )
    return f"/api/students/{_new_row(w, student)}", None, None


def _session_to_patch(w: World) -> Prepared:
    minute = 10_000 + 10 * next(_names)
    row = WorkSessionRecord(
        machine_id=w.machines["lathe"],
        student_id=w.ids["student"],
        order_id=None,
        started=at(minute),
        ended=at(minute + 5),
        opened_by="t",
    )
    return f"/api/sessions/{_new_row(w, row)}", {"order_id": w.ids["order"]}, None


def _past_session(w: World) -> Prepared:
    minute = -100_000 - 10 * next(_names)
    body = {
        "machine": "lathe",
        "student_id": w.ids["student"],
        "started": at(minute).isoformat(),
        "ended": at(minute + 5).isoformat(),
    }
    return "/api/sessions", body, None


def _cycle_to_assign(w: World) -> Prepared:
    minute = 20_000 + 10 * next(_names)
    row = WorkSessionRecord(
        machine_id=w.machines["lathe"],
        student_id=w.ids["student"],
        order_id=None,
        started=at(minute),
        ended=at(minute + 5),
        opened_by="t",
    )
    session_id = _new_row(w, row)
    cycle = add_cycle(w.sessions, w.machines["lathe"], at(minute + 6), at(minute + 7))
    return f"/api/cycles/{cycle}/assignment", {"session_id": session_id}, None


def _token_to_revoke(w: World) -> Prepared:
    from gateway import auth

    with w.sessions.begin() as session:
        _, row = auth.create_api_token(db=session, who="t", now=at(0), role="viewer", label="x", machine=None)
        return f"/api/tokens/{row.id}", None, None


def _user_to_manage(suffix: str, body: dict[str, Any] | None) -> Callable[[World], Awaitable[Prepared]]:
    def make(w: World) -> Prepared:
        from gateway import auth

        with w.sessions.begin() as session:
            user = auth.create_user(
                db=session,
                who="t",
                now=at(0),
                username=f"m{next(_names)}",
                password="password-1",
                role="admin",
                student_id=None,
            )
            return f"/api/users/{user.id}{suffix}", body, None

    return fresh(make)


def _own_password(w: World) -> Prepared:
    # Whichever login asks, its current password is this one.
    from gateway import auth
    from gateway.store.models import User

    with w.sessions.begin() as session:
        for user in session.query(User):
            user.password_hash = auth.hash_password("the-same-1")
    return "/api/auth/password", {"current_password": "the-same-1", "new_password": "a-new-one-2"}, None


def _unique(make: Callable[[int], dict[str, Any]], path: str) -> Callable[[World], Awaitable[Prepared]]:
    return fresh(
        lambda w: (path, make(next(_names)) | ({"customer_id": w.ids["customer"]} if "orders" in path else {}), None)
    )


def _closure(w: World) -> Prepared:
    from datetime import date

    from gateway.store.models import CalendarClosure

    row = CalendarClosure(site="lyon", first=date(2026, 12, 21), last=date(2027, 1, 1), label="Noël")
    return f"/api/calendars/closures/{_new_row(w, row)}", None, None


def _exception(w: World) -> Prepared:
    from datetime import date

    from gateway.store.models import MachineCalendarException

    row = MachineCalendarException(
        machine_id=w.machines["mill"], first=date(2026, 12, 1), last=date(2026, 12, 1), kind="out_of_service", label=""
    )
    return f"/api/calendars/exceptions/{_new_row(w, row)}", None, None


def _stop_on_mill(w: World) -> Prepared:
    """The mill open round the clock, cutting then idle for half an hour, a student checked in there."""
    from gateway.store.models import SiteCalendar
    from tests.gateway.records.conftest import add_state

    _free_mill(w)
    # A quarter of an hour after the last call: each call's stop starts after the previous one's.
    w.clock.now = max(w.clock.now, at(60)) + timedelta(minutes=15)
    with w.sessions.begin() as session:
        if session.query(SiteCalendar).count() == 0:
            week = ["00:00-24:00"] * 7
            session.add(
                SiteCalendar(
                    site="lyon",
                    timezone="UTC",
                    week=week,
                    public_holidays="none",
                    school_zone=None,
                    stop_threshold_s=300,
                    alarm_prefills_breakdown=True,
                )
            )
    add_state(w.sessions, w.machines["mill"], w.clock.now - timedelta(minutes=40), "AVAILABLE", "ACTIVE")
    add_state(w.sessions, w.machines["mill"], w.clock.now - timedelta(minutes=30), "AVAILABLE", "READY")
    session_row = WorkSessionRecord(
        machine_id=w.machines["mill"],
        student_id=w.ids["student"],
        order_id=None,
        started=w.clock.now - timedelta(minutes=45),
        ended=None,
        opened_by="t",
    )
    _new_row(w, session_row)
    started = (w.clock.now - timedelta(minutes=30)).isoformat()
    return "/api/stops/classify", {"machine": "mill", "started": started, "reason": "reglage"}, None


def _last_stop(w: World) -> Prepared:
    _stop_on_mill(w)
    return "/api/stops/last", None, {"machine": "mill"}


def _authorisation_to_revoke(w: World) -> Prepared:
    from gateway.store import authorisations_repo

    with w.sessions.begin() as session:
        fields = {"student_id": w.ids["student"], "machine_id": w.machines["lathe"], "granted_on": date(2026, 9, 1)}
        row = authorisations_repo.grant(db=session, who="t", now=at(0), fields=fields)
        return f"/api/authorisations/{row.id}/revoke", None, None


REFERENTIEL = b"diplome;bloc;code;libelle\nCAP;B1;C1;Lire un plan\n"


def _validation(w: World) -> Prepared:
    from gateway.store.models import CompetenceRecord

    with w.sessions.begin() as session:
        row = CompetenceRecord(diploma="CAP", block="B1", code=f"C{next(_names)}", label="x")
        session.add(row)
        session.flush()
        return f"/api/students/{w.ids['student']}/competences", {"competence_id": row.id, "level": "acquis"}, None


SCRAP = {"order_id": 0, "quantity": 1, "reason": "burr", "inspected_by": "M. Roux"}
CLOSURE = {"first": "2026-12-21", "last": "2027-01-01", "label": "Noël"}
EXCEPTION = {"machine": "mill", "first": "2026-12-01", "last": "2026-12-01", "kind": "out_of_service"}
CASES = [
    Case("GET", "/api/users", ADMIN, fixed("/api/users")),
    Case(
        "POST",
        "/api/users",
        ADMIN,
        _unique(lambda n: {"username": f"u{n}", "password": "password-1", "role": "admin"}, "/api/users"),
    ),
    Case("PATCH", "/api/users/{user_id}", ADMIN, _user_to_manage("", {"active": False})),
    Case("POST", "/api/users/{user_id}/password", ADMIN, _user_to_manage("/password", {"password": "reset-pass-1"})),
    Case("DELETE", "/api/users/{user_id}/sessions", ADMIN, _user_to_manage("/sessions", None)),
    Case("POST", "/api/auth/password", {"admin", "student"}, fresh(_own_password)),
    Case("GET", "/api/tokens", ADMIN, fixed("/api/tokens")),
    Case("POST", "/api/tokens", ADMIN, fixed("/api/tokens", {"role": "viewer", "label": "screen"})),
    Case("DELETE", "/api/tokens/{token_id}", ADMIN, fresh(_token_to_revoke)),
    Case("GET", "/api/auth/me", set(ROLES), fixed("/api/auth/me")),
    Case("GET", "/api/customers", ADMIN, fixed("/api/customers")),
    Case("POST", "/api/customers", ADMIN, _unique(lambda n: {"name": f"Customer {n}"}, "/api/customers")),
    Case("GET", "/api/customers/{customer_id}", ADMIN, fixed("/api/customers/{customer}")),
    Case("PATCH", "/api/customers/{customer_id}", ADMIN, fixed("/api/customers/{customer}", {"contact": "x"})),
    Case("DELETE", "/api/customers/{customer_id}", ADMIN, fresh(_deletable_customer)),
    Case("GET", "/api/orders", ADMIN, fixed("/api/orders")),
    Case(
        "POST",
        "/api/orders",
        ADMIN,
        _unique(lambda n: {"reference": f"R{n}", "part_number": "P", "quantity": 5}, "/api/orders"),
    ),
    Case("GET", "/api/orders/{order_id}", ADMIN, fixed("/api/orders/{order}")),
    Case("PATCH", "/api/orders/{order_id}", ADMIN, fixed("/api/orders/{order}", {"quantity": 12})),
    Case("DELETE", "/api/orders/{order_id}", ADMIN, fresh(_deletable_order)),
    Case("GET", "/api/orders/{order_id}/progress", ADMIN, fixed("/api/orders/{order}/progress")),
    Case("GET", "/api/students", ADMIN, fixed("/api/students")),
    Case(
        "POST",
        "/api/students",
        ADMIN,
        fixed("/api/students", {"first_name": "Ana", "last_initial": "K", "class_name": "BP1", "track": "BAC_PRO"}),
    ),
    Case("GET", "/api/students/{student_id}", ADMIN, fixed("/api/students/{student}")),
    Case("PATCH", "/api/students/{student_id}", ADMIN, fixed("/api/students/{student}", {"class_name": "CAP2"})),
    Case("DELETE", "/api/students/{student_id}", ADMIN, fresh(_deletable_student)),
    Case("GET", "/api/students/{student_id}/export", {"admin", "student"}, fixed("/api/students/{student}/export")),
    Case(
        "GET",
        "/api/students/{student_id}/practice-log",
        {"admin", "student"},
        fixed("/api/students/{student}/practice-log"),
    ),
    Case(
        "GET",
        "/api/students/{student_id}/practice-log.csv",
        {"admin", "student"},
        fixed("/api/students/{student}/practice-log.csv"),
    ),
    Case("POST", "/api/sessions/check-in", {"admin", "kiosk"}, fresh(_check_in)),
    Case("POST", "/api/sessions/check-out", {"admin", "kiosk"}, fresh(_open_on_mill)),
    Case("POST", "/api/sessions", ADMIN, fresh(_past_session)),
    Case("PATCH", "/api/sessions/{session_id}", ADMIN, fresh(_session_to_patch)),
    Case("GET", "/api/sessions", ADMIN, fixed("/api/sessions")),
    Case("GET", "/api/cycles/unattributed", ADMIN, fixed("/api/cycles/unattributed")),
    Case("POST", "/api/cycles/{cycle_id}/assignment", ADMIN, fresh(_cycle_to_assign)),
    Case(
        "POST",
        "/api/scrap",
        {"admin", "kiosk"},
        fresh(lambda w: ("/api/scrap", {**SCRAP, "order_id": w.ids["order"], "machine": "mill"}, None)),
    ),
    Case("GET", "/api/scrap", ADMIN, fixed("/api/scrap")),
    Case("GET", "/api/reports/oee", ADMIN, fixed("/api/reports/oee", query={"date": "2026-11-23"})),
    Case("GET", "/api/reports/orders.csv", ADMIN, fixed("/api/reports/orders.csv")),
    Case("GET", "/api/reports/practice-logs.csv", ADMIN, fixed("/api/reports/practice-logs.csv")),
    Case("POST", "/api/retention/purge", ADMIN, fixed("/api/retention/purge")),
    Case("GET", "/api/calendars", ADMIN, fixed("/api/calendars")),
    Case("GET", "/api/calendars/{site}", ADMIN, fixed("/api/calendars/lyon")),
    Case("PATCH", "/api/calendars/{site}", ADMIN, fixed("/api/calendars/lyon", {"stop_threshold_s": 300})),
    Case("POST", "/api/calendars/{site}/closures", ADMIN, fixed("/api/calendars/lyon/closures", CLOSURE)),
    Case("DELETE", "/api/calendars/closures/{closure_id}", ADMIN, fresh(_closure)),
    Case("POST", "/api/calendars/{site}/exceptions", ADMIN, fixed("/api/calendars/lyon/exceptions", EXCEPTION)),
    Case("DELETE", "/api/calendars/exceptions/{exception_id}", ADMIN, fresh(_exception)),
    Case("GET", "/api/stops", ADMIN, fixed("/api/stops", query={"date": "2026-11-23"})),
    Case("GET", "/api/stops/last", {"admin", "kiosk"}, fresh(_last_stop)),
    Case("POST", "/api/stops/classify", {"admin", "kiosk"}, fresh(_stop_on_mill)),
    Case("GET", "/api/stops/export.csv", ADMIN, fixed("/api/stops/export.csv", query={"date": "2026-11-23"})),
    Case("GET", "/api/stop-reasons/{site}", {"admin", "kiosk"}, fixed("/api/stop-reasons/lyon")),
    Case(
        "POST",
        "/api/stop-reasons/{site}",
        ADMIN,
        _unique(lambda n: {"code": f"r{n}", "label": "R", "category": "setup"}, "/api/stop-reasons/lyon"),
    ),
    Case("PATCH", "/api/stop-reasons/{site}/{code}", ADMIN, fixed("/api/stop-reasons/lyon/cours", {"label": "Cours"})),
    Case(
        "POST",
        "/api/machines/{site}/{machine}/move",
        ADMIN,
        fresh(lambda w: ("/api/machines/lyon/lathe/move", {"agent": f"pc-moved-{next(_names)}"}, None)),
    ),
]
GRANT = {"granted_on": "2026-09-01", "training_on": "2026-09-02", "medical_valid_until": "2027-08-31"}
CASES += [
    Case("GET", "/api/machine-groups", ADMIN, fixed("/api/machine-groups")),
    Case(
        "POST",
        "/api/machine-groups",
        ADMIN,
        _unique(lambda n: {"name": f"Groupe {n}", "machine_ids": []}, "/api/machine-groups"),
    ),
    Case(
        "PATCH", "/api/machine-groups/{group_id}", ADMIN, fixed("/api/machine-groups/{workshop}", {"regulated": True})
    ),
    Case("GET", "/api/authorisations", ADMIN, fixed("/api/authorisations")),
    Case(
        "POST",
        "/api/authorisations",
        ADMIN,
        fresh(
            lambda w: (
                "/api/authorisations",
                {"student_id": w.ids["student"], "group_id": w.ids["workshop"]} | GRANT,
                None,
            )
        ),
    ),
    Case("POST", "/api/authorisations/{authorisation_id}/revoke", ADMIN, fresh(_authorisation_to_revoke)),
    Case(
        "GET",
        "/api/authorisations/list.csv",
        ADMIN,
        fresh(lambda w: ("/api/authorisations/list.csv", None, {"student_id": w.ids["student"]})),
    ),
    Case(
        "GET",
        "/api/authorisations/list.pdf",
        ADMIN,
        fresh(lambda w: ("/api/authorisations/list.pdf", None, {"machine_id": w.machines["mill"]})),
    ),
    Case("GET", "/api/duty", ADMIN, fixed("/api/duty", query={"site": "lyon"})),
    Case("POST", "/api/duty", ADMIN, fixed("/api/duty", query={"site": "lyon"})),
    Case("DELETE", "/api/duty", ADMIN, fixed("/api/duty", query={"site": "lyon"})),
]
CASES += [
    Case("POST", "/api/competences/import", ADMIN, fixed("/api/competences/import", REFERENTIEL)),  # type: ignore[arg-type]
    Case("GET", "/api/competences", {"admin", "student"}, fixed("/api/competences")),
    Case("GET", "/api/competences/grid.csv", ADMIN, fixed("/api/competences/grid.csv", query={"class_name": "CAP1"})),
    Case(
        "GET",
        "/api/students/{student_id}/competences",
        {"admin", "student"},
        fixed("/api/students/{student}/competences"),
    ),
    Case("POST", "/api/students/{student_id}/competences", ADMIN, fresh(_validation)),
]


def _operation_10(w: World) -> int:
    from gateway.store.models import OperationRecord

    with w.sessions() as session:
        return session.query(OperationRecord).filter_by(order_id=w.ids["order"], number=10).one().id


def _deletable_operation(w: World) -> Prepared:
    from gateway.store.models import OperationRecord

    row = OperationRecord(
        order_id=w.ids["order"],
        number=1000 + next(_names),
        label="",
        group_id=None,
        programs=[],
        standard_cycle_s=None,
        standard_setup_s=None,
        first_part=True,
        created=at(0),
    )
    return f"/api/orders/{w.ids['order']}/operations/{_new_row(w, row)}", None, None


def _first_part(w: World) -> Prepared:
    """A series of operation 10 on the mill, and the master's badge (a kiosk approves with it)."""
    from gateway.store.models import User

    _free_mill(w)
    w.clock.now = at(next(_names) + 1)
    operation = _operation_10(w)
    with w.sessions.begin() as session:
        session.query(User).filter_by(username="master").one().badge = "M-MASTER"
        session.add(
            WorkSessionRecord(
                machine_id=w.machines["mill"],
                student_id=w.ids["student"],
                order_id=w.ids["order"],
                operation_id=operation,
                started=w.clock.now,
                ended=None,
                opened_by="t",
            )
        )
    w.clock.now = at(next(_names) + 1)
    return f"/api/operations/{operation}/first-part", {"verdict": "OK", "machine": "mill", "badge": "M-MASTER"}, None


CASES += [
    Case("GET", "/api/orders/{order_id}/operations", ADMIN, fixed("/api/orders/{order}/operations")),
    Case(
        "POST",
        "/api/orders/{order_id}/operations",
        ADMIN,
        fresh(lambda w: (f"/api/orders/{w.ids['order']}/operations", {"number": 2000 + next(_names)}, None)),
    ),
    Case(
        "PATCH",
        "/api/orders/{order_id}/operations/{operation_id}",
        ADMIN,
        fresh(lambda w: (f"/api/orders/{w.ids['order']}/operations/{_operation_10(w)}", {"label": "T"}, None)),
    ),
    Case("DELETE", "/api/orders/{order_id}/operations/{operation_id}", ADMIN, fresh(_deletable_operation)),
    Case("GET", "/api/orders/{order_id}/first-parts", ADMIN, fixed("/api/orders/{order}/first-parts")),
    Case("POST", "/api/operations/{operation_id}/first-part", {"admin", "kiosk"}, fresh(_first_part)),
    Case("PUT", "/api/users/{user_id}/badge", ADMIN, _user_to_manage("/badge", {"badge": None})),
    Case("PUT", "/api/users/{user_id}/sites", ADMIN, _user_to_manage("/sites", {"sites": ["lyon"]})),
]
# Open to all by design: logging in, out (tested in test_auth.py) and a screen's one-time sign-in.
UNGUARDED = {("POST", "/api/auth/login"), ("POST", "/api/auth/logout"), ("GET", "/api/auth/screen")}


def test_the_matrix_covers_every_records_route(world: World) -> None:
    paths = world.app.openapi()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert routes - UNGUARDED == {(c.method, c.route) for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.route}")
async def test_exactly_the_allowed_roles_succeed(world: World, case: Case) -> None:
    for role in (None, *ROLES):
        path, body, query = await case.prepare(world)
        sent: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}  # a CSV is sent raw
        response = await world.call(case.method, path, role, params=query, **sent)
        if role is None:
            assert response.status_code == 401, (role, response.text)
            assert response.json()["detail"]["code"] == "not_logged_in"
        elif role in case.allowed:
            assert response.status_code < 300, (role, response.status_code, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.json()["detail"]["code"] == "role_forbidden"
            assert response.json()["detail"]["params"]["role"] == role


async def test_a_student_reads_only_their_own_log(world: World) -> None:
    other = await world.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    )
    for suffix in ("practice-log", "practice-log.csv", "export"):
        response = await world.call("GET", f"/api/students/{other['id']}/{suffix}", "student")
        assert response.status_code == 403
        assert response.json()["detail"]["code"] == "own_log_only"


async def test_a_kiosk_works_only_at_its_machine(world: World) -> None:
    body = {"machine": "lathe", "badge": "B-LEA"}
    refused = await world.call("POST", "/api/sessions/check-in", "kiosk", json=body)
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "kiosk_other_machine"
    scrap = {**SCRAP, "order_id": world.ids["order"], "machine": "lathe"}
    assert (await world.call("POST", "/api/scrap", "kiosk", json=scrap)).status_code == 403
    assert world.count(WorkSessionRecord) == 0


async def test_a_revoked_token_and_an_unknown_one_get_401(world: World) -> None:
    tokens = await world.ok("GET", "/api/tokens")
    kiosk = next(t for t in tokens if t["role"] == "kiosk")
    await world.ok("DELETE", f"/api/tokens/{kiosk['id']}")
    response = await world.call("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "credentials_invalid"
    assert response.headers["www-authenticate"] == "Bearer"
    unknown = await world.client.get("/api/auth/me", headers={"Authorization": "Bearer atk_nonsense"})
    assert unknown.status_code == 401


# --- a master of another site ------------------------------------------------------------------------------
# The world's records are all of site "lyon". A master of "paris" alone must neither see nor touch them: a
# route naming one of them answers 404, as for a record that does not exist (existence must not leak); a
# list holds none of them; what they create goes to "paris". A master of both sites sees both.
# Whatever names a lyon record in its path, body or query (a machine, an order, a student, a site):
NAMES_LYON = {
    ("POST", "/api/orders"),
    ("POST", "/api/sessions/check-in"),
    ("POST", "/api/sessions/check-out"),
    ("POST", "/api/sessions"),
    ("POST", "/api/scrap"),
    ("GET", "/api/stops/last"),
    ("POST", "/api/stops/classify"),
    ("POST", "/api/authorisations"),
    ("GET", "/api/authorisations/list.csv"),
    ("GET", "/api/authorisations/list.pdf"),
    ("GET", "/api/duty"),
    ("POST", "/api/duty"),
    ("DELETE", "/api/duty"),
}
OWN = {("POST", "/api/auth/password"), ("GET", "/api/auth/me"), ("POST", "/api/retention/purge")}
# What of lyon's records a response must never carry (JSON writes "é" as is).
LYON_MARKS = ("lyon", "Acme", "PO-1", "B-LEA", "Léa", "BRK-01", "mill kiosk", "big screen")


def expectation(case: Case) -> str:
    key = (case.method, case.route)
    if key in OWN:
        return "own"
    if "{" in case.route or key in NAMES_LYON:
        return "hidden"
    return "list" if case.method == "GET" else "created"


@pytest.fixture
async def two_sites(world: World) -> World:
    """The world, a drill at site "paris", a master of paris alone ("paris") and one of both sites ("both")."""
    from tests.gateway.records.conftest import add_machine

    world.machines["drill"] = add_machine(world.sessions, "drill", site="paris")
    await master_of(world, "paris", ["paris"])
    await master_of(world, "both", ["lyon", "paris"])
    return world


def test_every_admin_route_has_a_site_expectation() -> None:
    kinds = {(c.method, c.route): expectation(c) for c in CASES if "admin" in c.allowed}
    assert set(kinds.values()) == {"own", "hidden", "list", "created"}
    assert set(kinds) >= NAMES_LYON | OWN


@pytest.mark.parametrize("case", [c for c in CASES if "admin" in c.allowed], ids=lambda c: f"{c.method} {c.route}")
async def test_a_master_of_another_site_neither_sees_nor_touches_it(two_sites: World, case: Case) -> None:
    w = two_sites
    path, body, query = await case.prepare(w)
    sent: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = await w.call(case.method, path, "paris", params=query, **sent)
    kind = expectation(case)
    if kind == "hidden":
        assert response.status_code == 404, (response.status_code, response.text)
        assert response.json()["detail"]["code"].endswith(("_not_found", "_unknown")), response.text
        return
    assert response.status_code < 300, (kind, response.status_code, response.text)
    text = response.text if response.content else ""
    assert not [mark for mark in LYON_MARKS if mark in text], text
    if kind == "created" and "json" in response.headers.get("content-type", ""):
        assert response.json().get("site", "paris") == "paris"


async def test_every_id_of_site_a_is_404_for_site_b_but_found_for_a_master_of_both(two_sites: World) -> None:
    w = two_sites
    paths = [
        f"/api/customers/{w.ids['customer']}",
        f"/api/orders/{w.ids['order']}",
        f"/api/orders/{w.ids['order']}/progress",
        f"/api/students/{w.ids['student']}",
        f"/api/students/{w.ids['student']}/practice-log",
        "/api/calendars/lyon",
        "/api/stop-reasons/lyon",
    ]
    for path in paths:
        assert (await w.call("GET", path, "paris")).status_code == 404, path
        assert (await w.call("GET", path, "both")).status_code == 200, path


async def test_a_master_of_both_sites_lists_both_and_says_where_a_record_goes(two_sites: World) -> None:
    w = two_sites
    made = await w.ok("POST", "/api/customers", "paris", json={"name": "Acme"})  # the same name, another school
    assert made["site"] == "paris"
    assert sorted(c["site"] for c in await w.ok("GET", "/api/customers", "both")) == ["lyon", "paris"]
    assert [c["site"] for c in await w.ok("GET", "/api/customers", "paris")] == ["paris"]
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP"}
    refused = await w.call("POST", "/api/students", "both", json=tom)
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "site_required"
    assert "paris" in refused.json()["detail"]["message"]
    english = await w.call("POST", "/api/students?lang=en", "both", json=tom)
    assert english.json()["detail"]["message"].startswith("You act on several sites (lyon, paris)")
    other = await w.call("POST", "/api/students", "both", json=tom | {"site": "nantes"})
    assert other.status_code == 422
    assert other.json()["detail"]["code"] == "site_not_yours"
    assert (await w.ok("POST", "/api/students", "both", json=tom | {"site": "paris"}))["site"] == "paris"
    assert sorted(s["site"] for s in await w.ok("GET", "/api/students", "both")) == ["lyon", "paris"]
    assert [s["first_name"] for s in await w.ok("GET", "/api/students", "paris")] == ["Tom"]
    me = await w.ok("GET", "/api/auth/me", "both")
    assert me["sites"] == ["lyon", "paris"]


async def test_a_master_grants_only_their_own_sites(two_sites: World) -> None:
    w = two_sites
    new = {"username": "dupont", "password": "password-1", "role": "admin"}
    refused = await w.call("POST", "/api/users", "paris", json=new | {"sites": ["lyon"]})
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "site_not_yours"
    assert (await w.ok("POST", "/api/users", "paris", json=new))["site"] == "paris"
    both = await w.ok("POST", "/api/users", "both", json=new | {"username": "durand", "sites": ["paris", "lyon"]})
    login = await w.ok("POST", "/api/auth/login", None, json={"username": "durand", "password": "password-1"})
    me = await w.client.get("/api/auth/me", headers={"Authorization": f"Bearer {login['token']}"})
    assert (both["site"], me.json()["sites"]) == ("paris", ["lyon", "paris"])
    # A network login reads no school: a master of several sites makes one without choosing.
    network = {"username": "reseau-2", "password": "password-1", "role": "network"}
    assert (await w.ok("POST", "/api/users", "both", json=network))["role"] == "network"
    # A username stays unique across sites: one login page for the whole network.
    clash = await w.call("POST", "/api/users", "paris", json=new | {"username": "master"})
    assert clash.status_code == 409


async def test_a_kiosk_serves_its_machine_s_site_only(two_sites: World) -> None:
    w = two_sites
    drill_kiosk = (
        await w.ok("POST", "/api/tokens", "paris", json={"role": "kiosk", "label": "d", "machine": "drill"})
    )["token"]
    w.tokens["drill-kiosk"] = drill_kiosk
    # Léa's badge is lyon's: at the paris kiosk it is refused as a badge nobody registered.
    for badge in ("B-LEA", "B-NOBODY"):
        refused = await w.call("POST", "/api/sessions/check-in", "drill-kiosk", json={"badge": badge})
        assert refused.status_code == 404, refused.text
        assert refused.json()["detail"]["code"] == "badge_unknown"
    # Naming lyon's mill: the kiosk knows no such machine.
    refused = await w.call("POST", "/api/sessions/check-in", "drill-kiosk", json={"machine": "mill", "badge": "B-LEA"})
    assert refused.status_code == 404
    assert (await w.call("GET", "/api/stop-reasons/lyon", "drill-kiosk")).status_code == 404
    assert (await w.call("GET", "/api/stop-reasons/paris", "drill-kiosk")).status_code == 200
    assert w.count(WorkSessionRecord) == 0


async def test_a_viewer_token_belongs_to_one_site(two_sites: World) -> None:
    w = two_sites
    made = await w.ok("POST", "/api/tokens", "both", json={"role": "viewer", "label": "tv", "site": "paris"})
    assert made["site"] == "paris"
    refused = await w.call("POST", "/api/tokens", "both", json={"role": "viewer", "label": "tv"})
    assert refused.json()["detail"]["code"] == "site_required"
    assert [t["site"] for t in await w.ok("GET", "/api/tokens", "paris")] == ["paris"]


async def test_a_login_of_more_sites_than_yours_is_changed_only_by_a_master_of_them_all(two_sites: World) -> None:
    w = two_sites
    users = {u["username"]: u["id"] for u in await w.ok("GET", "/api/users", "both")}
    # "both" has lyon as their own site: a master of lyon alone sees them, but may not act as them elsewhere.
    for method, suffix, body in (
        ("POST", "/password", {"password": "taken-over-1"}),
        ("PATCH", "", {"active": False}),
        ("DELETE", "/sessions", None),
        ("PUT", "/badge", {"badge": "M-1"}),
    ):
        refused = await w.call(method, f"/api/users/{users['both']}{suffix}", "admin", json=body)
        assert refused.status_code == 403, (suffix, refused.text)
        assert refused.json()["detail"]["code"] == "user_other_sites"
        assert "paris" in refused.json()["detail"]["message"]
    await w.ok("POST", f"/api/users/{users['master']}/password", "both", json={"password": "reset-pass-1"})


async def test_a_master_of_every_site_changes_a_login_s_sites_and_it_sees_them_at_once(two_sites: World) -> None:
    from sqlalchemy import select

    from gateway.store.models import AuditEntry

    w = two_sites
    new = {"username": "dupont", "password": "password-1", "role": "admin", "sites": ["lyon"]}
    made = await w.ok("POST", "/api/users", "both", json=new)
    login = {"username": "dupont", "password": "password-1"}
    w.tokens["dupont"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    assert [c["site"] for c in await w.ok("GET", "/api/customers", "dupont")] == ["lyon"]
    # Granted paris: the same login sees paris at once, no new sign-in.
    grown = await w.ok("PUT", f"/api/users/{made['id']}/sites", "both", json={"sites": ["paris", "lyon"]})
    assert grown == {"user_id": made["id"], "site": "lyon", "sites": ["lyon", "paris"]}
    assert (await w.ok("GET", "/api/auth/me", "dupont"))["sites"] == ["lyon", "paris"]
    # Lyon removed: its own site moves to paris and its logins end (a browser open on lyon loses it now).
    shrunk = await w.ok("PUT", f"/api/users/{made['id']}/sites", "both", json={"sites": ["paris"]})
    assert shrunk == {"user_id": made["id"], "site": "paris", "sites": ["paris"]}
    assert (await w.call("GET", "/api/customers", "dupont")).status_code == 401
    w.tokens["dupont"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    assert (await w.ok("GET", "/api/auth/me", "dupont"))["sites"] == ["paris"]
    assert (await w.call("GET", f"/api/customers/{w.ids['customer']}", "dupont")).status_code == 404
    # Now of paris alone, the login is no longer lyon's master's to see.
    assert made["id"] not in [u["id"] for u in await w.ok("GET", "/api/users", "admin")]
    with w.sessions() as s:
        entries = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "set_sites", AuditEntry.entity_id == made["id"])
            .order_by(AuditEntry.id)  # in the order written (PostgreSQL returns rows in any order)
        ).all()
        assert [(e.who, e.before, e.after) for e in entries] == [
            ("both", {"sites": ["lyon"]}, {"sites": ["lyon", "paris"]}),
            ("both", {"sites": ["lyon", "paris"]}, {"sites": ["paris"]}),
        ]


async def test_who_may_not_change_a_login_s_sites(two_sites: World) -> None:
    w = two_sites
    users = {u["username"]: u["id"] for u in await w.ok("GET", "/api/users", "both")}

    async def refused(role: str, user: str, sites: Any, status: int, code: str) -> None:
        response = await w.call("PUT", f"/api/users/{users[user]}/sites", role, json={"sites": sites})
        assert response.status_code == status, (role, user, sites, response.text)
        if code:
            assert response.json()["detail"]["code"] == code, response.text

    # A master of lyon alone: may not grant paris, nor touch a login that also has paris (nor remove it).
    await refused("admin", "master", ["lyon", "paris"], 409, "own_sites")
    await w.ok("POST", "/api/users", json={"username": "vue", "password": "password-1", "role": "viewer"})
    users = {u["username"]: u["id"] for u in await w.ok("GET", "/api/users", "both")}
    await refused("admin", "vue", ["lyon", "paris"], 422, "site_not_yours")
    await refused("admin", "both", ["lyon"], 403, "user_other_sites")
    # A master of paris alone does not see lyon's logins at all.
    await refused("paris", "vue", ["paris"], 404, "user_not_found")
    # Never no site; a student's login keeps its student's, a network login reads none.
    await refused("both", "vue", [], 422, "")
    await refused("both", "lea", ["paris"], 422, "user_sites_only_masters_viewers")
    await refused("both", "reseau", ["paris"], 422, "user_sites_only_masters_viewers")
    await refused("both", "vue", ["nantes"], 422, "site_not_yours")
    await refused("both", "vue", ["Not A Site"], 422, "")
    # Nothing changed by the refusals; a master of both may.
    assert (await w.ok("PUT", f"/api/users/{users['vue']}/sites", "both", json={"sites": ["lyon"]}))["sites"] == [
        "lyon"
    ]
    assert (await w.ok("PUT", f"/api/users/{users['vue']}/sites", "both", json={"sites": ["paris", "lyon"]}))[
        "sites"
    ] == ["lyon", "paris"]


async def test_a_badge_is_unique_across_schools_without_naming_the_other_school_s_student(two_sites: World) -> None:
    w = two_sites
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-LEA"}
    refused = await w.call("POST", "/api/students", "paris", json=tom)
    assert refused.status_code == 409
    assert refused.json()["detail"]["code"] == "badge_taken_elsewhere"
    assert "Léa" not in refused.text


async def test_a_network_login_opens_the_network_page_and_nothing_of_a_school(
    world: World, databases: dict[str, str], backend: str
) -> None:
    from tests.gateway.records.conftest import site_client

    me = await world.ok("GET", "/api/auth/me", "network")
    assert (me["role"], me["sites"]) == ("network", [])
    async with site_client(databases[backend], world.clock) as client:
        seen = {
            path: (await client.get(path, headers=world.as_("network"))).status_code
            for path in ("/network", "/network.csv", "/orders", "/utilisation", "/desk", "/desk/students", "/calendar")
        }
        assert seen == {"/network": 200, "/network.csv": 200} | dict.fromkeys(
            ("/orders", "/utilisation", "/desk", "/desk/students", "/calendar"), 403
        )
        machines = await client.get("/api/machines", headers=world.as_("network"))
        assert machines.json() == []  # machine state of no school: a network login acts on none
