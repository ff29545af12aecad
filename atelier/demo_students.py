"""The demo's students: they badge in at the machines' kiosks, run orders, scrap a part now and then, and rotate.

Each machine's tablet is played by one task that speaks to the gateway as the real kiosk does: the records
API (``/api/sessions/check-in``, ``/api/scrap``, ``/api/sessions/check-out``) with the kiosk's own token, by
badge only. The simulated controls keep cutting; their cycles are attributed by the gateway to whoever is
checked in, so the order board, the practice logs and the utilisation report fill as in a real workshop.

A student waits in the aisle until a machine is free, takes the longest-waiting turn, chooses an order whose
programs that machine runs, stays a while (``pace`` scales every time, as for the simulated machines), and
badges out. On ``stop`` every student still at a machine badges out before the gateway stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from atelier.demo_school import INSPECTOR

logger = logging.getLogger(__name__)

STAY_S = (70.0, 160.0)  # at a machine, per session
AWAY_S = (3.0, 10.0)  # a tablet left free between two students
SCRAP_CHANCE = 0.3  # of a session, one bad part declared
SCRAP_REASONS = ("cote hors tolérance", "bavure", "état de surface", "mauvais serrage")


@dataclass(frozen=True, slots=True)
class Bench:
    """A machine, its kiosk's token, and the orders its programs make."""

    machine: str
    token: str
    orders: tuple[int, ...]


