"""Whatever the exception, one message never holds back the others: bulk, then one by one, then halves.

A batch is first written in bulk. If that fails for a reason that is not the
store's, it is written again message by message (each sequenced message in
savepoints of its own, so a message whose rows fail is dead-lettered and the rest
commits). If even that fails (a failure outside the savepoints: an agent status,
the commit), the batch is split in halves, each written the same way, down to the
one message at fault, which is dead-lettered alone. Failures of the store itself
(``store_unwell``: locked, disk full, connection lost) are not the message's
fault: they abort the whole batch, which the caller retries without acknowledging
anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from gateway.ingest.attempt import write_dead_letter
from gateway.ingest.decoding import Entry
from gateway.ingest.failures import store_unwell
from gateway.ingest.messages import BatchOutcome

logger = logging.getLogger(__name__)

# Writes entries in one transaction, in bulk or (``one_by_one``) message by message; raises if that fails.
Write = Callable[[list[Entry], bool], BatchOutcome]


def isolate(entries: list[Entry], write: Write, sessions: sessionmaker[Session]) -> BatchOutcome:
    """In bulk; else message by message; else in halves, down to the one message at fault."""
    failure: Exception | None = None
    for one_by_one in (False, True):
        try:
            outcome = write(entries, one_by_one)
        except Exception as err:
            if store_unwell(err):
                raise  # the caller retries the batch with back-off
            failure = err
            how = "split" if one_by_one else "replayed message by message"
            logger.info("batch of %d %s: %s: %s", len(entries), how, type(err).__name__, err)
            continue
        outcome.replays += one_by_one
        return outcome
    assert failure is not None
    if len(entries) == 1:
        return _refuse_alone(entries[0], failure, sessions)
    half = len(entries) // 2
    outcome = isolate(entries[:half], write, sessions)
    outcome.merge(isolate(entries[half:], write, sessions))
    outcome.splits += 1
    return outcome


def _refuse_alone(entry: Entry, failure: Exception, sessions: sessionmaker[Session]) -> BatchOutcome:
    """The message a batch failed on, isolated: dead-lettered in a transaction of its own."""
    item, _ = entry
    first_line = (str(failure).strip().splitlines() or [""])[0]
    reason = f"could not be stored: {type(failure).__name__}: {first_line}"
    logger.error("message isolated as the cause of a failing batch topic=%r: %s", item.topic, reason)
    with sessions.begin() as db:
        write_dead_letter(db, item, reason)
    return BatchOutcome(dead_letters=1)
