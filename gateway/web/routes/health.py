"""Health for monitoring: ``/healthz`` (200 or 503, for probes) and ``/api/health`` (the details, always 200).

Both are open to anyone, like the status screen: they say what runs, never who.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.web.deps import ServicesDep
from gateway.web.services import Services

router = APIRouter(prefix="/api/health", tags=["health"])
probe_router = APIRouter(tags=["health"])


class Health(BaseModel):
    ingest_running: bool
    broker_connected: bool
    subscribed: bool
    batches: int
    machines: int


class Check(BaseModel):
    ok: bool
    detail: str
    required: bool = True  # an optional part (InfluxDB) that fails degrades, it does not fail the gateway


class Healthz(BaseModel):
    status: str  # "ok" or "failing"
    failing: list[str]
    checks: dict[str, Check]


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


@probe_router.get(
    "/healthz",
    response_model=Healthz,
    responses={503: {"model": Healthz, "description": "a required part is failing"}},
)
async def healthz(services: ServicesDep) -> JSONResponse:
    """200 when ingest runs and keeps up, the broker is connected and the database answers; 503 naming what fails."""
    checks = await gateway_checks(services)
    failing = [name for name, check in checks.items() if check.required and not check.ok]
    body = Healthz(status="failing" if failing else "ok", failing=failing, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if failing else 200)


async def gateway_checks(services: Services) -> dict[str, Check]:
    ingest = services.ingest
    consumer = None if ingest is None else ingest.consumer
    checks = {
        "ingest": Check(
            ok=ingest is not None and ingest.healthy and ingest.stalled_for() is None, detail=_ingest_detail(services)
        ),
        "mqtt": (
            Check(ok=True, detail="connected")
            if consumer is not None and consumer.connected.is_set()
            else Check(ok=False, detail="not connected to the broker")
        ),
    }
    if services.database is None:
        checks["database"] = Check(ok=False, detail="no database configured")
    else:
        problem = await services.database_probe.problem(services.database)
        checks["database"] = Check(ok=problem is None, detail=problem or "answers")
    sink = services.influx
    if sink is not None:
        stats = sink.stats
        detail = f"{stats.buffered} lines buffered" + (f"; {stats.last_error}" if sink.failing else "")
        checks["influx"] = Check(ok=not sink.failing, detail=detail, required=False)
    return checks


def _ingest_detail(services: Services) -> str:
    ingest = services.ingest
    if ingest is None:
        return "this gateway serves pages only"
    if not ingest.healthy:
        return "the ingest loop has stopped"
    waited = ingest.stalled_for()
    if waited is not None:
        why = ingest.last_error or "the batch in hand is still being written"
        return f"ingest stalled: {ingest.waiting} messages wait, nothing committed for {waited:.0f} s ({why})"
    return "running"
