"""A small workshop in the store, with figures worked out by hand, and a wall of 30 live machines.

Léa: Monday 8:00-9:00 on the mill for PO-1, ten cycles (330 s down to 275 s, standard 300 s),
two parts scrapped; Tuesday 8:00-9:00 practice on the lathe, three 200 s cycles.
Tom: Tuesday 10:00-10:30 on the mill for PO-1, two 300 s cycles.
So PO-1 (20 ordered): made 12, scrap 2, good 10. Léa: 2 sessions, 2.0 h, 13 cycles, 13 parts, 2 scrap, 11 good.
PO-2 (5 ordered) was due the day before and has nothing made: late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from edge_agent import contract as c
from gateway import auth
from gateway.live import MachineView
from gateway.store import authorisations_repo, customers_repo, orders_repo, students_repo, work_repo
from gateway.store.models import Machine
from tests.gateway.records.conftest import add_cycle, add_machine, add_state

PARIS = ZoneInfo("Europe/Paris")
LEA_DURATIONS = (330, 320, 310, 300, 295, 290, 285, 280, 280, 275)


@dataclass
class Seeded:
    monday: datetime  # 8:00 Paris on the Monday of the seeded week
    week: str
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # the mill's kiosk, the workshop TV (viewer)


def anchor(now: datetime) -> datetime:
    """8:00 on a Monday whose Monday and Tuesday are both in the past."""
    local = now.astimezone(PARIS)
    monday = local.date() - timedelta(days=local.weekday())
    if local < datetime.combine(monday + timedelta(days=1), time(11), tzinfo=PARIS):
        monday -= timedelta(days=7)
    return datetime.combine(monday, time(8), tzinfo=PARIS).astimezone(UTC)


def seed(sessions: sessionmaker[Session]) -> Seeded:
    now = datetime.now(UTC)
    t0 = anchor(now)
    iso = t0.astimezone(PARIS).isocalendar()
    seeded = Seeded(monday=t0, week=f"{iso.year}-W{iso.week:02d}")
    ids = seeded.ids
    ids["mill"], ids["lathe"] = add_machine(sessions, "mill"), add_machine(sessions, "lathe")
    with sessions.begin() as s:
        _people(s, ids, now)
        _authorise(s, ids, now)
        mill = s.get_one(Machine, ids["mill"])
        seeded.tokens["kiosk"] = auth.create_api_token(
            db=s, who="seed", now=now, role="kiosk", label="mill tablet", machine=mill
        )[0]
        seeded.tokens["viewer"] = auth.create_api_token(
            db=s, who="seed", now=now, role="viewer", label="TV", machine=None
        )[0]
    _work(sessions, ids, t0, now)
    return seeded


def _authorise(s: Session, ids: dict[str, int], now: datetime) -> None:
    """Every seeded student may use both machines, the regulated dates held."""
    workshop = authorisations_repo.create_group(
        db=s, who="seed", now=now, name="Atelier", regulated=True, machine_ids=[ids["mill"], ids["lathe"]]
    )
    ids["workshop"] = workshop.id
    for key in ("lea", "tom", "ines"):
        grant = {"student_id": ids[key], "group_id": workshop.id, "granted_on": (now - timedelta(days=90)).date()}
        grant |= {
            "training_on": (now - timedelta(days=89)).date(),
            "medical_valid_until": (now + timedelta(days=300)).date(),
        }
        authorisations_repo.grant(db=s, who="seed", now=now, fields=grant)


def _people(s: Session, ids: dict[str, int], now: datetime) -> None:
    auth.create_user(
        db=s, who="seed", now=now, username="master", password="master-pass", role="admin", student_id=None
    )
    for key, first, initial, klass, track, badge in (
        ("lea", "Léa", "M", "CAP1", "CAP", "B-LEA"),
        ("tom", "Tom", "R", "BP2", "BAC_PRO", "B-TOM"),
        ("ines", "Inès", "B", "BP2", "BAC_PRO", "B-INES"),
    ):
        person = {"first_name": first, "last_initial": initial, "class_name": klass, "track": track, "badge": badge}
        ids[key] = students_repo.create_student(db=s, who="seed", now=now, fields=person).id
        auth.create_user(
            db=s, who="seed", now=now, username=key, password=f"{key}-pass-1", role="student", student_id=ids[key]
        )
    ids["customer"] = customers_repo.create_customer(
        db=s, who="seed", now=now, name="Acme", contact="buyer@acme.example"
    ).id
    for key, ref, qty, std, due in (("po1", "PO-1", 20, 300.0, 10), ("po2", "PO-2", 5, 120.0, -1)):
        fields: dict[str, object] = {
            "customer_id": ids["customer"],
            "reference": ref,
            "part_number": f"BRK-{ref[-1]}",
            "drawing_revision": "B",
            "quantity": qty,
            "due": now + timedelta(days=due),
            "standard_cycle_s": std,
        }
        ids[key] = orders_repo.create_order(db=s, who="seed", now=now, fields=fields).id


def _session(s: Session, ids: dict[str, int], who: tuple[str, str, str | None], start: datetime) -> None:
    machine, student, order = who
    work_repo.add_work_session(
        db=s,
        who="seed",
        machine=s.get_one(Machine, ids[machine]),
        student_id=ids[student],
        order_id=ids[order] if order else None,
        start=start,
        end=start + timedelta(minutes=30 if student == "tom" else 60),
        now=start,
    )


def _work(sessions: sessionmaker[Session], ids: dict[str, int], t0: datetime, now: datetime) -> None:
    day2 = t0 + timedelta(days=1)
    with sessions.begin() as s:
        _session(s, ids, ("mill", "lea", "po1"), t0)
        _session(s, ids, ("lathe", "lea", None), day2)
        _session(s, ids, ("mill", "tom", "po1"), day2 + timedelta(hours=2))
    for k, length in enumerate(LEA_DURATIONS):
        start = t0 + timedelta(minutes=6 * k)
        add_cycle(sessions, ids["mill"], start, start + timedelta(seconds=length))
    for k in range(3):
        add_cycle(sessions, ids["lathe"], day2 + timedelta(minutes=5 * k), day2 + timedelta(minutes=5 * k, seconds=200))
    for k in range(2):
        start = day2 + timedelta(hours=2, minutes=6 * k)
        add_cycle(sessions, ids["mill"], start, start + timedelta(seconds=300))
    with sessions.begin() as s:
        work_repo.declare_scrap(
            db=s,
            who="seed",
            order_id=ids["po1"],
            quantity=2,
            reason="alésage hors tolérance",
            inspected_by="M. Roux",
            ts=t0 + timedelta(minutes=59),
            machine=s.get_one(Machine, ids["mill"]),
            now=now,
        )
    with sessions.begin() as s:  # Inès is at the mill now, for PO-1: no cycle of hers yet
        mill = s.get_one(Machine, ids["mill"])
        work_repo.check_in(
            db=s, who="seed", machine=mill, student_id=ids["ines"], order_id=ids["po1"], at=now, day=now.date()
        )
    # The mill: on at 7:00, cutting 8:00-9:00, idle until 10:00, then switched off.
    changes: tuple[tuple[int, str, str | None], ...] = (
        (-60, "AVAILABLE", "READY"),
        (0, "AVAILABLE", "ACTIVE"),
        (60, "AVAILABLE", "READY"),
        (120, "UNAVAILABLE", None),
    )
    for minutes, availability, execution in changes:
        add_state(sessions, ids["mill"], t0 + timedelta(minutes=minutes), availability, execution)


_WALL = (
    (c.Execution.ACTIVE, ()),
    (c.Execution.READY, ()),
    (c.Execution.FEED_HOLD, ()),
    (c.Execution.STOPPED, (c.Alarm(code="2041", message="Lubrification basse", severity=c.Severity.FAULT),)),
)


WALL_NAMES = (
    "sinumerik-mill",
    "haas-lathe",
    "grbl-router",
    "umati-mill",
    "tour-conventionnel",
    "fraiseuse-dmu",
    "heidenhain-tnc",
    "centre-usinage",
)


def wall_of_machines(count: int) -> list[MachineView]:
    """``count`` machines in every state, for the 1080p wall screenshot."""
    now = datetime.now(UTC)
    views = []
    for k in range(count):
        execution: c.Execution | None
        execution, alarms = _WALL[k % len(_WALL)]
        if k % 7 == 6:
            execution, alarms = None, ()
        state = c.MachineState(
            availability=c.Availability.AVAILABLE,
            execution=execution,
            mode=c.Mode.AUTOMATIC,
            program=f"O{1000 + k * 10}",
            part_count=40 + k,
            alarms=alarms,
        )
        # The mill has Inès checked in: its tile shows the order. The others are named as a French workshop does.
        name = "mill" if k == 0 else f"{WALL_NAMES[k % len(WALL_NAMES)]}-{k + 1}"
        view = MachineView("lyon", name, agent=f"pc-{k // 4}", agent_online=k % 7 != 6, state=state)
        view.state_since = now - timedelta(minutes=3 + k)
        view.last_cycle_s = 240.0 + 7 * k
        views.append(view)
    return views
