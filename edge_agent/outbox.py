"""The durable outbox: every event is on disk before it is published, and stays until acknowledged.

One SQLite file in WAL mode with ``synchronous=FULL``, so a committed event
survives a power cut (telemetry and acknowledgements commit at ``NORMAL``, without an fsync).
Events and state snapshots share the agent's ``seq``, allocated inside the
transaction that stores them from a counter in ``meta`` (so a number is never
reused, even after old rows are pruned). Telemetry has its own sequence and is
dropped oldest-first beyond its budget; events are never dropped, only reported
as over budget.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent import contract
from edge_agent.contract import MachineState, StateMessage, Telemetry
from edge_agent.drafts import Draft
from edge_agent.errors import OutboxError

logger = logging.getLogger(__name__)

EVENT = 0
TELEMETRY = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL,
    sent REAL
);
CREATE INDEX IF NOT EXISTS items_unsent ON items (kind, id) WHERE sent IS NULL;
CREATE INDEX IF NOT EXISTS items_event_seq ON items (seq) WHERE kind = 0;
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1), ('next_telemetry_seq', 1), ('dropped_telemetry', 0);
"""
_INSERT = "INSERT INTO items (kind, seq, topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?, ?, ?)"
_COLUMNS = "id, kind, seq, topic, payload, qos, retain"


def _stored(channel: contract.MachineChannel) -> tuple[int, int]:
    """The (qos, retain) columns of a row of ``channel``, as the contract says it travels."""
    delivery = contract.DELIVERY[channel]
    return delivery.qos, int(delivery.retain)


