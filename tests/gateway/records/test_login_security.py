"""Guessing visitors are throttled while masters still log in; logins can be disabled, reset and revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import httpx
from argon2 import PasswordHasher

from gateway import auth
from gateway.store.models import AuditEntry, LoginSession
from tests.gateway.records.conftest import World, client_for

MASTER = {"username": "master", "password": "master-pass"}


def from_address(w: World, host: str) -> httpx.AsyncClient:
    """A client at another address on the workshop network (the ASGI scope's client)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=w.app, client=(host, 50_000)), base_url="http://gateway")


async def guess(client: httpx.AsyncClient, username: str, n: int) -> list[httpx.Response]:
    return [
        await client.post("/api/auth/login", json={"username": username, "password": f"guess-{i:04d}"})
        for i in range(n)
    ]


async def test_a_guessing_address_gets_429_while_a_master_elsewhere_logs_in(world: World) -> None:
    async with from_address(world, "10.0.0.66") as guesser, from_address(world, "10.0.0.5") as master:
        answers = await guess(guesser, "master", 14)
        assert [r.status_code for r in answers] == [401] * 10 + [429] * 4
        refused = answers[-1]
        assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
        assert refused.json()["detail"]["code"] == "too_many_logins"
        # Even the right password is refused from the guessing address: no hashing is spent on it.
        assert (await guesser.post("/api/auth/login", json=MASTER)).status_code == 429
        assert (await master.post("/api/auth/login", json=MASTER)).status_code == 200
    # The window passes, the address may try again.
    world.clock.now += timedelta(minutes=15, seconds=1)
    async with from_address(world, "10.0.0.66") as guesser:
        assert (await guesser.post("/api/auth/login", json=MASTER)).status_code == 200


async def test_guesses_from_many_addresses_lock_the_name_but_not_the_masters_own_browser(world: World) -> None:
    async with from_address(world, "10.0.0.5") as master:
        assert (await master.post("/api/auth/login", json=MASTER)).status_code == 200  # the master's usual PC
        assert "atelier_device" in master.cookies
        for host in range(4):  # 4 addresses x 5 guesses: the name's budget of 20
            async with from_address(world, f"10.0.1.{host}") as guesser:
                assert {r.status_code for r in await guess(guesser, "master", 5)} == {401}
        async with from_address(world, "10.0.2.1") as fresh:
            refused = await fresh.post("/api/auth/login", json=MASTER)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) > 0
            # Another name is not concerned.
            lea = await fresh.post("/api/auth/login", json={"username": "lea", "password": "lea-pass-1"})
            assert lea.status_code == 200
        assert (await master.post("/api/auth/login", json=MASTER)).status_code == 200
        # A forged or stale device proof does not open the name.
        async with from_address(world, "10.0.2.2") as forger:
            forger.cookies.set("atelier_device", "1.00000000000000000000000000000000")
            assert (await forger.post("/api/auth/login", json=MASTER)).status_code == 429


async def test_the_login_form_says_when_to_come_back(world: World) -> None:
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates

    from gateway.web.app import STATIC
    from gateway.web.pages import install
    from gateway.web.routes import login_page, status

    world.app.state.templates = Jinja2Templates(directory=status.TEMPLATES)
    install(world.app, [login_page.router])
    world.app.mount("/static", StaticFiles(directory=STATIC), name="static")
    async with from_address(world, "10.0.0.77") as guesser:
        for _ in range(10):
            page = await guesser.post("/login", data={"username": "master", "password": "nope-nope"})
            assert page.status_code == 401
        page = await guesser.post("/login", data={"username": "master", "password": "nope-nope"})
    assert page.status_code == 429
    assert int(page.headers["retry-after"]) > 0
    assert "Trop d&#39;essais manqués. Réessayez dans 15 min." in page.text


async def test_parallel_guesses_are_counted_before_they_are_answered(world: World) -> None:
    import asyncio

    async with from_address(world, "10.0.0.88") as guesser:
        answers = await asyncio.gather(
            *(guesser.post("/api/auth/login", json={"username": "master", "password": f"p-{i:04d}"}) for i in range(30))
        )
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 10 + [429] * 20


async def test_a_disabled_user_is_signed_out_and_cannot_log_in_until_enabled(world: World) -> None:
    users = {u["username"]: u for u in await world.ok("GET", "/api/users")}
    lea = users["lea"]
    disabled = await world.ok("PATCH", f"/api/users/{lea['id']}", json={"active": False})
    assert disabled["active"] is False
    assert (await world.call("GET", "/api/auth/me", "student")).status_code == 401
    login = {"username": "lea", "password": "lea-pass-1"}
    assert (await world.client.post("/api/auth/login", json=login)).status_code == 401
    await world.ok("PATCH", f"/api/users/{lea['id']}", json={"active": True})
    assert (await world.client.post("/api/auth/login", json=login)).status_code == 200
    own = await world.call("PATCH", f"/api/users/{users['master']['id']}", json={"active": False})
    assert own.status_code == 409
    assert own.json()["detail"]["code"] == "own_login"
    with world.sessions() as session:
        entries = session.query(AuditEntry).filter(AuditEntry.entity == "user").order_by(AuditEntry.id)
        actions = [e.action for e in entries]  # in the order written: PostgreSQL returns rows in any order
    assert actions[-2:] == ["disable", "enable"]


