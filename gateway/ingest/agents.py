"""The agents ingest knows: row ids by bus id, and each one's contiguous seq as last saved. A cache of the store.

An agent becomes known with its first status; a batch that fails forgets the
agents it registered, since their rows were rolled back with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.orm import Session

from gateway.ingest.messages import AgentKey
from gateway.store import bulk
from gateway.store.models import Agent


class KnownAgents:
    def __init__(self) -> None:
        self._ids: dict[AgentKey, int] = {}
        self._saved_contiguous: dict[int, int] = {}  # agent row -> contiguous seq as the store holds it

    def load(self, agents: Sequence[Agent]) -> None:
        self._ids = {(a.site, a.name): a.id for a in agents}
        self._saved_contiguous = {a.id: a.contiguous_seq for a in agents if a.contiguous_seq is not None}

    def id_of(self, key: AgentKey) -> int | None:
        return self._ids.get(key)

    def register(self, key: AgentKey, agent_id: int) -> None:
        self._ids[key] = agent_id

    @contextmanager
    def forgotten_on_failure(self) -> Iterator[None]:
        """Agents registered inside are forgotten again if it raises (their batch was rolled back)."""
        before = dict(self._ids)
        try:
            yield
        except BaseException:
            self._ids = before
            raise

    def save_contiguous(self, db: Session, contiguous: dict[AgentKey, int]) -> dict[int, int]:
        """Write each agent's highest gap-free seq where it moved; what was written, for ``saved`` after commit."""
        changed: dict[int, int] = {}
        for key, seq in contiguous.items():
            agent_id = self._ids.get(key)
            if agent_id is not None and self._saved_contiguous.get(agent_id) != seq:
                changed[agent_id] = seq
        bulk.set_contiguous(db=db, seqs=changed)
        return changed

    def saved(self, seqs: dict[int, int]) -> None:
        self._saved_contiguous.update(seqs)
