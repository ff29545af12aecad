"""The practice log drawn from per-session totals (``session_cycles``' totals, 0021) equals the log walked over
every cycle (``student_log(walked=True)``), on SQLite and PostgreSQL: an order with a standard (trend and
floor-to-floor trend drawn, a run carried across two sessions), practice, an order without a standard, scrap,
an aborted cycle; then after rows kept before 0021, a late cycle, a corrected session, and a cycle outliving
its session so that two sessions interleave (their cycles are then walked, among the other sessions' totals).
A log read from current totals selects no ``cycles`` column. The page's chart draws each cycle up to 200
ratios, one point per session past them, and the practice-logs CSV read for all students at once is byte for
byte the CSV read student by student: with sessions under way, then kept, after a late cycle, a corrected
session and interleaving sessions, and for a master of one site when a student worked on another's machine.

Floats are summed in another order than the walk's: compared within 1e-9 relative (slopes 1e-12 absolute).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.session_totals import interleaving
from gateway.store import sites_repo, summaries_repo, work_repo
from gateway.store.models import SessionCycles, Student, WorkSessionRecord
from gateway.store.reports_repo import TOTALS, StudentLog, student_log
from gateway.web.csv_export import Sheet, render
from gateway.web.page_labels import page_labels
from gateway.web.records_views import practice_public
from gateway.web.routes.reports import LOG_COLUMNS
from tests.gateway.close_figures import close
from tests.gateway.records.conftest import World, add_cycle, add_machine, at, master_of, site_client

CHECK_IN = "/api/sessions/check-in"
CHECK_OUT = "/api/sessions/check-out"
EVENING = at(36 * 60)  # Tuesday evening: Monday's days are over, the sessions' rows complete
ZONE = "UTC"


_ahead = [0]


def settled(sessions: sessionmaker[Session]) -> None:
    """As the hourly job settles, past PostgreSQL's grace: the watermarks reach the rows written so far."""
    for _ in (1, 2):
        _ahead[0] += 1
        with sessions.begin() as db:
            summaries_repo.settle(db, zone=ZONE, now=datetime.now(UTC) + _ahead[0] * 2 * summaries_repo.GRACE)


def logs(w: World) -> tuple[StudentLog, StudentLog]:
    """Léa's log as pages read it, then walked over every cycle."""
    with w.sessions() as db:
        drawn = student_log(db=db, student_id=w.ids["student"], now=w.clock.now, zone=ZONE)
        walked = student_log(db=db, student_id=w.ids["student"], now=w.clock.now, zone=ZONE, walked=True)
    return drawn, walked


def assert_same(w: World) -> StudentLog:
    drawn, walked = logs(w)
    assert close(drawn.log, walked.log), (drawn.log, walked.log)
    assert drawn.per_session == walked.per_session
    return drawn


async def _session(
    w: World, machine: str, start: float, cycles: list[tuple[float, float]], end: float, **kw: Any
) -> int:
    w.clock.now = at(start)
    opened = await w.ok("POST", CHECK_IN, json={"student_id": w.ids["student"], "machine": machine, **kw})
    for began, ended in cycles:
        add_cycle(w.sessions, w.machines[machine], at(began), at(ended))
    w.clock.now = at(end)
    await w.ok("POST", CHECK_OUT, json={"machine": machine})
    session_id: int = opened["id"]
    return session_id


