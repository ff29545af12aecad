"""``/api/health``: is the gateway connected, subscribed and ingesting? For monitoring and start-up checks."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.web.deps import ServicesDep

router = APIRouter(prefix="/api/health", tags=["health"])


class Health(BaseModel):
    ingest_running: bool
    broker_connected: bool
    subscribed: bool
    batches: int
    machines: int


@router.get("", response_model=Health)
async def health(services: ServicesDep) -> Health:
    ingest = services.ingest
    consumer = None if ingest is None else ingest.consumer
    return Health(
        ingest_running=ingest is not None and ingest.healthy,
        broker_connected=consumer is not None and consumer.connected.is_set(),
        subscribed=consumer is not None and consumer.subscribed.is_set(),
        batches=0 if ingest is None else ingest.batches,
        machines=len(services.live.machines()),
    )
