"""Logging in and out, the page cookie, a screen's sign-in with its API token, login expiry."""

from __future__ import annotations

from datetime import timedelta

from gateway.store.models import LoginSession
from tests.gateway.records.conftest import World


async def test_login_sets_a_cookie_that_works_until_logout(world: World) -> None:
    client = world.client
    response = await client.post("/api/auth/login", json={"username": "lea", "password": "lea-pass-1"})
    assert response.status_code == 200
    assert "httponly" in response.headers["set-cookie"].lower()
    assert (await client.get("/api/auth/me")).json()["student_id"] == world.ids["student"]
    assert (await client.post("/api/auth/logout")).status_code == 204
    client.cookies.clear()  # the browser drops it on the deletion header; the token itself is gone server-side
    token = response.json()["token"]
    again = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


async def test_a_login_expires(world: World) -> None:
    world.clock.now += timedelta(hours=12, seconds=1)
    response = await world.call("GET", "/api/auth/me", "admin")
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "credentials_invalid"


async def test_wrong_credentials_open_no_session(world: World) -> None:
    before = world.count(LoginSession)
    for body in ({"username": "lea", "password": "nope-nope"}, {"username": "ghost", "password": "whatever1"}):
        response = await world.client.post("/api/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["detail"]["code"] == "login_failed"
    assert world.count(LoginSession) == before


async def test_a_screen_signs_in_once_with_its_token(world: World) -> None:
    client = world.client
    response = await client.get("/api/auth/screen", params={"token": world.tokens["viewer"]})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    me = await client.get("/api/auth/me")
    assert me.json()["role"] == "viewer"
    client.cookies.clear()
    refused = await client.get("/api/auth/screen", params={"token": world.tokens["admin"]})  # a login, not an API token
    assert refused.status_code == 401
