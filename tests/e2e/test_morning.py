"""A master's morning on the demo, replayed in headless Chromium and held against the simulators' own records.

The system is the one ``atelier demo`` starts (``atelier.demo.demo_system``: a private mosquitto, the
gateway on SQLite, one edge agent), with two of its machines at ten times their pace: the
SINUMERIK-shaped OPC UA mill, where the students badge at the kiosk, and the agent's built-in
simulator, where nobody does. Each simulated control keeps its own record of the cycles it made
(start, end, time held, parts, outcome). Every figure below is worked out from those records and the
session times by the rules of docs/records.md (a cycle belongs to the session open for the longest
part of it, its parts follow it), and compared with the pages, the PDF, the CSV and the API.

How the morning is set up, as a school would:
- the master's login: ``atelier gateway create-admin --password-stdin`` (the CLI); logging in: the
  login page;
- the customer, the order, the two students with their badges and the kiosk token: the API
  (``/api/customers``, ``/api/orders``, ``/api/students``, ``/api/tokens``) with the master's page
  cookie, as no page creates them yet;
- the kiosk: ``/api/auth/screen?token=…`` on a tablet-sized page, then check-in, scrap (a double
  click) and check-out on the kiosk page, by badge; the figures: the order board and page, each
  student's log (reached from the order page), its PDF and CSV, the orders and class CSV exports and the
  utilisation page (reached from the header), in French, at a desktop size (the layout tests cover the
  other sizes).

What no record can check, and what is checked instead:
- check-in and check-out times are the gateway's own: the test reads them from the practice-log API,
  works out the attribution from them, and checks that the check-out fell inside a recorded cycle;
- scrap is a person's word, no simulator knows it: it is checked to count once, where it was declared;
- the order's pace and projected finish are projections, not records;
- the pages write a morning of a minute in h:mm and whole percents: the exact figures are checked in the
  API the pages are computed from, the pages against the records to the unit they show;
- a live report counts what the gateway has heard: events of the last LAG_S seconds may still be on their
  way, so figures counted "up to now" are held between the records at now - LAG_S and at now;
- time idle, held, in alarm and offline: the records say when cycles ran, not when an alarm was cleared
  or the link was up; only the time before the gateway first saw a machine is checked (offline).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize
from pypdf import PdfReader

from atelier.demo import DemoSystem
from edge_agent.drivers.simulator.script import CycleEnd, SimulatorScript
from tests.e2e.school_day import MASTER, MILL, OTHER, PASSWORD, demo_with_master, said, scan, until_true
from tests.gateway.browser import conftest as pages
from tests.gateway.browser.conftest import log_in, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = pages.browser  # headless Debian Chromium, as the page tests launch it

PARIS = ZoneInfo("Europe/Paris")
REFERENCE, PART, STANDARD_S = "CMD-0412", "BRIDE-A12", 3.0
INES, TOM = ("Inès", "B", "0009990001"), ("Tom", "R", "0009990002")  # first name, initial, badge
DESKTOP, TABLET = ViewportSize(width=1440, height=900), ViewportSize(width=1280, height=800)


# --- the truth: what the simulators made ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Made:
    """One cycle as the simulated control recorded it."""

    started: datetime
    ended: datetime
    duration_s: float
    held_s: float
    parts: int
    outcome: str  # completed, aborted or alarm

    @property
    def completed(self) -> bool:
        return self.outcome == "completed"


@dataclass(frozen=True, slots=True)
class Span:
    """A work session as the gateway holds it."""

    id: int
    student: int
    started: datetime
    ended: datetime

    def overlap_s(self, cycle: Made) -> float:
        return max(0.0, (min(self.ended, cycle.ended) - max(self.started, cycle.started)).total_seconds())


def utc(text: str) -> datetime:
    found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def made(demo: DemoSystem, machine: str) -> list[Made]:
    path = demo.workshop.record_path(machine)
    lines = path.read_text().split("\n")[:-1] if path.exists() else []  # a line still being written is not one
    return [
        Made(utc(r["started"]), utc(r["ended"]), r["duration_s"], r["held_s"], r["parts"], r["outcome"])
        for r in map(json.loads, lines)
    ]


def owner(cycle: Made, spans: list[Span]) -> Span | None:
    """docs/records.md rule 1: the session open for the longest part of the cycle; a tie to the later one."""
    best, longest = None, 0.0
    for span in sorted(spans, key=lambda s: s.started):
        if 0 < span.overlap_s(cycle) >= longest:
            best, longest = span, span.overlap_s(cycle)
    return best


def running_bounds(cycles: list[Made], since: datetime, until: datetime) -> tuple[float, float]:
    """Seconds cutting in [since, until): a cycle cut by an edge may have been held on either side of it."""
    low = high = 0.0
    for c in cycles:
        inside = (min(c.ended, until) - max(c.started, since)).total_seconds()
        if inside <= 0:
            continue
        whole = c.started >= since and c.ended <= until
        low += c.duration_s - c.held_s if whole else max(0.0, inside - c.held_s)
        high += c.duration_s - c.held_s if whole else inside
    return low, high


def completes(demo: DemoSystem, index: int) -> bool:
    """Whether the mill's cycle number ``index`` (from 0) will complete: its seeded script says so in advance."""
    ends = (s.mark for s in SimulatorScript(demo.workshop.sinumerik.script).steps() if isinstance(s.mark, CycleEnd))
    mark = next(islice(ends, index, None))
    return mark.outcome.value == "completed"


