"""Start-up: rebuild the live view and the gap tracker from the store."""

from __future__ import annotations

import logging
from datetime import datetime, time, tzinfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from edge_agent import contract
from gateway.ingest.gaps import GapTracker
from gateway.live import DEFAULT_ZONE, MachineView, local_date
from gateway.store import bus_repo

logger = logging.getLogger(__name__)


def machine_views(*, db: Session, now: datetime, zone: tzinfo = DEFAULT_ZONE) -> list[MachineView]:
    agents = {a.id: a for a in bus_repo.all_agents(db=db)}
    midnight = datetime.combine(local_date(now, zone), time(), tzinfo=zone)
    cycles = bus_repo.last_cycles(db=db)
    parts = bus_repo.parts_since(db=db, since=midnight)
    changes = bus_repo.last_state_changes(db=db)
    views = []
    for machine in bus_repo.all_machines(db=db):
        agent = agents[machine.agent_id]
        view = MachineView(machine.site, machine.name, agent=agent.name, agent_online=agent.status == "online")
        view.state = _state(machine.last_state, machine.site, machine.name)
        view.state_ts = machine.last_state_ts
        if machine.part_counter is not None and view.state.part_count != machine.part_counter:
            view.state = view.state.model_copy(update={"part_count": machine.part_counter})
        view.state_since = changes.get(machine.id) or machine.last_state_ts
        if machine.id in cycles:
            view.last_cycle_s, view.last_cycle_end = cycles[machine.id].duration_s, cycles[machine.id].ended
        view.parts_today, view.parts_day = parts.get(machine.id, 0), midnight.date()
        view.updated = machine.last_seen
        views.append(view)
    return views


def agents_online(*, db: Session) -> dict[tuple[str, str], bool]:
    return {(a.site, a.name): a.status == "online" for a in bus_repo.all_agents(db=db)}


def _state(raw: dict[str, object] | None, site: str, machine: str) -> contract.MachineState:
    if raw is None:
        return contract.MachineState()
    try:
        return contract.MachineState.model_validate(raw)
    except ValidationError:
        logger.warning("stored state of %s/%s no longer validates; starting from unknown", site, machine)
        return contract.MachineState()


def gap_tracker(*, db: Session, timeout_s: float, now: float, max_span: int = 1000) -> GapTracker:
    tracker = GapTracker(timeout_s=timeout_s, max_span=max_span)
    for agent in bus_repo.all_agents(db=db):
        above = bus_repo.seqs_above(db=db, agent_id=agent.id, seq=agent.contiguous_seq)
        tracker.restore((agent.site, agent.name), contiguous=agent.contiguous_seq, seen_above=above, now=now)
    return tracker
