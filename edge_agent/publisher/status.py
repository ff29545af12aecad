"""What the agent says of itself on its retained status topic: online or offline, and the outbox's alarms."""

from __future__ import annotations

from datetime import UTC, datetime

from edge_agent import __version__, contract
from edge_agent.outbox import Outbox

OVER_BUDGET_ALARM = "outbox_over_budget"
# The outbox cannot store (disk full, read-only, I/O error): events wait in memory until it can.
WRITE_FAILED_ALARM = "outbox_write_failed"


def outbox_alarms(outbox: Outbox) -> tuple[str, ...]:
    over = (OVER_BUDGET_ALARM,) if outbox.over_budget else ()
    return over + ((WRITE_FAILED_ALARM,) if outbox.write_error else ())


def agent_status(outbox: Outbox, machines: tuple[str, ...], status: str, alarms: tuple[str, ...] = ()) -> bytes:
    return contract.encode(
        contract.AgentStatus(
            agent=outbox.agent,
            ts=datetime.now(UTC),
            status=status,
            version=__version__,
            machines=machines,
            site=outbox.site,
            alarms=alarms,
        )
    )