# --- the result: what the gateway stored --------------------------------------------------------------


def query(demo: DemoSystem, sql: str, *params: object) -> list[tuple[Any, ...]]:
    url = f"file:{demo.data_dir / 'gateway.sqlite'}?mode=ro"
    with contextlib.closing(sqlite3.connect(url, uri=True, timeout=10)) as conn:
        return conn.execute(sql, params).fetchall()


def stored_cycles(demo: DemoSystem, machine: str) -> list[tuple[datetime, float, int, str]]:
    rows = query(
        demo,
        "SELECT c.started, c.duration_s, c.parts, c.outcome FROM cycles c JOIN machines m ON m.id = c.machine_id "
        "WHERE m.name = ? ORDER BY c.started",
        machine,
    )
    return [(utc(started), duration, parts, outcome) for started, duration, parts, outcome in rows]


def first_seen(demo: DemoSystem, machine: str) -> datetime:
    """When the gateway first knew the machine switched on: before it, nothing could be counted."""
    rows = query(
        demo,
        "SELECT MIN(s.ts) FROM state_changes s JOIN machines m ON m.id = s.machine_id "
        "WHERE m.name = ? AND s.availability = 'AVAILABLE'",
        machine,
    )
    return utc(rows[0][0])


# --- how the pages write things -------------------------------------------------------------------------


