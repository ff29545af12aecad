"""The live status page and its WebSocket: a full snapshot on connect, then each change."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.websockets import WebSocketDisconnect

from gateway.live import Subscription
from gateway.web.deps import LiveDep
from gateway.web.i18n import labels_for, pick_lang

router = APIRouter(tags=["status"])
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=TEMPLATES)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def status_page(request: Request, lang: str | None = None) -> HTMLResponse:
    chosen = pick_lang(lang)
    context: dict[str, Any] = {"lang": chosen, "labels": labels_for(chosen)}
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "status.html", context)


@router.websocket("/ws/status")
async def status_socket(websocket: WebSocket, live: LiveDep) -> None:
    await websocket.accept()
    with live.subscribe() as subscription:
        sender = asyncio.create_task(_send(websocket, subscription))
        receiver = asyncio.create_task(_until_closed(websocket))
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
    with contextlib.suppress(RuntimeError):
        await websocket.close()


async def _send(websocket: WebSocket, subscription: Subscription) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while True:
            await websocket.send_json(await subscription.get())


async def _until_closed(websocket: WebSocket) -> None:
    # The page sends nothing; reading is how a closed connection (or a server shutdown) is noticed.
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
