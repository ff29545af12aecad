"""Events as the pure pipeline produces them: everything but the agent, machine and sequence number.

The outbox seals a draft inside the transaction that allocates its ``seq``, so
a sequence number exists only for an event that is on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge_agent.contract import EventMessage


@dataclass(frozen=True, slots=True)
class Draft:
    type: type[EventMessage]
    ts: datetime
    fields: dict[str, Any] = field(default_factory=dict)

    def seal(self, *, agent: str, machine: str, seq: int) -> EventMessage:
        return self.type(agent=agent, machine=machine, seq=seq, ts=self.ts, **self.fields)