def paris(ts: datetime, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return ts.astimezone(PARIS).strftime(fmt)


def hm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def m_ss(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def decimal_fr(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def minutes_of(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def percent_of(text: str) -> int | None:
    return None if text == "—" else int(text.removesuffix(" %"))


# --- the demo ------------------------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoSystem]:
    with demo_with_master(tmp_path) as system:
        yield system


@dataclass
class Morning:
    base: str
    order: int
    students: dict[str, int]  # display name ("Inès B.") → id
    token: str

    async def call(self, page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await page.request.fetch(self.base + path, method=method, data=body)
        assert response.ok, f"{method} {path}: {response.status} {await response.text()}"
        return await response.json()


async def _prepare(master: Page, demo: DemoSystem) -> Morning:
    """Through the login page, then the API: the day's customer and order, two students, the kiosk's token."""
    await log_in(master, demo.url, MASTER, PASSWORD)
    morning = Morning(demo.url, 0, {}, "")
    customer = await morning.call(master, "POST", "/api/customers", {"name": "Mécanique Doubs", "contact": "M. Petit"})
    due = datetime.combine(datetime.now(PARIS).date(), time(17), tzinfo=PARIS)
    order = await morning.call(
        master,
        "POST",
        "/api/orders",
        {
            "customer_id": customer["id"],
            "reference": REFERENCE,
            "part_number": PART,
            "quantity": 40,
            "due": due.isoformat(),
            "standard_cycle_s": STANDARD_S,
        },
    )
    morning.order = order["id"]
    for first, initial, badge in (INES, TOM):
        body = {"first_name": first, "last_initial": initial, "class_name": "CAP1-A", "track": "CAP", "badge": badge}
        morning.students[f"{first} {initial}."] = (await morning.call(master, "POST", "/api/students", body))["id"]
    today = datetime.now(PARIS).date()
    for student_id in morning.students.values():  # the director signed, the master records it
        grant = {"student_id": student_id, "machine": MILL, "site": "demo", "granted_on": today.isoformat()}
        grant |= {"training_on": today.isoformat(), "medical_valid_until": (today + timedelta(days=365)).isoformat()}
        await morning.call(master, "POST", "/api/authorisations", grant)
    kiosk = {"role": "kiosk", "label": "poste fraiseuse", "machine": MILL, "site": "demo"}
    morning.token = (await morning.call(master, "POST", "/api/tokens", kiosk))["token"]
    return morning


async def _check_in(kiosk: Page, morning: Morning, student: tuple[str, str, str]) -> datetime:
    await kiosk.locator("#checkin").wait_for()
    await kiosk.select_option("#order", str(morning.order))
    before = datetime.now(UTC)
    assert await scan(kiosk, student[2]) == "Séance commencée. Bon travail !"
    await kiosk.locator("#present", has_text=f"{student[0]} {student[1]}.").wait_for()
    since = (await kiosk.locator("p.present").inner_text()).split(" · ")[1]
    assert since in {f"depuis {paris(t, '%H:%M')}" for t in (before, datetime.now(UTC))}  # Paris time
    assert await kiosk.locator("#present-order").inner_text() == REFERENCE  # by its reference, never "#1"
    return before


async def _cycles_run(demo: DemoSystem, since: datetime, completed: int) -> None:
    def enough() -> bool:
        return sum(c.completed and c.started >= since for c in made(demo, MILL)) >= completed

    await until_true(enough, 40, f"{completed} cycles on {MILL}")


async def _out_during_a_cycle(demo: DemoSystem, kiosk: Page, student: tuple[str, str, str]) -> None:
    """Badge out 1.2 s into a cycle the script says will complete (2.5 s or more): she leaves while it runs."""
    mill = demo.workshop.sinumerik

    def cutting() -> bool:
        done = len(mill.record)
        started = mill.cycle_started
        if started is None or len(mill.record) != done:
            return False  # between cycles, or one just ended
        return completes(demo, done) and clock_since(started) >= 1.2  # cycle number ``done``, still running

    await until_true(cutting, 40, f"a cycle under way on {MILL}")
    assert await scan(kiosk, student[2]) == "Séance terminée. À bientôt !"


def clock_since(ts: datetime) -> float:
    return (datetime.now(UTC) - ts).total_seconds()


async def _the_morning(demo: DemoSystem, kiosk: Page, morning: Morning) -> None:
    await kiosk.goto(f"{demo.url}/api/auth/screen?token={morning.token}")
    assert kiosk.url.split("?")[0] == f"{demo.url}/kiosk/{MILL}"  # the token lands on its machine's kiosk
    since = await _check_in(kiosk, morning, INES)
    assert await scan(kiosk, TOM[2]) == f"Ce badge n'est pas celui de l'élève en poste sur {MILL}."
    await _cycles_run(demo, since, 2)
    scrap = kiosk.locator("#scrap")
    await scrap.locator("input[name=reason]").fill("bavure")
    await scrap.locator("input[name=inspected_by]").fill("M. Roux")
    await scrap.locator("button").dblclick()
    assert await said(kiosk) == "Rebut déclaré."
    await shot(kiosk, "morning-kiosk")
    await _out_during_a_cycle(demo, kiosk, INES)
    since = await _check_in(kiosk, morning, TOM)
    await _cycles_run(demo, since, 2)
    assert await scan(kiosk, TOM[2]) == "Séance terminée. À bientôt !"
    await kiosk.locator("#present", has_text="Personne en poste").wait_for()


# --- what the gateway should say ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    spans: list[Span]
    owned: dict[int, list[Made]]  # session id → its cycles, by the rule
    scrap_session: int

    @property
    def cycles(self) -> list[Made]:
        return [c for span in self.spans for c in self.owned[span.id]]

    def tally(self, student: int) -> Tally:
        span = next(s for s in self.spans if s.student == student)
        mine = self.owned[span.id]
        return Tally(
            span=span,
            parts=sum(c.parts for c in mine),
            cycles=sum(c.completed for c in mine),
            scrap=int(span.id == self.scrap_session),
            session_s=(span.ended - span.started).total_seconds(),
            cycle_s=sum(c.duration_s for c in mine),  # aborted cycles cut metal too
            times=[c.duration_s for c in mine if c.completed],
        )


@dataclass(frozen=True, slots=True)
class Tally:
    """One student's morning (one session), worked out from the records."""

    span: Span
    parts: int
    cycles: int  # completed
    scrap: int
    session_s: float
    cycle_s: float
    times: list[float]  # of the completed cycles

    @property
    def good(self) -> int:
        return self.parts - self.scrap

    @property
    def mean_s(self) -> float:
        return sum(self.times) / len(self.times)

    @property
    def best_s(self) -> float:
        return min(self.times)

    @property
    def against(self) -> float:
        """Mean of cycle time over the order's standard."""
        return sum(t / STANDARD_S for t in self.times) / len(self.times)


async def _settle(demo: DemoSystem, master: Page, morning: Morning) -> Expected:
    """Wait for the last cycle the students touched to end and reach the gateway; work out who made what."""
    spans: list[Span] = []
    for student in morning.students.values():
        log = await morning.call(master, "GET", f"/api/students/{student}/practice-log")
        spans += [Span(s["id"], student, utc(s["started"]), utc(s["ended"])) for s in log["sessions"]]
    assert len(spans) == 2
    last = max(s.ended for s in spans)
    await until_true(lambda: any(c.started >= last for c in made(demo, MILL)), 30, "the mill to end its cycle")
    truth = [c for c in made(demo, MILL) if c.ended > min(s.started for s in spans) and c.started < last]

    def stored() -> bool:
        starts = {row[0] for row in stored_cycles(demo, MILL)}
        return all(c.started in starts for c in truth)

    await until_true(stored, 20, "the morning's cycles in the gateway")
    rows = {row[0]: row[1:] for row in stored_cycles(demo, MILL)}
    assert len(rows) == len(stored_cycles(demo, MILL)), "a cycle stored twice"
    for c in truth:  # each cycle of the morning stored once, as the control made it
        duration, parts, outcome = rows[c.started]
        assert (parts, outcome) == (c.parts, c.outcome)
        assert duration == pytest.approx(c.duration_s, abs=0.01)
    owned: dict[int, list[Made]] = {s.id: [] for s in spans}
    for c in truth:
        if (found := owner(c, spans)) is not None:
            owned[found.id].append(c)
    ines = next(s for s in spans if s.student == morning.students["Inès B."])
    assert any(c.started < ines.ended < c.ended for c in truth), "Inès badged out while a cycle ran"
    return Expected(spans, owned, ines.id)


# --- the checks ---------------------------------------------------------------------------------------------


async def _check_order(master: Page, morning: Morning, expected: Expected) -> None:
    """The order page and the board: every part of the morning once, the scrap once, the cycles by the rule."""
    made_parts = sum(c.parts for c in expected.cycles)
    await master.goto(f"{morning.base}/orders")
    line = master.locator(f"tr[data-order='{morning.order}']")
    assert (await line.locator("td.good").inner_text(), await line.locator("td.scrap").inner_text()) == (
        str(made_parts - 1),
        "1",
    )
    await master.goto(f"{morning.base}/orders/{morning.order}")
    assert REFERENCE in await master.locator("h1").inner_text()
    assert await master.locator("#made").inner_text() == str(made_parts)
    assert await master.locator("#scrap").inner_text() == "1"  # a double click declares once
    assert await master.locator("#good").inner_text() == str(made_parts - 1)
    rows = [await r.locator("td").all_inner_texts() for r in await master.locator("#cycles tbody tr").all()]
    newest_first = sorted(expected.cycles, key=lambda c: c.ended, reverse=True)
    names = {sid: name for name, sid in morning.students.items()}
    whose = {c: names[span.student] for span in expected.spans for c in expected.owned[span.id]}
    assert [[r[0], r[2], r[3], r[4]] for r in rows] == [
        [paris(c.ended, "%d/%m %H:%M"), whose[c], m_ss(c.duration_s), str(c.parts)] for c in newest_first
    ]
    due = datetime.combine(datetime.now(PARIS).date(), time(17), tzinfo=PARIS)
    assert paris(due, "%d/%m %H:%M") in await master.locator(".kpis").inner_text()  # 17:00 in Paris, not 16:00
    students = {
        (await r.locator("td").all_inner_texts())[0]: await r.locator("td").all_inner_texts()
        for r in await master.locator("#students tbody tr").all()
    }
    for name, sid in morning.students.items():
        assert students[name][1:] == ["1", str(expected.tally(sid).cycles)]
    declared = await morning.call(master, "GET", f"/api/scrap?order_id={morning.order}")
    assert [(d["quantity"], d["session_id"]) for d in declared] == [(1, expected.scrap_session)]
    scrap = await master.locator("section.card", has_text="bavure").locator("tbody td").all_inner_texts()
    assert scrap == [paris(utc(declared[0]["ts"])), "1", "bavure", "M. Roux"]
    await shot(master, "morning-order")


async def _check_log(master: Page, morning: Morning, expected: Expected, name: str) -> tuple[int, int]:
    """One student's log, reached from the order page, with its PDF and CSV; returns (made, good)."""
    sid = morning.students[name]
    t = expected.tally(sid)
    span, parts, cycles, scrap, session_s, cycle_s = t.span, t.parts, t.cycles, t.scrap, t.session_s, t.cycle_s
    api = await morning.call(master, "GET", f"/api/students/{sid}/practice-log")
    assert (api["parts_made"], api["cycles"], api["scrap"], api["good"]) == (parts, cycles, scrap, parts - scrap)
    assert api["session_s"] == pytest.approx(session_s, abs=0.01)  # a closed session: up to its end, not to now
    assert api["cycle_s"] == pytest.approx(cycle_s, abs=0.05)
    assert [(s["order_reference"], s["cycles"], s["parts"]) for s in api["sessions"]] == [(REFERENCE, cycles, parts)]
    assert (api["mean_cycle_s"], api["best_cycle_s"]) == (pytest.approx(t.mean_s), t.best_s)
    assert api["mean_vs_standard"] == pytest.approx(t.against)
    assert api["trend"] is None  # a trend needs ten cycles against a standard

    await master.goto(f"{morning.base}/orders/{morning.order}")
    async with master.expect_navigation():
        await master.locator("#students a.student-link", has_text=name).click()
    assert master.url == f"{morning.base}/students/{sid}/log"
    figures = {
        k: await master.locator(f"#t-{k}").inner_text() for k in ("sessions", "hours", "cycles", "good", "scrap")
    }
    assert figures == {
        "sessions": "1", "hours": hm(session_s), "cycles": str(cycles), "good": str(parts - scrap), "scrap": str(scrap)
    }  # fmt: skip
    assert await master.locator("#t-trend").inner_text() == f"pas assez de cycles pour une tendance ({cycles}/10)"
    kpis = {k: await master.locator(".kpi", has_text=k).locator("strong").inner_text() for k in ("moyen", "standard")}
    assert kpis == {"moyen": m_ss(t.mean_s), "standard": decimal_fr(t.against)}
    assert await master.locator("svg.chart circle.pt").count() == cycles
    ticks = await master.locator("svg.chart text.axis").all_text_contents()
    assert all(re.fullmatch(r"\d,\d\d", t) for t in ticks[:5]), ticks  # 1,00 on a French page, not 1.00
    where = f"demo/{MILL}"
    assert await master.locator("#sessions tbody td").all_inner_texts() == [
        paris(span.started), paris(span.ended, "%H:%M"), where, REFERENCE, str(cycles), str(parts)
    ]  # fmt: skip
    assert await master.locator("#machines tbody td").all_inner_texts() == [
        where, "", hm(session_s), str(cycles), str(parts)
    ]  # fmt: skip
    await shot(master, f"morning-log-{sid}")

    pdf = await master.request.get(morning.base + str(await master.locator("a[href*='log.pdf']").get_attribute("href")))
    assert pdf.headers["content-type"] == "application/pdf"
    flat = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.body())).pages).split())
    for shown in (
        name,
        "Séances 1",
        f"Heures {hm(session_s)}",
        f"Heures de coupe {hm(cycle_s)}",
        f"Cycles {cycles}",
        f"Faites {parts}",
        f"Rebuts {scrap}",
        f"Bonnes {parts - scrap}",
        f"Cycle moyen {m_ss(t.mean_s)}",
        f"Meilleur cycle {m_ss(t.best_s)}",
        f"Par rapport au standard {decimal_fr(t.against)}",
        f"{paris(span.started)} {where} {REFERENCE} {hm(session_s)} {cycles} {parts}",
    ):
        assert shown in flat, (shown, flat)
    assert "#" not in flat

    sheet = await master.request.get(
        morning.base + str(await master.locator("a[href$='practice-log.csv']").get_attribute("href"))
    )
    text = (await sheet.body()).decode("utf-8")
    assert text.startswith("\ufeff")  # a BOM, so that Excel reads the accents
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    # Setup as the page shows it (h:mm, as in the sheet); operation 10, the one an order made without
    # operations is given; the customer.
    tail = [await master.locator("#t-setup").inner_text(), "10", "Mécanique Doubs"]
    assert rows == [
        ["Machine", "Commande", "Début", "Fin", "Cycles", "Temps de coupe", "Pièces", "Réglage", "Opération", "Client"],
        [MILL, REFERENCE, paris(span.started), paris(span.ended), str(cycles), hm(cycle_s), str(parts), *tail],
    ]
    return parts, parts - scrap


async def _check_orders_csv(master: Page, morning: Morning, made_parts: int) -> None:
    text = (await (await master.request.get(f"{morning.base}/api/reports/orders.csv")).body()).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert "N°" not in rows[0]  # no internal ids in the spreadsheet
    row = next(r for r in rows if r["Référence"] == REFERENCE)
    due = datetime.combine(datetime.now(PARIS).date(), time(17), tzinfo=PARIS)
    assert (row["Faites"], row["Rebuts"], row["Bonnes"], row["Échéance"]) == (
        str(made_parts), "1", str(made_parts - 1), paris(due)
    )  # fmt: skip


async def _check_utilisation(master: Page, demo: DemoSystem, morning: Morning, expected: Expected) -> None:
    """This week up to now, each machine's time cutting against the records; nothing counted beyond now."""
    # Availability is over the site's planned time (issue 14): a morning replayed at any hour of any day must
    # have planned time to count against, so the demo's site is open round the clock for this check.
    always = {"week": ["00:00-24:00"] * 7, "public_holidays": "none", "school_zone": None}
    await morning.call(master, "PATCH", "/api/calendars/demo", always)
    await master.goto(f"{morning.base}/orders")
    asked = datetime.now(UTC)
    async with master.expect_navigation():
        await master.locator("nav.main a[href^='/utilisation']").click()  # the header's link, as a master
    shown_by = datetime.now(UTC)  # the page was counted between ``asked`` and now
    shown = {m: await master.locator(f"tr[data-machine='{m}'] td").all_inner_texts() for m in (MILL, OTHER)}
    note, free = await master.locator("#period-note").inner_text(), await master.locator("#free").inner_text()
    await shot(master, "morning-utilisation")
    reports = {r["machine"]: r for r in await morning.call(master, "GET", "/api/reports/oee?period=week")}
    answered = datetime.now(UTC)
    today = datetime.now(PARIS).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(), tzinfo=PARIS)
    assert note.startswith("Semaine en cours, comptée jusqu'à maintenant :")
    assert note.endswith((paris(asked, "%d/%m %H:%M"), paris(shown_by, "%d/%m %H:%M")))  # Paris time
    free_s = 0.0
    for machine in (MILL, OTHER):
        r = reports[f"demo/{machine}"]
        until = utc(r["until"])
        assert r["status"] == "current"
        assert utc(r["start"]) == monday
        assert shown_by <= until <= answered  # counted up to now, never beyond
        assert r["window_s"] == pytest.approx((until - monday).total_seconds(), abs=0.01)
        since = first_seen(demo, machine)
        await until_true(_recorded_past(demo, machine, until), 30, f"{machine}'s cycle under way at {until}")
        truth = heard(made(demo, machine), since, (until, until))
        # A report adds up its days' seconds: the sum of floats may miss the truth's bounds by a rounding (1e-14).
        running = (truth.running[0] - 1e-6, truth.running[1] + 1e-6)
        assert running[0] <= r["running_s"] <= running[1], (machine, r["running_s"], truth)
        assert truth.made[0] <= r["made"] <= truth.made[1], (machine, r["made"], truth)
        assert truth.cycles[0] <= r["cycles"] <= truth.cycles[1], (machine, r["cycles"], truth)
        assert r["offline_s"] == pytest.approx((since - monday).total_seconds(), abs=0.05)  # unknown before the demo
        assert r["free_s"] == pytest.approx(r["window_s"] - r["running_s"], abs=0.01)
        scrap = 1 if machine == MILL else 0
        assert r["scrap"] == scrap
        assert r["quality"] == pytest.approx((r["made"] - scrap) / r["made"])
        assert r["planned_busy_s"] == pytest.approx(r["window_s"], abs=0.01)  # open all week, nothing planned off
        assert r["availability"] == pytest.approx(r["running_s"] / r["planned_busy_s"])
        # The order's standard over the parts of the cycles attributed to it; nobody worked on the other.
        standard = STANDARD_S * sum(c.parts for c in expected.cycles if c.completed) if machine == MILL else 0.0
        if standard:
            assert r["performance"] == pytest.approx(standard / r["running_s"])
            assert r["oee"] == pytest.approx(r["availability"] * r["performance"] * r["quality"])
        else:
            assert (r["performance"], r["oee"]) == (None, None)
        planned = ((asked - monday).total_seconds(), (shown_by - monday).total_seconds())
        _check_utilisation_row(
            shown[machine],
            heard(made(demo, machine), since, (asked, shown_by)),
            standard=standard,
            scrap=scrap,
            planned=planned,
        )
        free_s += r["free_s"]
    assert abs(minutes_of(free) * 60 - free_s) <= 60  # hours of a morning, not of a whole week
    following = (monday + timedelta(days=7)).date().isoformat()
    ahead = await morning.call(master, "GET", f"/api/reports/oee?period=week&date={following}")
    assert {(r["status"], r["window_s"], r["running_s"], r["free_s"], r["oee"]) for r in ahead} == {
        ("future", 0.0, 0.0, 0.0, None)
    }


