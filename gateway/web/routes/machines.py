"""``/api/machines``: every machine with its current state, counters and last cycle."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gateway.auth import Principal
from gateway.errors import NotFoundError
from gateway.web.deps import LiveDep
from gateway.web.guards import machine_state_reader, machines_seen, open_sites, sees_site
from gateway.web.records_state import StateDep

router = APIRouter(prefix="/api/machines", tags=["machines"])


class AlarmOut(BaseModel):
    code: str
    message: str
    severity: str


class MachineOut(BaseModel):
    site: str
    id: str
    agent: str
    agent_online: bool
    status: str
    availability: str
    execution: str | None
    mode: str | None
    program: str | None
    part_count: int | None
    tool: str | None
    alarms: list[AlarmOut]
    emergency_stop: bool | None
    spindle_speed: float | None
    feed_rate: float | None
    last_cycle_s: float | None
    last_cycle_end: str | None
    parts_today: int
    state_since: str | None
    updated: str | None


Reader = Annotated[Principal | None, Depends(machine_state_reader)]  # the router's guard, once per request


@router.get("", response_model=list[MachineOut])
async def list_machines(live: LiveDep, who: Reader, state: StateDep) -> list[dict[str, Any]]:
    return machines_seen(who, live.machines(), open_sites(state.settings.open_status_screen, live.sites()))


@router.get("/{site}/{machine}", response_model=MachineOut)
async def get_machine(site: str, machine: str, live: LiveDep, who: Reader, state: StateDep) -> dict[str, Any]:
    opened = open_sites(state.settings.open_status_screen, live.sites())
    found = live.machine(site, machine) if sees_site(who, site, opened) else None
    if found is None:
        raise NotFoundError("machine_unknown", machine=f"{site}/{machine}")
    return found