async def test_a_disabled_student_is_signed_out_and_cannot_log_in(world: World) -> None:
    await world.ok("PATCH", f"/api/students/{world.ids['student']}", json={"active": False})
    assert (await world.call("GET", "/api/auth/me", "student")).status_code == 401
    login = {"username": "lea", "password": "lea-pass-1"}
    assert (await world.client.post("/api/auth/login", json=login)).status_code == 401
    await world.ok("PATCH", f"/api/students/{world.ids['student']}", json={"active": True})
    assert (await world.client.post("/api/auth/login", json=login)).status_code == 200


async def test_changing_ones_password_ends_the_other_sessions_only(world: World) -> None:
    login = {"username": "lea", "password": "lea-pass-1"}
    other = (await world.ok("POST", "/api/auth/login", None, json=login))["token"]
    change = {"current_password": "lea-pass-1", "new_password": "lea-pass-2"}
    wrong = await world.call("POST", "/api/auth/password", "student", json={**change, "current_password": "nope-1234"})
    assert wrong.status_code == 403
    await world.ok("POST", "/api/auth/password", "student", json=change)
    assert (await world.call("GET", "/api/auth/me", "student")).status_code == 200  # the session that changed it
    gone = await world.client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"})
    assert gone.status_code == 401
    assert (await world.client.post("/api/auth/login", json=login)).status_code == 401
    assert (await world.client.post("/api/auth/login", json={**login, "password": "lea-pass-2"})).status_code == 200
    short = {"current_password": "lea-pass-2", "new_password": "short"}
    assert (await world.call("POST", "/api/auth/password", "student", json=short)).status_code == 422
    with world.sessions() as session:
        texts = str([(e.before, e.after) for e in session.query(AuditEntry)])
    assert "argon2" not in texts


async def test_a_master_resets_a_password_and_revokes_sessions(world: World) -> None:
    users = {u["username"]: u for u in await world.ok("GET", "/api/users")}
    lea = users["lea"]["id"]
    await world.ok("POST", f"/api/users/{lea}/password", json={"password": "given-by-master"})
    assert (await world.call("GET", "/api/auth/me", "student")).status_code == 401
    short = await world.call("POST", f"/api/users/{lea}/password", json={"password": "short"})
    assert short.status_code == 422
    login = {"username": "lea", "password": "given-by-master"}
    for _ in range(3):
        await world.ok("POST", "/api/auth/login", None, json=login)
    revoked = await world.ok("DELETE", f"/api/users/{lea}/sessions")
    assert revoked == {"user_id": lea, "sessions_revoked": 3}
    with world.sessions() as session:
        assert session.query(LoginSession).filter(LoginSession.user_id == lea).count() == 0


async def test_kiosk_and_viewer_tokens_expire(world: World) -> None:
    # Tokens made without a validity get the default year.
    default = await world.ok("POST", "/api/tokens", json={"role": "viewer", "label": "door"})
    assert default["expires"].startswith(str(world.clock.now.year + 1))
    made = await world.ok("POST", "/api/tokens", json={"role": "viewer", "label": "hall", "valid_days": 2})
    assert made["expires"].startswith((world.clock.now + timedelta(days=2)).date().isoformat())
    screen = await world.client.get("/api/auth/screen", params={"token": made["token"]})
    assert "max-age=172800" in screen.headers["set-cookie"].lower()
    world.client.cookies.clear()
    headers = {"Authorization": f"Bearer {made['token']}"}
    assert (await world.client.get("/api/auth/me", headers=headers)).status_code == 200
    world.clock.now += timedelta(days=2, seconds=1)
    assert (await world.client.get("/api/auth/me", headers=headers)).status_code == 401
    refused = await world.client.get("/api/auth/screen", params={"token": made["token"]})
    assert refused.status_code == 401


async def test_password_work_never_exceeds_its_workers(world: World, monkeypatch: object) -> None:
    """16 parallel logins: at most ``password_workers`` argon2 computations at once, none on the event loop."""
    import asyncio
    import threading

    class Counting(PasswordHasher):
        running = peak = 0
        lock = threading.Lock()
        loop_thread = threading.get_ident()
        on_loop = 0

        def _enter(self) -> None:
            with self.lock:
                Counting.running += 1
                Counting.peak = max(Counting.peak, Counting.running)
                Counting.on_loop += threading.get_ident() == Counting.loop_thread

        def _leave(self) -> None:
            with self.lock:
                Counting.running -= 1

        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            self._enter()
            try:
                return super().verify(hash, password)
            finally:
                self._leave()

        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            self._enter()
            try:
                return super().hash(password, salt=salt)
            finally:
                self._leave()

    saved = auth._hasher
    auth._hasher = Counting(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    try:
        clients = [from_address(world, f"10.0.3.{i}") for i in range(16)]
        answers = await asyncio.gather(
            *(
                c.post("/api/auth/login", json={"username": "master", "password": f"w-{i}"})
                for i, c in enumerate(clients)
            )
        )
        for c in clients:
            await c.aclose()
    finally:
        auth._hasher = saved
    assert {r.status_code for r in answers} <= {401, 503}
    assert 1 <= Counting.peak <= world.app.state.records.settings.password_workers
    assert Counting.on_loop == 0


async def test_too_many_waiting_hashes_get_503(world: World) -> None:
    import asyncio

    state = world.app.state.records
    state.passwords.max_waiting = 0
    state.passwords.workers = 1
    state.passwords.close()
    async with client_for(world.app) as client:
        answers = await asyncio.gather(
            *(client.post("/api/auth/login", json={"username": "lea", "password": f"x-{i:05d}"}) for i in range(4))
        )
    codes = sorted(r.status_code for r in answers)
    assert 503 in codes
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["retry-after"] == "2"
