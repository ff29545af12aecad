"""The network page and its CSV over the aggregates the network's gateway keeps: each school's week, the
trend, the local school against the network's median; who may open it; hostile parameters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from edge_agent import contract
from gateway.store.network_repo import keep
from tests.gateway.records.conftest import World, site_client

MONDAY = date(2026, 11, 23)  # the world's clock is on this Monday (week 2026-W48)


def _day(
    site: str, day: date, *, planned: float, running: float, good: int, oee: float | None, ts: int = 0
) -> contract.NetworkAggregate:
    start = datetime.combine(day, datetime.min.time(), UTC)
    machine = contract.MachineAggregate(
        machine="mill",
        online=True,
        planned_h=planned,
        running_h=running,
        free_h=planned - running,
        good=good,
        scrap=1,
        oee=oee,
        stops=contract.StopHours(setup=0.5),
    )
    return contract.NetworkAggregate(
        site=site,
        ts=start + timedelta(days=1, minutes=ts),
        period="day",
        day=day,
        start=start,
        end=start + timedelta(days=1),
        final=True,
        machines=(machine,),
        practice=(contract.PracticeHours(class_label="CAP1", track="CAP", hours=6.0),),
    )


def _store(w: World, *messages: contract.NetworkAggregate) -> None:
    with w.sessions.begin() as db:
        for message in messages:
            keep(db=db, message=message, received=w.clock.now)


@pytest.fixture
def network(world: World) -> World:
    """Three schools: lyon (this gateway's own machines) at 25 %, grenoble at 50 %, nantes at 75 %; lyon also
    the week before."""
    _store(
        world,
        _day("lyon", MONDAY, planned=8, running=2, good=10, oee=0.2),
        _day("grenoble", MONDAY, planned=8, running=4, good=20, oee=0.4),
        _day("nantes", MONDAY, planned=8, running=6, good=30, oee=0.6),
        _day("lyon", MONDAY - timedelta(days=7), planned=8, running=4, good=5, oee=0.3),
    )
    return world


async def test_the_page_shows_every_school_and_the_local_one_against_the_median(
    network: World, databases: dict[str, str], backend: str
) -> None:
    async with site_client(databases[backend], network.clock) as client:
        page = await client.get("/network?lang=fr", headers=network.as_("admin"))
    assert page.status_code == 200
    text = page.text
    for site in ("lyon", "grenoble", "nantes"):
        assert f'data-site="{site}"' in text
    assert "Votre école — lyon : utilisation 25 %, TRS 20 % — médiane du réseau : utilisation 50 %, TRS 40 %" in text
    assert "Léa" not in text  # the world's student: nothing of hers is in an aggregate


async def test_a_republished_day_does_not_double_the_week(
    network: World, databases: dict[str, str], backend: str
) -> None:
    _store(network, _day("nantes", MONDAY, planned=8, running=7, good=35, oee=0.7, ts=5))
    async with site_client(databases[backend], network.clock) as client:
        raw = await client.get("/network.csv?format=raw", headers=network.as_("admin"))
    rows = [r for r in csv.DictReader(io.StringIO(raw.text)) if r["site"] == "nantes" and r["week"] == "2026-W48"]
    assert [(r["running_h"], r["good"], r["utilisation"]) for r in rows] == [("7.0", "35", "0.875")]


async def test_the_csv_has_every_school_for_every_week_of_the_trend(
    network: World, databases: dict[str, str], backend: str
) -> None:
    async with site_client(databases[backend], network.clock) as client:
        sheet = await client.get("/network.csv?lang=fr", headers=network.as_("admin"))
        raw = await client.get("/network.csv?format=raw", headers=network.as_("admin"))
    assert sheet.status_code == 200
    assert sheet.text.startswith("\ufeffÉcole;Semaine;Temps planifié")
    rows = list(csv.DictReader(io.StringIO(raw.text)))
    assert len(rows) == 3 * 8
    lyon = {r["week"]: r for r in rows if r["site"] == "lyon"}
    assert (lyon["2026-W47"]["running_h"], lyon["2026-W48"]["running_h"]) == ("4.0", "2.0")
    assert lyon["2026-W48"]["practice_h"] == "6.0"
    assert lyon["2026-W48"]["setup_h"] == "0.5"


@pytest.mark.parametrize(("role", "status"), [("student", 403), ("kiosk", 403), ("viewer", 403), (None, 303)])
async def test_only_admins_open_it(
    network: World, databases: dict[str, str], backend: str, role: str | None, status: int
) -> None:
    async with site_client(databases[backend], network.clock) as client:
        for path in ("/network", "/network.csv"):
            response = await client.get(path, headers=network.as_(role), follow_redirects=False)
            assert response.status_code == status, path
            assert "grenoble" not in response.text


HOSTILE_WEEKS = ["garbage", "2026-W99", "0000-W01", "0001-W01", "9999-W52", "2026-W48" + "x" * 5000, "%00"]


@pytest.mark.parametrize("week", HOSTILE_WEEKS)
async def test_hostile_weeks_show_a_page_not_an_error(
    network: World, databases: dict[str, str], backend: str, week: str
) -> None:
    async with site_client(databases[backend], network.clock) as client:
        page = await client.get("/network", params={"week": week}, headers=network.as_("admin"))
        sheet = await client.get("/network.csv", params={"week": week}, headers=network.as_("admin"))
    assert (page.status_code, sheet.status_code) == (200, 200)


async def test_with_nothing_published_the_page_says_so(world: World, databases: dict[str, str], backend: str) -> None:
    async with site_client(databases[backend], world.clock) as client:
        page = await client.get("/network?lang=en", headers=world.as_("admin"))
    assert page.status_code == 200
    assert "No school has published its figures for this period yet." in page.text
