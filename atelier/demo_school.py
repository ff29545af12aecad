"""The small school ``atelier demo`` sets up: a master (with a badge), two classes, three customers, their orders
(two of them in two operations), a kiosk a machine.

Everything is written through the gateway's own store functions, the ones the API and the admin commands
call (their checks, their audit entries), never raw SQL. Seeding is idempotent: each thing is looked up by
what names it (a login by user name, a student by badge, a customer by name, an order by customer and
reference) and created only when it is missing, so the demo run again on its data folder adds nothing.

The master's password is drawn at random when the login is created, printed once by the banner and stored
hashed like any other. The kiosks' tokens are kept in ``kiosk-tokens.json`` in the data folder (readable
by its owner only), as a tablet keeps its login: a token still valid is used again, never a second one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import auth
from gateway.errors import NotFoundError
from gateway.store import (
    authorisations_repo,
    badges_repo,
    customers_repo,
    machines_repo,
    operations_repo,
    orders_repo,
    students_repo,
    work_repo,
)
from gateway.store.db import Database, upgrade
from gateway.store.models import User

logger = logging.getLogger(__name__)

WHO = "atelier demo"  # the audit log's name for what the demo wrote
DEMO_SITE = "demo"  # the demo's machines report on this site (``atelier.demo.SITE``)
MASTER = "maitre"
MASTER_BADGE = "0009000001"  # the master's badge: approves first parts and ends any session at a kiosk
INSPECTOR = "M. Roux"  # the master whose name goes on scrap declarations (an adult: a name is fine)
DEMO_GROUP = "Atelier démo"
TOKEN_FILE = "kiosk-tokens.json"  # noqa: S105 - a file name
TOKEN_DAYS = 365


@dataclass(frozen=True, slots=True)
class Pupil:
    first_name: str
    last_initial: str
    class_name: str
    track: str
    badge: str  # what the USB reader types: the badge's number


@dataclass(frozen=True, slots=True)
class Job:
    """An order as the school took it: due ``due_days`` after the day it was seeded, at 17:00."""

    customer: str
    reference: str
    part_number: str
    revision: str
    quantity: int
    due_days: int
    standard_cycle_s: float  # per part, as ``performance`` counts it
    programs: tuple[str, ...]  # the simulated machines' programs that make this part
    # Its operations (number, label, programs, first-part approval asked); none: one operation 10 of ``programs``.
    steps: tuple[tuple[int, str, tuple[str, ...], bool], ...] = ()


CLASSES = {"CAP1-A": "CAP", "BP2-A": "BAC_PRO"}
PUPILS = tuple(
    Pupil(first, initial, klass, CLASSES[klass], f"00040{n:05d}")
    for n, (first, initial, klass) in enumerate(
        (
            ("Inès", "B", "CAP1-A"),
            ("Lucas", "M", "CAP1-A"),
            ("Chloé", "D", "CAP1-A"),
            ("Nathan", "R", "CAP1-A"),
            ("Manon", "L", "CAP1-A"),
            ("Hugo", "P", "CAP1-A"),
            ("Léa", "G", "BP2-A"),
            ("Enzo", "V", "BP2-A"),
            ("Camille", "T", "BP2-A"),
            ("Théo", "F", "BP2-A"),
            ("Jade", "C", "BP2-A"),
            ("Louis", "H", "BP2-A"),
        ),
        start=1,
    )
)
CUSTOMERS = {
    "Mécanique Doubs": "M. Petit, atelier",
    "Hydro-Comtoise": "Mme Girard, achats",
    "Signalétique Jura": "M. Faure",
}
# The programs are the simulated machines' own (atelier.demo_machines): the mills run BRIDE_A12.MPF and
# PLATINE_C3.MPF (two parts a cycle), the Haas lathe O1042, the GRBL router the engraving enseigne.nc.
JOBS = (
    Job("Mécanique Doubs", "CMD-2598", "BRIDE-A12", "C", 40, -1, 26.0, ("BRIDE_A12.MPF",)),
    Job(
        "Mécanique Doubs",
        "CMD-2611",
        "BRIDE-A12",
        "C",
        120,
        6,
        26.0,
        ("BRIDE_A12.MPF",),
        ((10, "Ébauche", ("BRIDE_A12.MPF",), False), (20, "Finition", ("BRIDE_A12.MPF",), False)),
    ),
    Job("Mécanique Doubs", "CMD-2614", "PLATINE-C3", "B", 60, 9, 20.0, ("PLATINE_C3.MPF",)),
    # Turned on the lathe, then marked on the router: the marking's first part waits for a master's OK.
    Job(
        "Hydro-Comtoise",
        "HC-0388",
        "AXE-1042",
        "A",
        80,
        2,
        15.0,
        ("O1042", "enseigne.nc"),
        ((10, "Tournage", ("O1042",), False), (20, "Marquage", ("enseigne.nc",), True)),
    ),
    Job("Signalétique Jura", "SJ-115", "ENSEIGNE-60X30", "A", 25, 1, 22.0, ("enseigne.nc",)),
)


@dataclass
class School:
    """What the demo seeded, for its banner and its simulated students."""

    master: str
    password: str | None  # only when the login was created by this run: printed once, never stored in clear
    badges: list[str] = field(default_factory=list)
    orders: dict[int, tuple[str, ...]] = field(default_factory=dict)  # order id → its programs
    # order id → (number, programs) of each operation, for orders of several operations (a check-in chooses one)
    operations: dict[int, tuple[tuple[int, tuple[str, ...]], ...]] = field(default_factory=dict)
    master_badge: str = MASTER_BADGE
    created: dict[str, int] = field(default_factory=dict)  # what this run added, by kind

    @property
    def classes(self) -> list[str]:
        return list(CLASSES)


def seed_school(
    url: str, *, zone: ZoneInfo, now: datetime | None = None, pace: float = 1.0, site: str = DEMO_SITE
) -> School:
    """Create whatever of the school is missing in the store at ``url`` (its schema brought up to date), in ``site``.

    ``pace`` scales the orders' standard times as it scales the simulated machines' (a test's faster demo).
    """
    now = now or datetime.now(UTC)
    upgrade(url, site=site)
    school = School(master=MASTER, password=None, badges=[p.badge for p in PUPILS])
    database = Database.at(url)
    try:
        with database.transaction() as db:
            school.password = _master(db, now, site)
            school.created = {
                "users": int(school.password is not None),
                "students": _students(db, now, site),
                "customers": 0,
                "orders": 0,
            }
            customers = customers_repo.customer_ids(db=db, site=site)
            for name, contact in CUSTOMERS.items():
                if name not in customers:
                    row = customers_repo.create_customer(db=db, who=WHO, now=now, name=name, contact=contact, site=site)
                    customers[name] = row.id
                    school.created["customers"] += 1
            for job in JOBS:
                customer = customers[job.customer]
                order = orders_repo.order_with_reference(db=db, customer_id=customer, reference=job.reference)
                if order is None:
                    fields = _order_fields(job, customer, now.astimezone(zone).date(), zone)
                    fields["standard_cycle_s"] = round(job.standard_cycle_s * pace, 3)
                    for step in fields["operations"] or []:
                        step["standard_cycle_s"] = fields["standard_cycle_s"]
                    order = orders_repo.create_order(db=db, who=WHO, now=now, fields=fields)
                    school.created["orders"] += 1
                school.orders[order.id] = tuple(order.programs)
                steps = operations_repo.operations_of(db=db, order_id=order.id)
                if len(steps) > 1:
                    school.operations[order.id] = tuple((s.number, tuple(s.programs)) for s in steps)
    finally:
        database.close()
    return school


def _master(db: Session, now: datetime, site: str) -> str | None:
    """The master's login with a password drawn now, returned; None when the login is there already."""
    found = db.scalars(select(User).where(User.username == MASTER)).first()
    if found is not None:
        if found.badge is None and badges_repo.master_with_badge(db=db, badge=MASTER_BADGE) is None:
            badges_repo.set_master_badge(db=db, who=WHO, now=now, user_id=found.id, badge=MASTER_BADGE)
        return None
    password = _draw_password()
    user = auth.create_user(
        db=db, who=WHO, now=now, username=MASTER, password=password, role="admin", student_id=None, sites=[site]
    )
    badges_repo.set_master_badge(db=db, who=WHO, now=now, user_id=user.id, badge=MASTER_BADGE)
    return password


def _students(db: Session, now: datetime, site: str) -> int:
    created = 0
    for pupil in PUPILS:
        if students_repo.student_with_badge(db=db, badge=pupil.badge) is None:
            fields = {
                "first_name": pupil.first_name,
                "last_initial": pupil.last_initial,
                "class_name": pupil.class_name,
                "track": pupil.track,
                "badge": pupil.badge,
                "active": True,
                "site": site,
            }
            students_repo.create_student(db=db, who=WHO, now=now, fields=fields)
            created += 1
    return created


def _order_fields(job: Job, customer_id: int, today: date, zone: ZoneInfo) -> dict[str, Any]:
    due = datetime.combine(today + timedelta(days=job.due_days), clock_time(17), tzinfo=zone)
    return {
        "customer_id": customer_id,
        "reference": job.reference,
        "part_number": job.part_number,
        "drawing_revision": job.revision,
        "quantity": job.quantity,
        "due": due.astimezone(UTC),
        "standard_cycle_s": job.standard_cycle_s,
        "programs": list(job.programs),
        "status": "open",
        "operations": [
            {"number": number, "label": label, "programs": list(programs), "first_part": first_part}
            for number, label, programs, first_part in job.steps
        ]
        or None,
    }


def _draw_password() -> str:
    # Four groups of four from an alphabet without look-alikes (0/O, 1/l/I): easy to copy from a terminal.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def kiosk_tokens(
    url: str, *, data_dir: Path, machines: Iterable[str], site: str, timeout_s: float = 60.0
) -> dict[str, str]:
    """A kiosk token per machine: the one kept in the data folder while it still works, else a new one.

    The machines must be known to the gateway first (a machine's row appears when its agent first
    reports), so this waits for them. Sessions a demo stopped without its goodbyes left open on these
    machines are ended here, as a master ends a forgotten session.
    """
    path = data_dir / TOKEN_FILE
    kept: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
    wanted = list(machines)
    database = Database.at(url)
    try:
        ids = _wait_for_machines(database, wanted, site, timeout_s)
        tokens: dict[str, str] = {}
        with database.transaction() as db:
            now = datetime.now(UTC)
            _authorise(db, [ids[name] for name in wanted], now)
            for name in wanted:
                machine = machines_repo.machine_by_id(db=db, machine_id=ids[name])
                assert machine is not None  # machines are never deleted
                token = kept.get(name, {}).get("token")
                who = auth.resolve(db=db, token=token, now=now) if token else None
                if token is None or who is None or who.role != "kiosk" or who.machine_id != machine.id:
                    if token is not None and (row := auth.api_token(db=db, token=token)) is not None:
                        auth.revoke_api_token(db=db, who=WHO, now=now, token_id=row.id)
                    label = f"tablette {name}"
                    token, _ = auth.create_api_token(
                        db=db, who=WHO, now=now, role="kiosk", label=label, machine=machine, valid_days=TOKEN_DAYS
                    )
                tokens[name] = token
                if work_repo.open_work_session(db=db, machine=machine) is not None:
                    work_repo.check_out(db=db, who=WHO, machine=machine, at=now)
    finally:
        database.close()
    _keep(path, tokens)
    return tokens