# What the gateway may not have heard yet when it counts "up to now": the OPC UA publishing interval, the
# agent, the broker and an ingest batch. A live report lags the machines by that much, no more.
LAG_S = 2.0


@dataclass(frozen=True, slots=True)
class Heard:
    """(least, most) of what a report counted at some instant may show, from the records."""

    running: tuple[float, float]
    made: tuple[int, int]
    cycles: tuple[int, int]
    up: tuple[float, float]  # switched on: since the gateway first saw the machine available


def heard(cycles: list[Made], since: datetime, between: tuple[datetime, datetime]) -> Heard:
    """A report counted at an instant ``between``: it knows every event up to LAG_S before it, and extends the
    last state it knows up to it."""
    early, last = between[0] - timedelta(seconds=LAG_S), between[1]
    done = [[c for c in cycles if since < c.ended < t] for t in (early, last)]
    return Heard(
        running=(running_bounds(cycles, since, early)[0], running_bounds(cycles, since, last)[1] + LAG_S),
        made=(sum(c.parts for c in done[0]), sum(c.parts for c in done[1])),
        cycles=(sum(c.completed for c in done[0]), sum(c.completed for c in done[1])),
        up=((between[0] - since).total_seconds(), (last - since).total_seconds()),
    )


def _check_utilisation_row(
    row: list[str], truth: Heard, *, standard: float, scrap: int, planned: tuple[float, float]
) -> None:
    """A machine's line on the page against the records, in what it shows: h:mm and whole percents.

    ``planned``: (least, most) planned busy time the page may have counted (the site is open all week)."""
    running, made = truth.running, truth.made
    assert round(running[0] / 60) <= minutes_of(row[3]) <= round(running[1] / 60), (row, truth)
    assert minutes_of(row[4]) == 0  # open round the clock: nothing runs outside opening hours
    availability = running[0] / planned[1], running[1] / planned[0]
    quality = (made[0] - scrap) / made[0], (made[1] - scrap) / made[1]
    performance = (standard / running[1], standard / running[0]) if standard else None
    oee = None
    if performance is not None:
        oee = tuple(a * p * q for a, p, q in zip(availability, performance, quality, strict=True))
    ranges = {"availability": availability, "performance": performance, "quality": quality, "oee": oee}
    for cell, (name, expected) in zip(row[8:12], ranges.items(), strict=True):
        shown = percent_of(cell)
        assert (shown is None) == (expected is None), (name, cell, expected)
        if shown is not None and expected is not None:
            assert expected[0] * 100 - 0.5 <= shown <= expected[1] * 100 + 0.5, (name, cell, expected)


