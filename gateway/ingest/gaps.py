"""Gap tracking per agent: the highest contiguous ``seq`` and when to ask for a replay. Pure, no I/O.

Time is a monotonic number of seconds passed in by the caller. The first seq
seen from an agent starts its tracking (a new gateway does not ask for history
from seq 1). A gap still open ``timeout_s`` after it appeared is asked for,
then again with exponential back-off; after ``max_attempts`` the tracker gives
up on it (the agent no longer holds those events) and moves on, so that one
lost range cannot keep an agent's gap open for ever.

Requests are bounded: one asks for at most ``max_span`` seqs (the lowest
missing first; the rest follow once those are in), and the caller gives
``due`` a budget of requests, so that a seq forged far ahead (10**15) can make
no gateway ask an agent to replay a range of that size, nor ask often.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.ingest.messages import AgentKey


@dataclass(frozen=True, slots=True)
class ReplayRange:
    site: str
    agent: str
    first: int
    last: int


@dataclass(slots=True)
class _AgentGaps:
    contiguous: int
    above: set[int] = field(default_factory=set)
    opened_at: float | None = None
    next_request_at: float | None = None
    attempts: int = 0

    def advance(self) -> None:
        while self.contiguous + 1 in self.above:
            self.contiguous += 1
            self.above.discard(self.contiguous)
        if not self.above:
            self.opened_at = self.next_request_at = None
            self.attempts = 0

    def gaps(self) -> list[tuple[int, int]]:
        found, expected = [], self.contiguous + 1
        for seq in sorted(self.above):
            if seq > expected:
                found.append((expected, seq - 1))
            expected = seq + 1
        return found

    def missing(self) -> tuple[int, int]:
        """One range from the first to the last missing seq: one request per agent, duplicates are harmless."""
        gaps = self.gaps()
        return gaps[0][0], gaps[-1][1]


@dataclass
class GapTracker:
    timeout_s: float
    max_backoff_s: float = 300.0
    max_attempts: int = 8
    max_span: int = 1000
    _agents: dict[AgentKey, _AgentGaps] = field(default_factory=dict)

    def restore(self, key: AgentKey, *, contiguous: int | None, seen_above: Iterable[int], now: float) -> None:
        """Resume from the store: ``contiguous`` as saved and the seqs stored above it."""
        above = set(seen_above)
        if contiguous is None:
            if not above:
                return
            contiguous = min(above) - 1
        state = _AgentGaps(contiguous=contiguous, above={s for s in above if s > contiguous})
        state.advance()
        if state.above:
            self._open(state, now)
        self._agents[key] = state

    def observe(self, key: AgentKey, seq: int, *, now: float, start: bool = True) -> None:
        """Note that ``seq`` arrived. ``start=False`` (a retained snapshot) never starts tracking."""
        state = self._agents.get(key)
        if state is None:
            if not start:
                return
            state = self._agents[key] = _AgentGaps(contiguous=seq - 1)
        if seq <= state.contiguous:
            return
        state.above.add(seq)
        state.advance()
        if state.above and state.opened_at is None:
            self._open(state, now)

    def hold(self, key: AgentKey, seq: int) -> None:
        """``seq`` exists but was refused (its machine is owned by another agent): keep its place, unreceived.

        An agent not yet tracked starts just below it, so that once an admin moves the machine to the agent,
        the first seq stored after the move opens a gap over the refused ones and they are asked for again.
        """
        if key not in self._agents and seq >= 1:
            self._agents[key] = _AgentGaps(contiguous=seq - 1)

    def _open(self, state: _AgentGaps, now: float) -> None:
        state.opened_at = now
        state.next_request_at = now + self.timeout_s
        state.attempts = 0

    def contiguous(self, key: AgentKey) -> int | None:
        state = self._agents.get(key)
        return None if state is None else state.contiguous

    def contiguous_all(self) -> dict[AgentKey, int]:
        return {key: state.contiguous for key, state in self._agents.items()}

    def open_gaps(self, key: AgentKey) -> list[tuple[int, int]]:
        """Missing ranges (first, last) of one agent, lowest first."""
        state = self._agents.get(key)
        return [] if state is None else state.gaps()

    def open_ranges(self) -> dict[AgentKey, tuple[int, int]]:
        """Per agent with a gap open: (first, last) missing seq."""
        return {key: state.missing() for key, state in self._agents.items() if state.above}

    def due(self, now: float, budget: int | None = None) -> tuple[list[ReplayRange], list[ReplayRange]]:
        """(replays to ask for now, at most ``budget`` of them, each of ``max_span`` seqs at most; ranges given up on).

        A request beyond the budget stays due, without counting as an attempt, for a later call.
        """
        requests: list[ReplayRange] = []
        abandoned: list[ReplayRange] = []
        for (site, agent), state in self._agents.items():
            if state.next_request_at is None or now < state.next_request_at:
                continue
            first, last = state.missing()
            last = min(last, first + self.max_span - 1)
            if state.attempts >= self.max_attempts:
                abandoned.append(ReplayRange(site, agent, first, last))
                state.contiguous = max(state.above)
                state.above.clear()
                state.advance()
                continue
            if budget is not None and len(requests) >= budget:
                continue
            requests.append(ReplayRange(site, agent, first, last))
            state.attempts += 1
            backoff = min(self.timeout_s * 2**state.attempts, self.max_backoff_s)
            state.next_request_at = now + backoff
        return requests, abandoned


class Gaps:
    """A GapTracker shared by the ingest worker thread (observing) and the event loop (asking)."""

    def __init__(self, tracker: GapTracker, monotonic: Callable[[], float]) -> None:
        self._tracker = tracker
        self._monotonic = monotonic
        self._lock = threading.Lock()

    def observe_all(
        self, observed: Iterable[tuple[AgentKey, int, bool]], held: Iterable[tuple[AgentKey, int]] = ()
    ) -> None:
        with self._lock:
            now = self._monotonic()
            for key, seq in held:
                self._tracker.hold(key, seq)
            for key, seq, start in observed:
                self._tracker.observe(key, seq, now=now, start=start)

    def contiguous_all(self) -> dict[AgentKey, int]:
        with self._lock:
            return self._tracker.contiguous_all()

    def open_ranges(self) -> dict[AgentKey, tuple[int, int]]:
        with self._lock:
            return self._tracker.open_ranges()

    def due(self, budget: int | None = None) -> tuple[list[ReplayRange], list[ReplayRange]]:
        with self._lock:
            return self._tracker.due(self._monotonic(), budget)
