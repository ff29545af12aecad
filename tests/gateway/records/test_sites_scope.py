"""A store session restricted to some sites (``sites_repo.restrict``) sees, of every scoped table, exactly the rows
of those sites: by entity, by count over ``select_from``, by id; and an unrestricted one sees them all."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store import sites_repo
from gateway.store.models import Machine, Order, ScrapRecord, WorkSessionRecord
from tests.gateway.records.conftest import World, add_cycle, at

SCOPED = (*sites_repo.OWN_SITE, *sites_repo.BY_MACHINE, *sites_repo.BY_ORDER, *sites_repo.BY_STUDENT)


@pytest.fixture
async def lyon_at_work(world: World) -> World:
    """Lyon's world with a session, a cycle and scrap on the mill; a paris machine with nothing on it."""
    from tests.gateway.records.conftest import add_machine

    world.machines["drill"] = add_machine(world.sessions, "drill", site="paris")
    with world.sessions.begin() as s:
        s.add(
            WorkSessionRecord(
                machine_id=world.machines["mill"],
                student_id=world.ids["student"],
                order_id=world.ids["order"],
                started=at(1),
                ended=at(30),
                opened_by="t",
            )
        )
        s.add(
            ScrapRecord(
                order_id=world.ids["order"], quantity=1, reason="x", inspected_by="m", ts=at(5), declared_by="m"
            )
        )
    add_cycle(world.sessions, world.machines["mill"], at(2), at(3))
    return world


def _counts(world: World, sites: tuple[str, ...] | None) -> dict[str, tuple[int, int]]:
    with world.sessions() as s:
        sites_repo.restrict(s, sites)
        return {
            model.__name__: (
                len(s.scalars(select(model)).all()),
                s.scalar(select(func.count()).select_from(model)) or 0,
            )
            for model in SCOPED
        }


def test_every_scoped_table_shows_only_the_sites_asked_for(lyon_at_work: World) -> None:
    everything = _counts(lyon_at_work, None)
    lyon = _counts(lyon_at_work, ("lyon",))
    paris = _counts(lyon_at_work, ("paris",))
    # The world's rows are lyon's but the paris machine and its agent.
    paris_own = {"Machine": (1, 1), "Agent": (1, 1)}
    assert paris == {name: paris_own.get(name, (0, 0)) for name in everything}
    assert lyon == {name: (n - paris_own.get(name, (0, 0))[0],) * 2 for name, (n, _) in everything.items()}
    assert [name for name, (n, _) in lyon.items() if n] != []  # the test sees rows: it can fail
    assert _counts(lyon_at_work, ()) == dict.fromkeys(everything, (0, 0))


def test_every_site_lifts_the_restriction_for_a_while_only(lyon_at_work: World) -> None:
    with lyon_at_work.sessions() as s:
        sites_repo.restrict(s, ("paris",))
        assert len(s.scalars(select(Machine)).all()) == 1
        with sites_repo.every_site(s):
            assert len(s.scalars(select(Machine)).all()) == 3
        assert len(s.scalars(select(Machine)).all()) == 1
        with pytest.raises(RuntimeError), sites_repo.every_site(s):
            raise RuntimeError("a read that fails")
        assert sites_repo.visible(s) == ("paris",)


def test_the_orders_read_as_columns_are_the_sites_asked_for(lyon_at_work: World) -> None:
    """``order_lines`` (the orders CSV's read of columns) is restricted as the ORM rows are."""
    from gateway.store.orders_repo import order_lines

    with lyon_at_work.sessions() as s:
        lyon = order_lines(db=s)
        assert [o.id for o in lyon] == [lyon_at_work.ids["order"]]
        assert lyon[0].reference == s.get_one(Order, lyon_at_work.ids["order"]).reference
        sites_repo.restrict(s, ("paris",))
        assert order_lines(db=s) == []
        sites_repo.restrict(s, ("lyon",))
        assert order_lines(db=s) == lyon


def test_a_row_of_another_site_is_not_there_by_id_and_nothing_of_it_changes(lyon_at_work: World) -> None:
    from sqlalchemy import delete, update

    w = lyon_at_work
    with w.sessions.begin() as s:
        sites_repo.restrict(s, ("paris",))
        assert s.get(Order, w.ids["order"]) is None
        assert s.get(Machine, w.machines["mill"]) is None
        assert s.get(Machine, w.machines["drill"]) is not None
        s.execute(update(Order).values(status="cancelled"))
        s.execute(delete(ScrapRecord))
    with w.sessions() as s:
        order: Any = s.get(Order, w.ids["order"])
        assert order.status == "open"
        assert s.scalar(select(func.count()).select_from(ScrapRecord)) == 1


def test_a_restricted_session_settles_every_sites_late_rows(lyon_at_work: World) -> None:
    """The summaries' watermarks are the store's: a paris master's read that settles them must see lyon's new
    rows too, or lyon's day would keep a summary its late cycle made stale."""
    from gateway.store import summaries_repo

    world = lyon_at_work
    with world.sessions.begin() as s:
        summaries_repo.settle(s, zone="Europe/Paris", now=at(40))  # the watermarks start at what is stored
    add_cycle(world.sessions, world.machines["mill"], at(10), at(11))  # lyon's late cycle
    with world.sessions.begin() as s:
        sites_repo.restrict(s, ("paris",))
        seen = summaries_repo.pending(s)
        summaries_repo.settle(s, zone="Europe/Paris", now=at(41))
    assert world.machines["mill"] in seen.since
    if world.backend == "sqlite":  # PostgreSQL's watermarks move only after a grace (summaries_repo)
        with world.sessions.begin() as s:
            sites_repo.restrict(s, ("lyon",))
            assert summaries_repo.pending(s).rows == 0  # settled once, for every site