async def _seed(w: World) -> dict[str, int]:
    """Monday: PO-1 (standard 300 s) on the mill, twelve cycles getting faster and an aborted one, two parts
    scrapped; practice on the mill; PO-1 again on the mill, its first cycle within a run of the practice's last;
    PO-2 (no standard) on the lathe."""
    body = {"customer_id": w.ids["customer"], "reference": "PO-2", "part_number": "P-2", "quantity": 5}
    po2 = (await w.ok("POST", "/api/orders", json={**body, "due": at(72 * 60).isoformat(), "programs": ["O1000"]}))[
        "id"
    ]
    po1 = w.ids["order"]
    w.clock.now = at(0)
    opened = await w.ok("POST", CHECK_IN, json={"student_id": w.ids["student"], "machine": "mill", "order_id": po1})
    t = 1.0
    for k in range(12):
        length = 5.5 - 0.1 * k
        add_cycle(w.sessions, w.machines["mill"], at(t), at(t + length))
        t += length + 1 + (k % 3) * 0.4
    add_cycle(w.sessions, w.machines["mill"], at(t), at(t + 1), outcome="aborted", parts=0)
    w.clock.now = at(t + 2)
    scrap = {"order_id": po1, "machine": "mill", "quantity": 2, "reason": "bavure", "inspected_by": "M. Roux"}
    await w.ok("POST", "/api/scrap", json=scrap)
    w.clock.now = at(90)
    await w.ok("POST", CHECK_OUT, json={"machine": "mill"})
    practice = await _session(w, "mill", 92, [(93, 96), (97, 100.5), (101.5, 104)], 106)
    again = await _session(w, "mill", 107, [(108, 113), (114, 118.8), (120, 124.5), (125.5, 130)], 132, order_id=po1)
    lathe = await _session(w, "lathe", 140, [(141, 145), (146, 150), (151, 155)], 160, order_id=po2)
    return {"first": opened["id"], "practice": practice, "again": again, "lathe": lathe}


async def test_the_log_from_totals_equals_the_walked_log(world: World) -> None:
    w = world
    ids = await _seed(w)
    w.clock.now = EVENING
    settled(w.sessions)  # on PostgreSQL rows kept over rows not yet settled are dropped at once
    first = assert_same(w)  # computed now, and the rows kept with their totals
    assert first.log.trend is not None, "twelve cycles and more on a standard make a trend"
    assert first.log.pace_trend is not None
    assert first.log.scrap == 2
    assert first.log.sessions == 4
    assert first.per_session[ids["practice"]].cycles == 3
    with w.sessions() as db:
        kept = list(db.scalars(select(SessionCycles)))
    assert len(kept) == 4
    assert all(k.completed is not None and k.stops is not None for k in kept), "kept whole, totals included"
    settled(w.sessions)

    # Read from the kept totals: no cycle decoded, no ``cycles`` column selected, the same log.
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split()))

    engine = w.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with w.sessions() as db:
            drawn = student_log(db=db, student_id=w.ids["student"], now=w.clock.now, zone=ZONE)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert drawn.cycles == {}, "drawn from the totals"
    assert set(drawn.totals) == set(ids.values())
    assert any("FROM session_cycles" in q for q in statements)
    # (The watermarks' scan of new rows, ``FROM cycles WHERE cycles.id > ?``, reads no cycle of hers.)
    assert not [q for q in statements if "session_cycles.cycles" in q or "FROM cycles WHERE cycles.machine_id" in q]
    assert close(drawn.log, first.log)
    assert drawn.per_session == first.per_session

    # Rows kept before 0021 (no totals): completed from their cycles by the next read, once; the same log.
    with w.sessions.begin() as db:
        db.execute(update(SessionCycles).values(dict.fromkeys(TOTALS)))
    assert_same(w)
    with w.sessions() as db:
        assert all(k.completed is not None for k in db.scalars(select(SessionCycles)))
    assert close(logs(w)[0].log, first.log)

    # A late completed cycle at the end of the first session: its row is stale, recomputed, still equal.
    w.clock.now = EVENING
    add_cycle(w.sessions, w.machines["mill"], at(84), at(88))
    late = assert_same(w)
    assert late.log.cycles == first.log.cycles + 1
    settled(w.sessions)

    # The second PO-1 session corrected to end early: its last two cycles are no longer hers.
    with w.sessions.begin() as db:
        again = db.get_one(WorkSessionRecord, ids["again"])
        work_repo.update_work_session(
            db=db, who="maitre", work_session_id=again.id, changes={"ended": at(119)}, now=EVENING
        )
    corrected = assert_same(w)
    assert corrected.log.cycles == late.log.cycles - 2
    settled(w.sessions)

    # A cycle on the lathe outliving its session ends after the first cycle of her next session, on the mill:
    # the two sessions' cycles interleave, and those two sessions' cycles are walked.
    await _session(w, "lathe", 170, [(171, 175), (176, 186)], 178, order_id=ids_order(w))
    await _session(w, "mill", 179, [(180, 183), (184, 188)], 190, order_id=ids_order(w))
    w.clock.now = EVENING
    interleaved = assert_same(w)
    assert interleaved.cycles == {}, "drawn from the totals, the interleaved sessions' cycles walked"
    assert len(interleaving(interleaved.totals)) == 1
    assert interleaved.log.sessions == 6
    settled(w.sessions)
    assert assert_same(w).cycles == {}  # and once the rows are kept


