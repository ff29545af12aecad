"""``POST /api/machines/{site}/{machine}/move``: a master gives a machine to another agent (it moved to another PC).

The one deliberate way a machine changes owner on the bus (the other is
``atelier gateway move-machine``); audited. Ingest reads owners from the store
for every batch, so the next batch obeys.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from edge_agent.contract import ID_PATTERN
from gateway.store import ownership_repo
from gateway.web.guards import Admin, own_site
from gateway.web.records_state import StateDep

router = APIRouter(prefix="/api/machines", tags=["machines"])
BusId = Annotated[str, Path(pattern=ID_PATTERN)]


class MachineMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(pattern=ID_PATTERN, description="the id of the agent that now serves the machine")


class MachineMoved(BaseModel):
    site: str
    machine: str
    previous_agent: str
    agent: str
    agent_known: bool  # False: the agent has not announced itself yet


@router.post("/{site}/{machine}/move")
def move_machine(
    site: BusId, machine: BusId, body: MachineMove, *, who: Admin, state: StateDep, request: Request
) -> MachineMoved:
    own_site(who, site)
    with state.transaction(who) as db:
        move = ownership_repo.move_machine(
            db=db, site=site, machine=machine, agent=body.agent, who=who.name, now=state.now()
        )
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.live.moved(site, machine, agent=move.agent, online=move.online)
    return MachineMoved(
        site=move.site,
        machine=move.machine,
        previous_agent=move.previous,
        agent=move.agent,
        agent_known=not move.new_agent,
    )
