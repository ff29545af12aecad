"""The ingest shell: MQTT messages in, batches committed to SQL, then acknowledgements and live updates.

Order per batch: one transaction (in a worker thread), then the broker
acknowledgements in receive order, then the live view. A message at fault is
isolated and dead-lettered by the projector; a batch that fails because the
store is unwell is retried with back-off and never acknowledged meanwhile, and
once messages have waited ``stall_after_s`` without a commit, ingest is
*stalled*: ``/healthz`` says so and ``/metrics`` counts it. Periodic tasks ask
agents to replay gaps in their sequence that stay open (a bounded number of
requests a minute) and purge dead letters past their retention.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from edge_agent import contract
from gateway.config import GatewaySettings
from gateway.ingest import interpreter
from gateway.ingest.decoding import Entry, decode_all
from gateway.ingest.gaps import Gaps, GapTracker, ReplayRange
from gateway.ingest.inbox import DRAIN_BATCHES, Inbox
from gateway.ingest.messages import BatchOutcome, Received
from gateway.ingest.projection import Projector
from gateway.ingest.receiver import Receiver
from gateway.ingest.timeline import Timeline, now
from gateway.live import LiveView
from gateway.metrics import IngestStats

logger = logging.getLogger(__name__)

RETRY_MIN_S = 0.2
RETRY_MAX_S = 10.0
PURGE_EVERY_S = 3600.0
REPLAY_WINDOW_S = 60.0
MAX_DRAIN_BATCH = 10_000


class Ingest:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        projector: Projector,
        live: LiveView,
        tracker: GapTracker,
        monotonic: Callable[[], float] = time.monotonic,
        observers: Sequence[Callable[[BatchOutcome], None]] = (),
    ) -> None:
        # Pure as it is, the tracker is reached from the database worker thread too: hence the lock.
        self._settings = settings
        self._projector = projector
        self._live = live
        self._gaps = Gaps(tracker, monotonic)
        self._inbox: Inbox[Received] = Inbox()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-db")
        # Decoding is pure: the next batch is decoded on a thread of its own while the database thread writes
        # this one (and mostly waits for the server, the GIL released).
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-decode")
        self._consumer: Receiver | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._monotonic = monotonic
        self.batches = 0
        self.last_batch_at = monotonic()
        self._waiting_since: float | None = None  # a batch taken and not committed yet, since then
        self._in_hand = 0  # messages of that batch
        self._ahead = 0  # messages of the next batch, taken and being decoded
        self._stall_reported = False
        self.last_error = ""  # why the batch in hand is not committed yet, for /healthz
        self._replays_sent: deque[float] = deque()
        # Called after each committed batch (e.g. the Influx sink); they must not block.
        self._observers = tuple(observers)
        self.stats = IngestStats()
        self._timeline = Timeline()

    @property
    def consumer(self) -> Receiver | None:
        return self._consumer

    @property
    def queued(self) -> int:
        return len(self._inbox)

    @property
    def waiting(self) -> int:
        """Messages received and not committed yet: the batch in hand and the queue behind it."""
        return self._in_hand + self._ahead + len(self._inbox)

    @property
    def healthy(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    def stalled_for(self) -> float | None:
        """Seconds messages have waited with no commit, once past ``stall_after_s``; None while ingest keeps up."""
        since = self._waiting_since
        if since is None:
            return None
        waited = self._monotonic() - since
        return waited if waited >= self._settings.ingest.stall_after_s else None

    async def start(self) -> None:
        interpreter.take()  # a shorter switch interval, a cheaper collector: see ``interpreter``; ``stop`` gives back
        try:
            self._inbox.bind(asyncio.get_running_loop())
            self._consumer = Receiver(self._settings, self._inbox.put_many)  # put_many runs on the receiver's thread
            self._consumer.start()
        except BaseException:
            self._consumer = None
            interpreter.give_back()
            raise
        self._tasks = [
            asyncio.create_task(self._batch_loop(), name="ingest-batches"),
            asyncio.create_task(self._gap_loop(), name="ingest-gaps"),
            asyncio.create_task(self._watch_loop(), name="ingest-watch"),
            asyncio.create_task(self._purge_loop(), name="ingest-purge"),
        ]
        logger.info("ingest started client_id=%s", self._settings.client_id)

    async def stop(self) -> None:
        """Commit and acknowledge what was received, then leave the session (it persists on the broker)."""
        if self._consumer is None:
            return
        self._stopping = True
        self._consumer.pause()
        self._inbox.close()
        batches, *periodic = self._tasks
        for task in periodic:
            task.cancel()
        await asyncio.gather(batches, *periodic, return_exceptions=True)
        await asyncio.to_thread(self._consumer.stop)
        self._executor.shutdown(wait=True)
        self._decoder.shutdown(wait=True)
        self._timeline.close()
        interpreter.give_back()
        self._consumer = None
        logger.info("ingest stopped batches=%d", self.batches)

    async def _batch_loop(self) -> None:
        """Batches in order, each committed and acknowledged before the next, which is taken and decoded meanwhile.

        The database thread is what limits a drain, so nothing the loop does for a committed batch but its
        acknowledgements stands between two writes: when the next batch is decoded already, its write is
        handed to the database thread first, and the live view and observers of the committed one run
        while it is written (docs/performance.md, issue 21, the timeline).
        """
        ahead = asyncio.ensure_future(self._take())
        later: Callable[[], None] | None = None  # the live view and observers of the last committed batch
        try:
            while True:
                batch, decoded, done, marks = await ahead
                self._ahead = 0
                if not done:
                    ahead = asyncio.ensure_future(self._take())
                if batch:
                    self.stats.received += len(batch)
                    entries = await decoded
                    if self._timeline.enabled:
                        marks["loop_has_decoded"] = now()
                    first = self._submit(entries, marks)
                    if later is not None:
                        later()
                    later = await self._process(batch, entries, marks, first)
                if later is not None and (done or not _ready(ahead)):
                    later()
                    later = None
                if done:
                    return
        finally:
            ahead.cancel()  # only if this loop was cancelled: what it took is left unacknowledged, to the broker
            if later is not None:
                later()

    async def _take(self) -> tuple[list[Received], asyncio.Future[list[Entry]], bool, dict[str, float]]:
        marks: dict[str, float] = {}
        timed = self._timeline.enabled
        if timed:
            marks["take_start"] = now()
        batch, done = await self._next_batch()
        self._ahead = len(batch)
        decode = functools.partial(_decode_timed, batch, marks) if timed else functools.partial(decode_all, batch)
        if timed:
            marks["taken"] = now()
        return batch, asyncio.get_running_loop().run_in_executor(self._decoder, decode), done, marks

    async def _next_batch(self) -> tuple[list[Received], bool]:
        ingest = self._settings.ingest
        size = ingest.batch_size
        if len(self._inbox) >= 2 * size:
            # A backlog (a restart, a broker or store outage, a burst): messages wait in the queue anyway, so
            # a longer batch costs no latency, and a batch's fixed costs (round trips, locks, the machines'
            # rows, a commit) are paid once for up to ``DRAIN_BATCHES`` of them (docs/performance.md, issue 21).
            size = min(DRAIN_BATCHES * size, MAX_DRAIN_BATCH)
        return await self._inbox.next_batch(size, ingest.batch_ms / 1000)

    async def _process(
        self, batch: list[Received], entries: list[Entry], marks: dict[str, float], first: asyncio.Future[BatchOutcome]
    ) -> Callable[[], None] | None:
        """Commit and acknowledge ``batch``; what is left to do for it (live view, observers), for the loop to call."""
        started = self._waiting_since = self._monotonic()
        self._in_hand = len(batch)
        outcome = await self._commit(batch, entries, marks, first)
        if outcome is None:
            return None  # stopping with the store down: nothing acknowledged, the broker keeps it all
        timed = self._timeline.enabled
        if timed:
            marks["loop_has_commit"] = now()
        consumer = self._consumer
        if consumer is not None:
            consumer.ack_all(batch)
        if timed:
            marks["acks_sent"] = now()
        self.batches += 1
        self.last_batch_at = self._monotonic()
        self._waiting_since, self._in_hand, self.last_error = None, 0, ""
        self.stats.committed(outcome, self.last_batch_at - started)
        logger.debug(
            "batch committed size=%d accepted=%d duplicates=%d dead_letters=%d",
            len(batch),
            len(outcome.accepted),
            outcome.duplicates,
            outcome.dead_letters,
        )
        return functools.partial(self._committed, batch, outcome, marks)

    def _committed(self, batch: list[Received], outcome: BatchOutcome, marks: dict[str, float]) -> None:
        """After the commit and the acknowledgements: the live view and the observers."""
        try:
            self._live.apply(outcome.accepted)
        except Exception:  # a bug in the live view must not stop ingest: the batch is committed already
            logger.exception("live view update failed")
        for observer in self._observers:
            try:
                observer(outcome)
            except Exception:  # an observer's bug must not stop ingest: the batch is committed already
                logger.exception("batch observer %r failed", observer)
        if self._timeline.enabled:
            marks["done"] = now()
            self._timeline.record(batch, marks)

    def _submit(self, entries: list[Entry], marks: dict[str, float]) -> asyncio.Future[BatchOutcome]:
        """Hand a batch's write to the database thread now, before anything else the loop has to do."""
        apply: Callable[[], BatchOutcome] = functools.partial(self._projector.apply_decoded, entries, gaps=self._gaps)
        if self._timeline.enabled:
            apply = functools.partial(_timed, apply, marks)
        return asyncio.get_running_loop().run_in_executor(self._executor, apply)

    async def _commit(
        self, batch: list[Received], entries: list[Entry], marks: dict[str, float], first: asyncio.Future[BatchOutcome]
    ) -> BatchOutcome | None:
        delay = RETRY_MIN_S
        attempt = first
        while True:
            try:
                return await attempt
            except Exception as err:
                # SQLAlchemyError is the usual case (locked, disk full, server gone); anything else is a bug,
                # and retrying keeps the messages unacknowledged until someone looks.
                kind = "store error" if isinstance(err, SQLAlchemyError) else "unexpected error"
                self.last_error = f"{kind}: {type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"[:300]
                if self._stopping:
                    logger.warning("%s while stopping; %d messages left to the broker: %s", kind, len(batch), err)
                    return None
                logger.warning("batch of %d not committed (%s), retrying in %.1f s: %s", len(batch), kind, delay, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                attempt = self._submit(entries, marks)

    async def _gap_loop(self) -> None:
        interval = min(1.0, self._settings.ingest.gap_timeout_s / 4)
        while True:
            await asyncio.sleep(interval)
            if self._settings.ingest.shared_group:
                await self._observe_stored()
            requests, abandoned = self._gaps.due(self._replay_budget())
            for gap in abandoned:
                logger.error("gap given up site=%s agent=%s first=%d last=%d", gap.site, gap.agent, gap.first, gap.last)
            for gap in requests:
                self._request_replay(gap)

    def _replay_budget(self) -> int:
        """Requests still allowed in the sliding minute (``replay_max_per_minute``, all agents together)."""
        now = self._monotonic()
        sent = self._replays_sent
        while sent and now - sent[0] >= REPLAY_WINDOW_S:
            sent.popleft()
        return max(0, self._settings.ingest.replay_max_per_minute - len(sent))

    async def _watch_loop(self) -> None:
        """Notice a stall: logged and counted once per stall."""
        interval = min(1.0, self._settings.ingest.stall_after_s / 4)
        while True:
            waited = self.stalled_for()
            if waited is not None and not self._stall_reported:
                self._stall_reported = True
                self.stats.stalls += 1
                logger.error(
                    "ingest stalled: %d messages wait, nothing committed for %.0f s (%s)",
                    self.waiting,
                    waited,
                    self.last_error or "the batch in hand is still being written",
                )
            elif waited is None and self._stall_reported:
                self._stall_reported = False
                logger.warning("ingest resumed: a batch committed again")
            await asyncio.sleep(interval)

    async def _purge_loop(self) -> None:
        """Dead letters past ``dead_letter_retention_days``: at start, then every hour (in the database thread)."""
        while True:
            before = datetime.now(UTC) - timedelta(days=self._settings.ingest.dead_letter_retention_days)
            purge = functools.partial(self._projector.purge_dead_letters, before)
            try:
                count = await asyncio.get_running_loop().run_in_executor(self._executor, purge)
            except SQLAlchemyError as err:
                logger.warning("dead letters not purged this time: %s", err)
            else:
                self.stats.dead_letters_purged += count
                if count:
                    logger.info("purged %d dead letters received before %s", count, before.isoformat())
            await asyncio.sleep(PURGE_EVERY_S)

    async def _observe_stored(self) -> None:
        """In a shared group, a seq missing here may be another gateway's: count what the store holds."""
        loop = asyncio.get_running_loop()
        for key, (first, last) in self._gaps.open_ranges().items():
            lookup = functools.partial(self._projector.stored_seqs, key, first, last)
            try:
                seqs = await loop.run_in_executor(self._executor, lookup)
            except SQLAlchemyError as err:
                logger.warning("cannot read stored seqs of agent=%s: %s", key[1], err)
                return
            self._gaps.observe_all((key, seq, True) for seq in seqs)

    def _request_replay(self, gap: ReplayRange) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        request = contract.ReplayRequest(
            agent=gap.agent,
            ts=datetime.now(UTC),
            first=gap.first,
            last=gap.last,
            requester=self._settings.client_id,
        )
        topic = contract.agent_topic(gap.site, gap.agent, "replay")
        delivery = contract.DELIVERY["replay"]
        sent = consumer.publish(topic, contract.encode(request), qos=delivery.qos, retain=delivery.retain)
        self._replays_sent.append(self._monotonic())
        self.stats.replay_requests += 1
        logger.warning(
            "gap in sequence site=%s agent=%s first=%d last=%d replay_requested=%s",
            gap.site,
            gap.agent,
            gap.first,
            gap.last,
            sent,
        )


def _ready(ahead: asyncio.Future[tuple[list[Received], asyncio.Future[list[Entry]], bool, dict[str, float]]]) -> bool:
    """Whether the next batch is taken and decoded: its write can be handed over at once."""
    if not ahead.done() or ahead.cancelled() or ahead.exception() is not None:
        return False
    batch, decoded, _, _ = ahead.result()
    return bool(batch) and decoded.done()


def _decode_timed(batch: list[Received], marks: dict[str, float]) -> list[Entry]:
    marks["decode_start"], cpu = now(), time.thread_time()
    entries = decode_all(batch)
    marks["decoded"], marks["decode_cpu"] = now(), time.thread_time() - cpu
    return entries


def _timed(apply: Callable[[], BatchOutcome], marks: dict[str, float]) -> BatchOutcome:
    marks["write_start"], cpu = now(), time.thread_time()
    outcome = apply()
    marks["committed"], marks["write_cpu"] = now(), time.thread_time() - cpu
    return outcome