def ids_order(w: World) -> int:
    return w.ids["order"]


async def test_the_chart_draws_a_point_per_session_past_200_ratios(world: World, databases: dict[str, str]) -> None:
    w = world
    backend = w.backend
    po1 = w.ids["order"]
    sessions = []
    for day in range(3):  # three sessions of 70 cycles of two minutes: 210 ratios
        start = day * 24 * 60
        w.clock.now = at(start)
        await login(w)
        cycles = [(start + 1 + 2.5 * k, start + 3 + 2.5 * k) for k in range(70)]
        sessions.append(await _session(w, "mill", start, cycles, start + 180, order_id=po1))
    w.clock.now = at(4 * 24 * 60)
    await login(w)
    async with site_client(databases[backend], w.clock) as client:
        whole = await client.get(f"/students/{w.ids['student']}/log", headers=w.as_("admin"))
        tuesday = "2026-11-24"  # one session's day: 70 ratios, one point each
        period = await client.get(
            f"/students/{w.ids['student']}/log", params={"from": tuesday, "to": tuesday}, headers=w.as_("admin")
        )
    assert whole.status_code == 200, whole.text
    assert period.status_code == 200, period.text
    assert whole.text.count('<circle class="pt') == 3
    assert "moyenne par séance" in whole.text
    assert period.text.count('<circle class="pt') == 70
    assert "moyenne par séance" not in period.text
    # Up to the limit, one point per cycle: the first session's 70 cycles read alone.
    with w.sessions.begin() as db:
        for session_id in sessions[1:]:
            db.delete(db.get_one(WorkSessionRecord, session_id))
    async with site_client(databases[backend], w.clock) as client:
        alone = await client.get(f"/students/{w.ids['student']}/log", headers=w.as_("admin"))
    assert alone.text.count('<circle class="pt') == 70


async def login(w: World) -> None:
    """A master's login of the day (yesterday's has expired)."""
    body = {"username": "master", "password": "master-pass"}
    w.tokens["admin"] = (await w.ok("POST", "/api/auth/login", None, json=body))["token"]


def _student_by_student(w: World, lang: str, flavour: Any, sites: list[str] | None = None) -> bytes:
    """The practice-logs CSV as it was read before issue 18: each student's log apart (as a master of ``sites``
    sees it)."""
    state = w.app.state.records
    rows = []
    with w.sessions() as db:
        sites_repo.restrict(db, sites)
        for student in db.scalars(select(Student).order_by(Student.class_name, Student.first_name, Student.id)):
            log = practice_public(student_log(db=db, student_id=student.id, now=w.clock.now, zone=ZONE))
            who_row = [student.id, log.display_name, log.class_name, log.track, len(log.sessions)]
            times = [log.session_s, log.cycle_s, log.cycles, log.parts_made, log.scrap, log.good]
            rows.append([*who_row, *times, log.mean_cycle_s, log.best_cycle_s, log.mean_vs_standard, log.trend_word])
    words = page_labels(lang)["trend_words"]
    sheet = Sheet(flavour=flavour, lang=lang, zone=state.settings.zone(), words=words)
    return render(LOG_COLUMNS, rows, sheet).encode("utf-8")


async def test_the_batched_practice_logs_csv_is_byte_for_byte_the_one_read_student_by_student(world: World) -> None:
    w = world
    await _seed(w)
    tom_id = await _tom_on_the_lathe(w)
    # Tom back on the mill, still there at the exports: an open session, its cycles attributed at each read.
    w.clock.now = at(290)
    await w.ok("POST", CHECK_IN, json={"student_id": tom_id, "machine": "mill", "order_id": w.ids["order"]})
    add_cycle(w.sessions, w.machines["mill"], at(291), at(295.5))
    add_cycle(w.sessions, w.machines["mill"], at(296.5), at(299))
    ana = {"first_name": "Ana", "last_initial": "C", "class_name": "CAP2", "track": "CAP", "badge": "B-ANA"}
    await w.ok("POST", "/api/students", json=ana)  # no session at all
    for now in (at(300), EVENING):  # sessions' days under way, then over (rows kept, then read)
        w.clock.now = now
        await login(w)
        for _ in (1, 2):
            text = await _csv_is_student_by_student(w)
    assert "Tom" in text
    assert "Ana" in text


