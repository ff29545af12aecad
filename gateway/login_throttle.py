"""Login throttling: failed attempts counted per client address and per user name over a sliding window.

Pure: the caller passes the time (seconds) and the client address; nothing here
does I/O. An attempt is counted when it starts and forgiven when it succeeds, so
that a burst of parallel guesses is counted before any of them is answered.

- An address over its budget is refused whatever user name it tries.
- A user name over its budget (guesses from many addresses) is refused too, but
  not for a browser that has logged in as that user before (it shows a device
  proof, ``gateway.auth.device_proof``): a master keeps logging in while someone
  else guesses their password.

Memory is bounded: past ``max_keys`` addresses or names, the least recently seen
are forgotten first.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Budget:
    per_address: int = 10
    per_username: int = 20
    window_s: float = 900.0
    max_keys: int = 10_000


def address_key(host: str | None) -> str:
    """An IPv6 client is counted by its /64: a host picks any address inside its own prefix."""
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class _Window:
    def __init__(self, limit: int, window_s: float, max_keys: int) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _times(self, key: str, now: float) -> deque[float]:
        times = self.seen.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self.seen[key]
        return times

    def wait(self, key: str, now: float) -> float:
        times = self._times(key, now)
        if len(times) < self.limit:
            return 0.0
        return times[len(times) - self.limit] + self.window_s - now

    def add(self, key: str, now: float) -> None:
        times = self._times(key, now)
        self.seen[key] = times
        self.seen.move_to_end(key)
        times.append(now)
        while len(times) > self.limit * 2:  # enough to know when the budget frees up
            times.popleft()
        while len(self.seen) > self.max_keys:
            self.seen.popitem(last=False)

    def forgive(self, key: str, now: float) -> None:
        times = self.seen.get(key)
        if times:
            times.pop()
            self._times(key, now)


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after_s: int
    by: str  # "address" or "username"


class LoginThrottle:
    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._addresses = _Window(budget.per_address, budget.window_s, budget.max_keys)
        self._names = _Window(budget.per_username, budget.window_s, budget.max_keys)

    def address_refusal(self, address: str, now: float) -> Refusal | None:
        wait = self._addresses.wait(address, now)
        return Refusal(math.ceil(wait), "address") if wait > 0 else None

    def username_refusal(self, username: str, now: float) -> Refusal | None:
        wait = self._names.wait(username.lower(), now)
        return Refusal(math.ceil(wait), "username") if wait > 0 else None

    def attempt(self, address: str, username: str, now: float) -> None:
        self._addresses.add(address, now)
        self._names.add(username.lower(), now)

    def username_failed(self, username: str, now: float) -> None:
        """A wrong password given by someone already signed in (changing their password)."""
        self._names.add(username.lower(), now)

    def succeeded(self, address: str, username: str, now: float) -> None:
        self._addresses.forgive(address, now)
        self._names.forgive(username.lower(), now)