class Kiosk:
    """The records API as a kiosk calls it (standard library only: the demo needs nothing the gateway lacks)."""

    def __init__(self, base_url: str, token: str, machine: str) -> None:
        self.base_url = base_url
        self.token = token
        self.machine = machine

    async def post(self, path: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        return await asyncio.to_thread(self._call, path, {"machine": self.machine, **body})

    async def program(self, site: str) -> str | None:
        """The program the machine's control shows now (the status API, as the wall reads it)."""
        status, state = await asyncio.to_thread(self._call, f"/api/machines/{site}/{self.machine}", None)
        program = state.get("program") if status == 200 else None
        return program if isinstance(program, str) else None

    def _call(self, path: str, body: Mapping[str, Any] | None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the demo's own gateway on loopback
            self.base_url + path, data=data, method="GET" if body is None else "POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            with contextlib.suppress(ValueError):
                return err.code, json.loads(err.read() or b"{}")
            return err.code, {}
        except OSError as err:  # the gateway is restarting or stopping: try again later
            return 0, {"detail": {"message": str(err)}}


class Aisle:
    """The students not at a machine, longest-waiting first."""

    def __init__(self, badges: list[str]) -> None:
        self._waiting = deque(badges)

    def take(self) -> str | None:
        return self._waiting.popleft() if self._waiting else None

    def give_back(self, badge: str) -> None:
        self._waiting.append(badge)


class SimulatedStudents:
    """Runs the students in a thread of their own (an asyncio loop), until ``stop``.

    ``tokens`` is called in that thread first: it issues the kiosks' tokens, which waits for the gateway to
    know the machines, so the demo's banner need not wait for it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        badges: list[str],
        machine_programs: Mapping[str, tuple[str, ...]],
        orders: Mapping[int, tuple[str, ...]],
        tokens: Callable[[], dict[str, str]],
        operations: Mapping[int, tuple[tuple[int, tuple[str, ...]], ...]] | None = None,
        site: str,
        pace: float = 1.0,
        seed: int = 7,
    ) -> None:
        self.base_url = base_url
        self.aisle = Aisle(badges)
        self.machine_programs = machine_programs
        self.orders = orders
        self.operations = operations or {}  # orders of several operations: (number, programs) of each
        self.tokens = tokens
        self.site = site
        self.pace = pace
        self.random = random.Random(seed)  # noqa: S311 - a demo's dice, not a secret
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()  # bound to no loop until used (Python 3.10+): set through ``_loop``
        self._thread = threading.Thread(target=self._run, name="demo-students", daemon=True)
        self.actions: list[tuple[str, str, int]] = []  # (machine, what, HTTP status), for the curious and the tests

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 20.0) -> None:
        """Every student at a machine badges out; then the thread ends."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except Exception:
            logger.exception("the demo's simulated students stopped")
        finally:
            self._loop.close()

    async def _main(self) -> None:
        try:
            tokens = await asyncio.to_thread(self.tokens)
        except (TimeoutError, OSError) as err:
            logger.warning("no simulated students: %s", err)
            return
        benches = [self._bench(machine, token) for machine, token in tokens.items()]
        await asyncio.gather(*(self._work_at(bench) for bench in benches if bench.orders))

    def _bench(self, machine: str, token: str) -> Bench:
        programs = set(self.machine_programs.get(machine, ()))
        orders = tuple(order for order, made_by in self.orders.items() if programs & set(made_by))
        return Bench(machine, token, orders)

    def _orders_for(self, bench: Bench, program: str | None) -> tuple[int, ...]:
        """The orders the machine's current program makes, as a student reads it on the control; else any."""
        running = tuple(order for order in bench.orders if program in self.orders[order])
        return running or bench.orders

    def _seconds(self, span: tuple[float, float]) -> float:
        return self.random.uniform(*span) * self.pace

    async def _rest(self, seconds: float) -> bool:
        """Wait ``seconds``; False when the demo is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return not self._stopping.is_set()

    async def _work_at(self, bench: Bench) -> None:
        kiosk = Kiosk(self.base_url, bench.token, bench.machine)
        if not await self._rest(self._seconds((0.5, 4.0))):
            return
        while True:
            badge = self.aisle.take()
            if badge is None:
                if not await self._rest(self._seconds(AWAY_S)):
                    return
                continue
            try:
                if not await self._session(kiosk, bench, badge):
                    return
            finally:
                self.aisle.give_back(badge)
            if not await self._rest(self._seconds(AWAY_S)):
                return

    async def _session(self, kiosk: Kiosk, bench: Bench, badge: str) -> bool:
        """One student's turn at the machine; False when the demo is stopping."""
        program = await kiosk.program(self.site)
        order = self.random.choice(self._orders_for(bench, program))
        check_in: dict[str, Any] = {"badge": badge, "order_id": order}
        if order in self.operations:  # the operation this machine's program does, as the student reads it
            steps = self.operations[order]
            running = [number for number, programs in steps if program in programs]
            mine = [
                number
                for number, programs in steps
                if set(programs) & set(self.machine_programs.get(bench.machine, ()))
            ]
            check_in["operation"] = self.random.choice(running or mine or [number for number, _ in steps])
        if not await self._say(kiosk, "check-in", "/api/sessions/check-in", check_in):
            return await self._rest(self._seconds(AWAY_S))
        stay = self._seconds(STAY_S)
        scrap_at = stay * self.random.uniform(0.6, 0.9) if self.random.random() < SCRAP_CHANCE else None
        going = await self._rest(scrap_at if scrap_at is not None else stay)
        if going and scrap_at is not None:
            body = {
                "order_id": order,
                "quantity": 1,
                "reason": self.random.choice(SCRAP_REASONS),
                "inspected_by": INSPECTOR,
                "idempotency_key": secrets.token_hex(8),
            }
            await self._say(kiosk, "scrap", "/api/scrap", body)
            going = await self._rest(stay - scrap_at)
        await self._say(kiosk, "check-out", "/api/sessions/check-out", {"badge": badge})
        return going

    async def _say(self, kiosk: Kiosk, what: str, path: str, body: Mapping[str, Any]) -> bool:
        status, answer = await kiosk.post(path, body)
        self.actions.append((kiosk.machine, what, status))
        if 200 <= status < 300:
            logger.info("%s at %s: done", what, kiosk.machine)
            return True
        detail = answer.get("detail")
        message = detail.get("message") if isinstance(detail, dict) else detail
        logger.info("%s at %s refused (%s): %s", what, kiosk.machine, status, message)
        return False