def _recorded_past(demo: DemoSystem, machine: str, ts: datetime) -> Callable[[], bool]:
    """Whether the machine's record reaches past ``ts``: every cycle it was cutting then is recorded."""
    return lambda: any(c.ended > ts for c in made(demo, machine))


async def _drawn(page: Page) -> None:
    """The wall draws its tiles from its WebSocket after loading: wait for both machines'."""
    if await page.locator("#grid").count():
        await page.locator("article.tile").nth(1).wait_for()


TEXTS = "h1, h2, th, .kpi span, label, .actions a, nav a, button, #period-note, .legend li"


async def _english_left(context: BrowserContext, url: str) -> list[str]:
    """The page's English words (its labels in English that differ from the French ones) found on its French page."""
    page = await context.new_page()
    try:
        await page.goto(url + "?lang=en")
        await _drawn(page)
        english = await page.locator(TEXTS).all_inner_texts()
        await page.goto(url + "?lang=fr")
        await _drawn(page)
        french = await page.locator(TEXTS).all_inner_texts()
        text = await page.locator("body").inner_text()
    finally:
        await page.close()
    assert len(english) == len(french)
    words = {e.strip() for e, f in zip(english, french, strict=True) if e.strip() != f.strip() and e.strip()}
    return sorted(w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text))


