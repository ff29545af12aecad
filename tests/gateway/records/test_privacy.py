"""Privacy for minors: export of everything held on a student, deletion keeping order counts, retention purge."""

from __future__ import annotations

from datetime import timedelta

from gateway.config import RecordsSection
from gateway.store.models import AuditEntry, Student, User, WorkSessionRecord
from gateway.store.privacy import purge_expired
from tests.gateway.records.conftest import World, add_cycle, at


async def _lea_works(w: World) -> None:
    w.clock.now = at(0)
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA", "order_id": w.ids["order"]})
    add_cycle(w.sessions, w.machines["mill"], at(1), at(6), parts=2)
    scrap = {"order_id": w.ids["order"], "quantity": 1, "reason": "burr", "inspected_by": "M. Roux"}
    await w.ok("POST", "/api/scrap", "kiosk", json=scrap)
    w.clock.now = at(30)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})


async def test_export_holds_everything_on_the_student(world: World) -> None:
    w = world
    await _lea_works(w)
    export = await w.ok("GET", f"/api/students/{w.ids['student']}/export", "student")
    assert export["student"]["first_name"] == "Léa"
    assert export["student"]["badge"] == "B-LEA"
    assert [login["username"] for login in export["logins"]] == ["lea"]
    assert [s["machine"] for s in export["work_sessions"]] == ["lyon/mill"]
    assert export["practice_summary"]["parts_made"] == 2
    assert [s["quantity"] for s in export["scrap_declared_on_their_sessions"]] == [1]
    assert [e["action"] for e in export["audit_log"]] == ["create"]
    assert "password" not in str(export)


async def test_deleting_a_student_keeps_the_orders_counts_and_erases_the_name(world: World) -> None:
    w = world
    await _lea_works(w)
    before = await w.ok("GET", f"/api/orders/{w.ids['order']}/progress")
    deleted = await w.ok("DELETE", f"/api/students/{w.ids['student']}")
    assert deleted == {"student_id": w.ids["student"], "sessions_detached": 1}
    assert await w.ok("GET", f"/api/orders/{w.ids['order']}/progress") == before
    assert (before["made"], before["scrap"]) == (2, 1)
    assert (await w.call("GET", f"/api/students/{w.ids['student']}")).status_code == 404
    assert (await w.call("GET", "/api/auth/me", "student")).status_code == 401  # the login went with the student
    assert (w.count(Student), w.count(User)) == (0, 2)  # the master and the network login are left
    with w.sessions() as session:
        assert [s.student_id for s in session.query(WorkSessionRecord)] == [None]
        texts = " ".join(str((e.before, e.after)) for e in session.query(AuditEntry))
    assert "Léa" not in texts
    assert "B-LEA" not in texts


async def test_the_retention_purge_detaches_old_practice_logs_only(world: World) -> None:
    w = world
    await _lea_works(w)
    w.clock.now = at(60)
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    # 400 days later, with a retention of a year: the first (closed) session goes, the open one stays.
    w.clock.now = at(0) + timedelta(days=400)
    with w.sessions.begin() as session:
        assert purge_expired(db=session, settings=RecordsSection(retention_days=365), now=w.clock.now)[1] == 1
    with w.sessions() as session:
        owners = sorted((s.started, s.student_id) for s in session.query(WorkSessionRecord))
    assert owners == [(at(0), None), (at(60), w.ids["student"])]
    with w.sessions.begin() as session:
        assert purge_expired(db=session, settings=RecordsSection(retention_days=None), now=w.clock.now) == (
            None,
            0,
        )


async def test_the_purge_route_uses_the_configured_retention(world: World) -> None:
    w = world
    await _lea_works(w)
    w.clock.now = at(0) + timedelta(days=3 * 365 + 1)
    # Logins expire; use a fresh master login at the new time.
    login = {"username": "master", "password": "master-pass"}
    w.tokens["admin"] = (await w.ok("POST", "/api/auth/login", None, json=login))["token"]
    result = await w.ok("POST", "/api/retention/purge")
    assert result["sessions_purged"] == 1


async def test_a_deleted_students_id_leaves_no_trail_in_the_audit_log(world: World) -> None:
    w = world
    await _lea_works(w)
    student = w.ids["student"]
    # A master moves a session of Léa's to another student: the entry's "before" names her.
    tom = await w.ok(
        "POST", "/api/students", json={"first_name": "Tom", "last_initial": "B", "class_name": "C", "track": "CAP"}
    )
    await w.authorise(tom["id"])
    w.clock.now = at(40)
    await w.ok("POST", "/api/sessions/check-in", "kiosk", json={"badge": "B-LEA"})
    w.clock.now = at(50)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    with w.sessions() as session:
        moved = max(s.id for s in session.query(WorkSessionRecord))
    await w.ok("PATCH", f"/api/sessions/{moved}", json={"student_id": tom["id"]})
    await w.ok(
        "POST", "/api/auth/password", "student", json={"current_password": "lea-pass-1", "new_password": "lea-pass-2"}
    )
    lea_login = next(u["id"] for u in await w.ok("GET", "/api/users") if u["username"] == "lea")
    await w.ok("DELETE", f"/api/students/{student}")

    def names_her(values: object) -> bool:
        return isinstance(values, dict) and values.get("student_id") == student

    with w.sessions() as session:
        # In id order: PostgreSQL returns rows the erase rewrote after the others when no order is asked.
        entries = list(session.query(AuditEntry).order_by(AuditEntry.id))
    assert [e for e in entries if e.entity == "user" and e.entity_id == lea_login] == []
    assert [e for e in entries if e.entity == "student" and e.entity_id == student] == []
    assert [e.id for e in entries if names_her(e.before) or names_her(e.after)] == []
    assert "lea" not in {e.who for e in entries}
    assert "'lea'" not in str([(e.before, e.after) for e in entries])
    deletion = entries[-1]
    assert (deletion.action, deletion.entity, deletion.entity_id) == ("delete", "student", None)
    # The sessions keep what orders need.
    with w.sessions() as session:
        assert {s.order_id for s in session.query(WorkSessionRecord)} == {w.ids["order"], None}