_EVENT_DELIVERY, _STATE_DELIVERY, _TELEMETRY_DELIVERY = _stored("event"), _stored("state"), _stored("telemetry")
# SQLite limits the number of host parameters in one statement.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: int  # EVENT (events and state snapshots) or TELEMETRY
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class OutboxStats:
    unsent_events: int
    unsent_telemetry: int
    dropped_telemetry: int
    next_seq: int


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        agent: str,
        site: str,
        event_budget: int,
        telemetry_budget: int,
        retention_s: float,
    ) -> None:
        self.path = path
        self.agent = agent
        self.site = site
        self.event_budget = event_budget
        self.telemetry_budget = telemetry_budget
        self.retention_s = retention_s
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._synchronous = "FULL"  # telemetry transactions lower it for themselves (see _transaction)
            self._db.executescript(_SCHEMA)
            self._unsent = [self._count_unsent(EVENT), self._count_unsent(TELEMETRY)]
        except sqlite3.Error as err:
            raise OutboxError(f"cannot open the outbox {path}: {err}") from err
        self._overrun_logged = False
        # The last write that failed (disk full...), until a write succeeds again; raises an alarm.
        self.write_error: str | None = None
        self._check_budget()

    # --- writing ----------------------------------------------------------

    def put(
        self, machine: str, drafts: Sequence[Draft], state: MachineState | None = None, *, ts: datetime | None = None
    ) -> list[int]:
        """Store events (then the state snapshot) in one transaction; return their ``seq`` numbers.

        ``ts`` is the snapshot's source time; it defaults to the last draft's, or now.
        """
        if not drafts and state is None:
            return []
        topic_event = contract.machine_topic(self.site, machine, "event")
        with self._transaction("store events"):
            first = self._meta("next_seq")
            now = time.time()
            rows = []
            for seq, draft in enumerate(drafts, start=first):
                message = draft.seal(agent=self.agent, machine=machine, seq=seq)
                rows.append((EVENT, seq, topic_event, contract.encode(message), *_EVENT_DELIVERY, now))
            if state is not None:
                seq = first + len(rows)
                snapshot_ts = ts or (drafts[-1].ts if drafts else datetime.now(UTC))
                snapshot = StateMessage(agent=self.agent, machine=machine, seq=seq, ts=snapshot_ts, state=state)
                topic = contract.machine_topic(self.site, machine, "state")
                rows.append((EVENT, seq, topic, contract.encode(snapshot), *_STATE_DELIVERY, now))
            self._db.executemany(_INSERT, rows)
            self._set_meta("next_seq", first + len(rows))
        self._unsent[EVENT] += len(rows)
        self._check_budget()
        return [row[1] for row in rows]

    def put_telemetry(self, machine: str, ts: datetime, values: dict[str, float]) -> int:
        """Store one telemetry sample (QoS 0); return its telemetry ``seq``."""
        fields = {key: value for key, value in values.items() if key in contract.TELEMETRY_FIELDS}
        topic = contract.machine_topic(self.site, machine, "telemetry")
        with self._transaction("store telemetry", durable=False):
            seq = self._meta("next_telemetry_seq")
            message = Telemetry(agent=self.agent, machine=machine, seq=seq, ts=ts, **fields)
            self._db.execute(
                _INSERT, (TELEMETRY, seq, topic, contract.encode(message), *_TELEMETRY_DELIVERY, time.time())
            )
            self._set_meta("next_telemetry_seq", seq + 1)
            excess = self._unsent[TELEMETRY] + 1 - self.telemetry_budget
            dropped = 0
            if excess > 0:
                dropped = self._db.execute(
                    "DELETE FROM items WHERE id IN "
                    "(SELECT id FROM items WHERE kind = 1 AND sent IS NULL ORDER BY id LIMIT ?)",
                    (excess,),
                ).rowcount
                self._set_meta("dropped_telemetry", self._meta("dropped_telemetry") + dropped)
        self._unsent[TELEMETRY] += 1 - dropped
        return seq

    def mark_sent(self, ids: Iterable[int]) -> None:
        """Record acknowledgements; ids already sent or pruned are ignored."""
        ids = list(ids)
        if not ids:
            return
        now = time.time()
        # Without an fsync: an acknowledgement lost to a power cut only sends its event again, a duplicate
        # the gateway drops by its (agent, seq) key.
        with self._transaction("record acknowledgements", durable=False):
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    f"UPDATE items SET sent = ? WHERE id IN ({marks}) AND sent IS NULL RETURNING kind",
                    (now, *chunk),
                )
                for (kind,) in cursor.fetchall():
                    self._unsent[kind] -= 1
        self._check_budget()

    def prune(self) -> int:
        """Delete sent telemetry and sent events past the retention window; return rows deleted."""
        cutoff = time.time() - self.retention_s
        with self._transaction("prune"):
            cursor = self._db.execute("DELETE FROM items WHERE sent IS NOT NULL AND (kind = 1 OR sent < ?)", (cutoff,))
        return cursor.rowcount

    # --- reading ----------------------------------------------------------

    def pending(self, limit: int, after_id: int = 0) -> list[OutboxItem]:
        """Unsent items in the order they were stored, starting after ``after_id``."""
        # One index walk per kind, merged: never scans the sent rows kept for replay.
        return self._select(
            f"SELECT {_COLUMNS} FROM items WHERE kind = 0 AND sent IS NULL AND id > ? UNION ALL "
            f"SELECT {_COLUMNS} FROM items WHERE kind = 1 AND sent IS NULL AND id > ? ORDER BY id LIMIT ?",
            (after_id, after_id, limit),
        )

    def replay(self, first_seq: int, last_seq: int) -> list[OutboxItem]:
        """Events and state snapshots still kept with ``first_seq <= seq <= last_seq``."""
        return self._select(
            f"SELECT {_COLUMNS} FROM items WHERE kind = 0 AND seq BETWEEN ? AND ? ORDER BY seq",
            (first_seq, last_seq),
        )

    def stats(self) -> OutboxStats:
        return OutboxStats(
            unsent_events=self._unsent[EVENT],
            unsent_telemetry=self._unsent[TELEMETRY],
            dropped_telemetry=self._meta("dropped_telemetry"),
            next_seq=self._meta("next_seq"),
        )

    @property
    def over_budget(self) -> bool:
        return self._unsent[EVENT] > self.event_budget

    def close(self) -> None:
        self._db.close()

    # --- internals --------------------------------------------------------

    @contextmanager
    def _transaction(self, what: str, *, durable: bool = True) -> Iterator[None]:
        """``durable=False`` commits without an fsync (``synchronous=NORMAL``, WAL mode).

        Such a commit may be lost to a power cut, never torn, and the next durable commit
        syncs it too: only telemetry (QoS 0, dropped first anyway) and acknowledgements are written so. Every
        transaction sets its own level, so an event is never committed at the lower one.
        """
        level = "FULL" if durable else "NORMAL"
        try:
            if self._synchronous != level:
                self._db.execute(f"PRAGMA synchronous={level}")
                self._synchronous = level
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise self._write_failed(what, err) from err
        try:
            yield
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise self._write_failed(what, err) from err
        except BaseException:
            self._rollback()
            raise
        self.write_error = None

    def _write_failed(self, what: str, err: sqlite3.Error) -> OutboxError:
        self.write_error = f"outbox {self.path}: cannot {what}: {err}"
        return OutboxError(self.write_error)

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            logger.debug("outbox rollback failed; the transaction was already closed")

    def _select(self, sql: str, params: tuple[int, ...]) -> list[OutboxItem]:
        try:
            rows = self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise OutboxError(f"outbox {self.path}: cannot read: {err}") from err
        return [
            OutboxItem(i, kind, seq, topic, bytes(payload), qos, bool(retain))
            for i, kind, seq, topic, payload, qos, retain in rows
        ]

    def _meta(self, key: str) -> int:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as err:
            raise OutboxError(f"outbox {self.path}: cannot read {key}: {err}") from err
        value: int = row[0]
        return value

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    def _count_unsent(self, kind: int) -> int:
        count: int = self._db.execute("SELECT count(*) FROM items WHERE kind = ? AND sent IS NULL", (kind,)).fetchone()[
            0
        ]
        return count

    def _check_budget(self) -> None:
        if self.over_budget and not self._overrun_logged:
            self._overrun_logged = True
            logger.error(
                "outbox over budget: %d unsent events exceed event_budget=%d; nothing is dropped, "
                "but the broker has not acknowledged them (is it reachable?)",
                self._unsent[EVENT],
                self.event_budget,
            )
        elif not self.over_budget and self._overrun_logged:
            self._overrun_logged = False
            logger.warning("outbox back under budget: %d unsent events", self._unsent[EVENT])

    def backlog(self) -> tuple[int, int, float | None]:
        """Unsent events, unsent telemetry, and when the oldest unsent event was stored (epoch s, or None).

        Cheap enough to call on every metrics scrape: two counters in memory and one partial-index lookup.
        """
        try:
            row = self._db.execute(
                "SELECT created FROM items WHERE kind = 0 AND sent IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
        except sqlite3.Error as err:
            raise OutboxError(f"outbox {self.path}: cannot read: {err}") from err
        return self._unsent[EVENT], self._unsent[TELEMETRY], (float(row[0]) if row else None)
