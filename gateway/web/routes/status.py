"""The live status page and its WebSocket: a full snapshot on connect, then each change."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketException, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.websockets import WebSocketDisconnect

from gateway.auth import Principal
from gateway.live import LiveView, Subscription
from gateway.web.deps import LiveDep
from gateway.web.guards import credentials, current, machines_seen, open_sites, sees_site
from gateway.web.header import header
from gateway.web.i18n import LABELS, labels_for, lang_of
from gateway.web.occupancy import Occupancy, enrich
from gateway.web.origin import origin_allowed
from gateway.web.page_labels import page_labels
from gateway.web.pages import records, who_is

router = APIRouter(tags=["status"])
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=TEMPLATES)


REFRESH_S = 2.0  # how often a quiet socket looks again at who is checked in


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request) -> HTMLResponse:
    chosen = lang_of(request)
    kiosk = request.query_params.get("kiosk") in ("1", "true", "yes")
    who = who_is(request)  # a database read: FastAPI runs this plain function in its thread pool
    context: dict[str, Any] = {
        "lang": chosen,
        "labels": labels_for(chosen),
        "L": page_labels(chosen),
        "kiosk": kiosk,
        "head": header(request, who, records(request), tuple(LABELS)),
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "status.html", context)


def watcher(connection: WebSocket) -> Principal | None:
    """Who watches decides what the tiles say of students, who are minors (see occupancy.work_json), and
    which sites' machines they show (``guards.sees_site``)."""
    if credentials(connection) is None:
        return None
    return current(connection, connection.app.state.records)


def seen(message: dict[str, Any], who: Principal | None, opened: frozenset[str]) -> dict[str, Any] | None:
    """The part of a live message ``who`` may see: a snapshot of their sites' machines, another site's
    machine change not at all (None). Nobody signed in: the ``opened`` sites' (``guards.open_sites``)."""
    if "machines" in message:
        return {**message, "machines": machines_seen(who, message["machines"], opened)}
    if "machine" in message and not sees_site(who, message["machine"]["site"], opened):
        return None
    return message


def occupancy_of(connection: WebSocket) -> Occupancy:
    app = connection.app
    if getattr(app.state, "occupancy", None) is None:
        app.state.occupancy = Occupancy(app.state.services.database, app.state.records.now)
    found: Occupancy = app.state.occupancy
    return found


@router.websocket("/ws/status")
async def status_socket(websocket: WebSocket, live: LiveDep) -> None:
    if not origin_allowed(websocket, websocket.app.state.settings.http.allowed_origins):
        # Refused before the handshake completes: the browser sees a 403 and the page's script gets nothing.
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason="foreign origin")
    who = await asyncio.to_thread(watcher, websocket)
    await websocket.accept()
    with live.subscribe() as subscription:
        sender = asyncio.create_task(_send(websocket, subscription, live, occupancy_of(websocket), who))
        receiver = asyncio.create_task(_until_closed(websocket))
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()


async def _send(
    websocket: WebSocket, subscription: Subscription, live: LiveView, occupancy: Occupancy, who: Principal | None
) -> None:
    role = None if who is None else who.role
    setting = websocket.app.state.records.settings.open_status_screen
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        sent = await occupancy.current()
        while True:
            try:
                message = await asyncio.wait_for(subscription.get(), REFRESH_S)
            except TimeoutError:
                # Nothing moved, but a check-in or check-out changes the tiles too.
                if await occupancy.current() == sent:
                    continue
                message = live.snapshot()
            sent = await occupancy.current()
            # Worked out again for each message: a second site's machine arriving closes a ``true`` screen.
            shown = seen(message, who, open_sites(setting, live.sites()) if who is None else frozenset())
            if shown is not None:
                await websocket.send_json(enrich(shown, sent, role=role))


async def _until_closed(websocket: WebSocket) -> None:
    # The page sends nothing; reading is how a closed connection (or a server shutdown) is noticed.
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
