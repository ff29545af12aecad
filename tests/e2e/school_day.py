"""What the school-day scenarios in headless Chromium share: the demo with a master's login, the kiosk's words.

``test_morning`` (a master's morning, figures against the simulators' records) and ``test_teaching``
(authorisation, operation, first part, competence, the period's PDF) run the system ``atelier demo``
starts, with the SINUMERIK-shaped mill at ten times its pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time as clock
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from playwright.async_api import Page

from atelier.broker import free_port
from atelier.demo import DemoSystem, demo_system

MILL, OTHER = "sinumerik-mill-1", "dmg-mill-5"  # the kiosk's machine; one nobody checks in on
PACE = 0.1  # ten times faster than the demo: a cycle of 2.8 s or 4.2 s
MASTER, PASSWORD = "maitre", "Atelier-matin-2026"
ATELIER = (sys.executable, "-m", "atelier")


@contextlib.contextmanager
def demo_with_master(tmp_path: Path) -> Iterator[DemoSystem]:
    """The demo on the mill and one other machine, with the master's login made by the CLI as a school would."""
    with demo_system(port=free_port(), data_dir=tmp_path / "demo", machines=[MILL, OTHER], pace=PACE) as system:
        created = subprocess.run(
            [*ATELIER, "gateway", "create-admin", MASTER, "--password-stdin", "-c", str(system.gateway_config)],
            input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert f"admin {MASTER!r} created" in created.stdout
        yield system


async def until_true(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = clock.monotonic() + timeout_s
    while not condition():
        if clock.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.1)


async def until_answered(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """``until_true`` for a condition that asks the gateway (a coroutine), every half second."""
    deadline = clock.monotonic() + timeout_s
    while not await check():
        if clock.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.5)


async def said(kiosk: Page) -> str:
    """The kiosk's next message (then put away, so that the one after is told apart)."""
    await kiosk.locator("#message.shown").wait_for()
    text = await kiosk.locator("#message").inner_text()
    await kiosk.evaluate("document.getElementById('message').className = 'message'")
    return text


async def scan(kiosk: Page, number: str) -> str:
    """A badge scanned into the kiosk's badge field (a reader types it and Enter), and what the kiosk says."""
    await kiosk.locator("#badge").fill(number)
    await kiosk.locator("#badge").press("Enter")
    return await said(kiosk)
