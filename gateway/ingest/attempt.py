"""One attempt at writing a batch: its transaction, the machines it names, and what it decided so far.

The projector makes one per try (in bulk, or message by message); the jobs of
ingest (``owners``, ``sequencing``, ``status``) read and extend it.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.ingest.agents import KnownAgents
from gateway.ingest.messages import BatchOutcome, Received
from gateway.ingest.writer import BulkWriter, OneByOneWriter, dead_letter_row
from gateway.store import bulk

logger = logging.getLogger(__name__)


class OnceLog:
    """Logs an error once per key (an agent, a machine and agent), not once per message of a flood."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._logged: set[Hashable] = set()

    def error(self, key: Hashable, message: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            self._log.error(message, *args)


@dataclass
class Attempt:
    db: Session
    agents: KnownAgents
    writer: BulkWriter | OneByOneWriter
    machines: dict[bulk.MachineKey, bulk.Owned]  # the machines the batch names, with their owners, as stored
    once: OnceLog
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    seen: set[bulk.Key] = field(default_factory=set)  # (agent row, seq) stored, or earlier in this batch
    stored: dict[bulk.Key, bulk.Stamp] = field(default_factory=dict)  # what the store holds for ``seen`` keys
    touched: dict[int, datetime] = field(default_factory=dict)  # machine row -> last received
    announced: dict[int, frozenset[str]] = field(default_factory=dict)  # agent row -> machines it announces

    def dead_letter(self, item: Received, reason: str) -> None:
        """Refuse a message: its dead letter is written with the batch's rows, and counted."""
        logger.warning("dead letter topic=%r reason=%r", item.topic, reason)
        self.writer.add_dead_letter(item, reason)
        self.outcome.dead_letters += 1

    def dead_letter_now(self, item: Received, reason: str) -> None:
        """A dead-letter row written at once (after its stretch of the batch was written); the caller counts it."""
        write_dead_letter(self.db, item, reason)


def write_dead_letter(db: Session, item: Received, reason: str) -> None:
    bulk.insert_rows(db=db, table=bulk.DEAD_LETTERS, rows=[dead_letter_row(item, reason)])