async def test_a_masters_morning_on_the_demo_adds_up_to_what_the_machines_made(
    demo: DemoSystem, browser: Browser
) -> None:
    desk = await browser.new_context(viewport=DESKTOP)
    master = await desk.new_page()
    morning = await _prepare(master, demo)
    tablet = await browser.new_context(viewport=TABLET)
    kiosk = await tablet.new_page()
    await _the_morning(demo, kiosk, morning)
    expected = await _settle(demo, master, morning)
    await _check_order(master, morning, expected)
    logs = [await _check_log(master, morning, expected, name) for name in morning.students]
    progress = await morning.call(master, "GET", f"/api/orders/{morning.order}/progress")
    made_parts = sum(c.parts for c in expected.cycles)
    assert (progress["made"], progress["scrap"], progress["good"]) == (made_parts, 1, made_parts - 1)
    assert [sum(x) for x in zip(*logs, strict=True)] == [progress["made"], progress["good"]]  # logs add up
    await _check_orders_csv(master, morning, made_parts)
    await _check_practice_logs_csv(master, morning, expected)
    await _check_utilisation(master, demo, morning, expected)
    log_pages = [f"/students/{s}/log" for s in morning.students.values()]
    pages = {desk: ["/", "/orders", f"/orders/{morning.order}", "/utilisation", *log_pages], tablet: [f"/kiosk/{MILL}"]}
    for seen_by, paths in pages.items():  # in a copy of each screen's login, so that its language stays French
        english = await browser.new_context(storage_state=await seen_by.storage_state())
        for path in paths:
            assert await _english_left(english, morning.base + path) == [], path


async def _check_practice_logs_csv(master: Page, morning: Morning, expected: Expected) -> None:
    """The class's spreadsheet: one line per student, in French, with names and no ids."""
    text = (await (await master.request.get(f"{morning.base}/api/reports/practice-logs.csv")).body()).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = {r["Élève"]: r for r in csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";")}
    assert "N°" not in next(iter(rows.values())), rows
    for name, sid in morning.students.items():
        t = expected.tally(sid)
        assert rows[name] == {
            "Élève": name,
            "Classe": "CAP1-A",
            "Filière": "CAP",
            "Séances": "1",
            "Heures": hm(t.session_s),
            "Heures de coupe": hm(t.cycle_s),
            "Cycles": str(t.cycles),
            "Pièces faites": str(t.parts),
            "Rebuts": str(t.scrap),
            "Bonnes": str(t.good),
            "Cycle moyen (s)": f"{t.mean_s:.1f}".replace(".", ","),
            "Meilleur cycle (s)": f"{t.best_s:.1f}".replace(".", ","),
            "Par rapport au standard": decimal_fr(t.against),
            "Tendance": "—",  # not enough cycles for a trend
        }
