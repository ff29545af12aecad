"""The link of a screen token just issued, held a few minutes for the master who issued it, then forgotten.

Only a token's hash is stored, so its link exists once: in the issuing request. The desk
redirects after issuing (POST-redirect-GET), so the set-up sheet it lands on reads the
link from here, for that master only; a reload within ``KEEP_S`` shows it again, to print
it twice. It lives in this process's memory, never on disk: a restart, or a sheet opened
on another gateway, finds nothing, and the sheet then says to issue a new token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

KEEP_S = 15 * 60
MOST = 64  # a handful of masters issue a handful of tokens; more is someone filling memory


@dataclass(frozen=True, slots=True)
class _Held:
    token: str
    user_id: int | None
    until: float


class ScreenHandoff:
    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}
        self._lock = threading.Lock()  # the pages' sync routes run in a thread pool

    def put(self, *, token_id: int, token: str, user_id: int | None, now_s: float) -> None:
        with self._lock:
            self._forget_old(now_s)
            while len(self._held) >= MOST:
                self._held.pop(next(iter(self._held)))
            self._held[token_id] = _Held(token, user_id, now_s + KEEP_S)

    def take(self, *, token_id: int, user_id: int | None, now_s: float) -> str | None:
        """The token's text for the master who issued it, while it is kept; None otherwise."""
        with self._lock:
            self._forget_old(now_s)
            held = self._held.get(token_id)
            return held.token if held is not None and held.user_id == user_id else None

    def drop(self, token_id: int) -> None:
        with self._lock:
            self._held.pop(token_id, None)

    def _forget_old(self, now_s: float) -> None:
        for key in [k for k, v in self._held.items() if v.until <= now_s]:
            del self._held[key]