async def _tom_on_the_lathe(w: World) -> int:
    """Tom, eleven cycles getting faster on the lathe for PO-1 (Monday afternoon)."""
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    tom_id: int = (await w.ok("POST", "/api/students", json=tom))["id"]
    await w.authorise(tom_id)
    w.clock.now = at(200)
    await w.ok("POST", CHECK_IN, json={"student_id": tom_id, "machine": "lathe", "order_id": w.ids["order"]})
    for k in range(11):
        add_cycle(w.sessions, w.machines["lathe"], at(201 + 6 * k), at(206 + 6 * k - 0.05 * k))
    w.clock.now = at(280)
    await w.ok("POST", CHECK_OUT, json={"machine": "lathe"})
    return tom_id


async def _csv_is_student_by_student(w: World, role: str = "admin", sites: list[str] | None = None) -> str:
    for lang in ("fr", "en"):
        for flavour in ("sheet", "raw"):
            params = {"lang": lang, "format": flavour}
            response = await w.call("GET", "/api/reports/practice-logs.csv", role, params=params)
            assert response.status_code == 200, response.text
            assert response.content == _student_by_student(w, lang, flavour, sites), (w.clock.now, lang, flavour)
    return response.text


async def test_the_practice_logs_csv_stays_the_student_by_student_one_after_late_rows_and_corrections(
    world: World,
) -> None:
    w = world
    ids = await _seed(w)
    await _tom_on_the_lathe(w)
    w.clock.now = EVENING
    await login(w)
    settled(w.sessions)
    await _csv_is_student_by_student(w)  # every row kept, read from the kept totals
    # A late cycle in Tom's session: its kept row is stale, computed again at the read.
    add_cycle(w.sessions, w.machines["lathe"], at(270), at(274))
    text = await _csv_is_student_by_student(w)
    assert "Tom" in text
    settled(w.sessions)
    # Léa's second PO-1 session corrected to end early: two cycles are no longer hers.
    with w.sessions.begin() as db:
        work_repo.update_work_session(
            db=db, who="maitre", work_session_id=ids["again"], changes={"ended": at(119)}, now=EVENING
        )
    await _csv_is_student_by_student(w)
    settled(w.sessions)
    # A cycle on the lathe outliving Léa's session ends after the first of her next one, on the mill: her
    # sessions interleave and her line is drawn walking those cycles; Tom's from his totals.
    await _session(w, "lathe", 300, [(301, 305), (306, 316)], 308, order_id=ids_order(w))
    await _session(w, "mill", 309, [(310, 313), (314, 318)], 320, order_id=ids_order(w))
    w.clock.now = EVENING
    await _csv_is_student_by_student(w)
    settled(w.sessions)
    await _csv_is_student_by_student(w)


async def test_a_master_of_one_site_has_the_practice_logs_of_her_sites_machines(world: World) -> None:
    """A session of a Lyon student on a Paris machine (written straight to the store: check-in would refuse
    it) is not in the Lyon master's CSV, as it is not in the student's log she reads; a master of both has it."""
    w = world
    await _seed(w)
    drill = add_machine(w.sessions, "drill", site="paris")
    with w.sessions.begin() as db:
        db.add(
            WorkSessionRecord(
                machine_id=drill, student_id=w.ids["student"], order_id=None, started=at(400), ended=at(460),
                opened_by="t",
            )
        )  # fmt: skip
    add_cycle(w.sessions, drill, at(401), at(405))
    w.clock.now = EVENING
    await login(w)
    await master_of(w, "lyon-master", ["lyon"])
    await master_of(w, "both-master", ["lyon", "paris"])
    settled(w.sessions)
    for _ in (1, 2):  # computed, then kept
        lyon = await _csv_is_student_by_student(w, "lyon-master", ["lyon"])
        both = await _csv_is_student_by_student(w, "both-master", ["lyon", "paris"])
        assert lyon != both, "the Paris session counts for a master of both sites, not for Lyon's"
        settled(w.sessions)
