"""The HTTP side on its own (no broker): the status page in French and English, static files, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from edge_agent import contract as c
from gateway.config import GatewaySection, GatewaySettings
from gateway.live import LiveView, MachineView
from gateway.web.app import create_app
from gateway.web.services import Services
from tests.gateway.helpers import AGENT, MACHINE, SITE


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    live = LiveView()
    st = c.MachineState(availability=c.Availability.AVAILABLE, execution=c.Execution.ACTIVE, program="P1")
    live.load([MachineView(SITE, MACHINE, agent=AGENT, agent_online=True, state=st)])
    app = create_app(GatewaySettings(gateway=GatewaySection(id="web")), Services(live=live))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        yield http


async def test_status_page_is_french_by_default_and_english_on_request(client: httpx.AsyncClient) -> None:
    french = await client.get("/")
    assert french.status_code == 200
    assert '<html lang="fr">' in french.text
    assert "État des machines" in french.text
    english = await client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert "Machine status" in english.text
    assert (await client.get("/", params={"lang": "xx"})).text == french.text
    for page in (french.text, english.text):
        assert "http://" not in page.replace('href="?lang', "")  # no external assets, no CDN
        assert "/static/status.js" in page
        assert "/static/status.css" in page


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/status.js")
    assert js.status_code == 200
    assert "/ws/status" in js.text
    css = await client.get("/static/status.css")
    assert css.status_code == 200
    assert ".s-running" in css.text


async def test_machines_api(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/machines")).json()
    assert [(m["site"], m["id"], m["status"], m["program"]) for m in listed] == [(SITE, MACHINE, "running", "P1")]
    one = await client.get(f"/api/machines/{SITE}/{MACHINE}")
    assert one.json()["agent"] == AGENT
    missing = await client.get(f"/api/machines/{SITE}/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]["params"]["machine"]
    assert (await client.get("/openapi.json")).status_code == 401  # the API's map is for masters only


async def test_health_without_ingest(client: httpx.AsyncClient) -> None:
    health = (await client.get("/api/health")).json()
    assert health == {
        "ingest_running": False,
        "broker_connected": False,
        "subscribed": False,
        "batches": 0,
        "machines": 1,
    }


async def test_a_started_gateway_freezes_what_it_holds_and_thaws_it_at_the_stop() -> None:
    """Objects held from the start are left out of full collections while the app runs (``gc.freeze``), and
    given back at the stop: an app started and stopped in a process that goes on leaves nothing frozen."""
    import gc

    gc.unfreeze()
    app = create_app(GatewaySettings(gateway=GatewaySection(id="web")), Services(live=LiveView()))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0