def _authorise(db: Session, machine_ids: list[int], now: datetime) -> None:
    """Every demo student may use the demo's machines (regulated: the training and medical dates held), as a
    school records once the director has signed; a re-run adds nothing while an authorisation is live."""
    group = next((g for g in authorisations_repo.list_groups(db=db) if g.name == DEMO_GROUP), None)
    if group is None:
        group = authorisations_repo.create_group(
            db=db, who=WHO, now=now, name=DEMO_GROUP, regulated=True, machine_ids=machine_ids
        )
    elif sorted(authorisations_repo.group_members(db=db).get(group.id, [])) != sorted(machine_ids):
        changes = {"machine_ids": machine_ids}
        authorisations_repo.update_group(db=db, who=WHO, now=now, group_id=group.id, changes=changes)
    today = now.date()
    for pupil in PUPILS:
        student = students_repo.student_with_badge(db=db, badge=pupil.badge)
        if student is None:
            continue
        live = authorisations_repo.list_authorisations(db=db, student_id=student.id, live_only=True)
        if any(a.group_id == group.id and (a.medical_valid_until or today) > today for a in live):
            continue
        fields = {"student_id": student.id, "group_id": group.id, "granted_on": today, "training_on": today}
        fields["medical_valid_until"] = today + timedelta(days=365)
        authorisations_repo.grant(db=db, who=WHO, now=now, fields=fields)


def _wait_for_machines(database: Database, names: list[str], site: str, timeout_s: float) -> dict[str, int]:
    """Machine name → its id, once the gateway knows every one of them."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = {}
        with database.reading() as db:
            for name in names:
                with contextlib.suppress(NotFoundError):
                    found[name] = machines_repo.find_machine(db=db, name=name, site=site).id
        if len(found) == len(names):
            return found
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(set(names) - set(found)))
            raise TimeoutError(f"the gateway has not heard of {missing} after {timeout_s:.0f} s")
        time.sleep(0.5)


def _keep(path: Path, tokens: dict[str, str]) -> None:
    text = json.dumps({name: {"token": token} for name, token in tokens.items()}, indent=2)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")
