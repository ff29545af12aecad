"""A school's day for the network tests: two machines, a morning's run, four students at work with names
and badges that must never reach the network (what the centre's stores are searched for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.models import Agent, Cycle, Machine, PartCount, StateChange, Student, WorkSessionRecord

DAY = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday; the tests' zone is UTC, the calendar 08-12 and 13-17


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Seeded:
    site: str
    secrets: tuple[str, ...]  # names and badges of the students: none may leave the school
    student_ids: tuple[int, ...]


def seed_school(sessions: sessionmaker[Session], site: str, *, parts: int = 12, day: datetime = DAY) -> Seeded:
    """Mill runs 08:00-10:00 making ``parts`` parts; the lathe never speaks. Three CAP1 students
    and one lone Bac Pro student work on the mill (three for 2 h, the lone one for 1 h)."""
    with sessions.begin() as db:
        agent = Agent(site=site, name=f"pc-{site}", status="online", version="1", last_seen=day, contiguous_seq=None)
        db.add(agent)
        db.flush()
        mill = Machine(site=site, name="mill", agent_id=agent.id, first_seen=day, last_seen=day)
        lathe = Machine(site=site, name="lathe", agent_id=agent.id, first_seen=day, last_seen=day)
        db.add_all([mill, lathe])
        db.flush()
        start = day + timedelta(hours=8)
        _run(db, mill, start, parts)
        people = [
            ("Léa", "CAP1", "CAP", f"BADGE-{site}-LEA"),
            ("Tom", "CAP1", "CAP", f"BADGE-{site}-TOM"),
            ("Inès", "CAP1", "CAP", f"BADGE-{site}-INES"),
            ("Zoé", "BP2", "BAC_PRO", f"BADGE-{site}-ZOE"),
        ]
        students = []
        for first, class_name, track, badge in people:
            student = Student(
                site=site,
                first_name=f"{first}{site.capitalize()}",
                last_initial="Q",
                class_name=class_name,
                track=track,
                badge=badge,
                active=True,
                created=day,
            )
            db.add(student)
            students.append(student)
        db.flush()
        for i, student in enumerate(students):
            begin = start + timedelta(hours=2 * i)
            length = timedelta(hours=1 if student.track == "BAC_PRO" else 2)
            db.add(
                WorkSessionRecord(
                    machine_id=mill.id,
                    student_id=student.id,
                    order_id=None,
                    started=begin,
                    ended=begin + length,
                    opened_by="kiosk",
                    closed_by="kiosk",
                    master_on_duty=None,
                )
            )
        secrets = tuple(s.first_name for s in students) + tuple(str(s.badge) for s in students)
        return Seeded(site, secrets, tuple(s.id for s in students))


def run_mill(sessions: sessionmaker[Session], site: str, day: datetime, parts: int) -> None:
    """The site's mill runs 08:00-10:00 on ``day`` making ``parts`` parts (a later day of the same school)."""
    with sessions.begin() as db:
        mill = db.scalars(select(Machine).where(Machine.site == site, Machine.name == "mill")).one()
        _run(db, mill, day + timedelta(hours=8), parts)


_seqs = iter(range(1000, 10**9, 2))


def _run(db: Session, mill: Machine, start: datetime, parts: int) -> None:
    db.add(StateChange(machine_id=mill.id, ts=start, availability="AVAILABLE", execution="ACTIVE", mode=None))
    db.add(
        StateChange(
            machine_id=mill.id, ts=start + timedelta(hours=2), availability="AVAILABLE", execution="READY", mode=None
        )
    )
    for i in range(parts):
        seq = next(_seqs)
        ended = start + timedelta(minutes=10 * (i + 1))
        db.add(
            Cycle(
                machine_id=mill.id,
                agent_id=mill.agent_id,
                seq=seq,
                program="O1000",
                kind="cycle",
                started=ended - timedelta(minutes=9),
                ended=ended,
                duration_s=540.0,
                held_s=0.0,
                parts=1,
                outcome="completed",
            )
        )
        db.add(
            PartCount(
                machine_id=mill.id,
                agent_id=mill.agent_id,
                seq=seq + 1,
                ts=ended,
                count=1,
                counter=None,
                program="O1000",
            )
        )
