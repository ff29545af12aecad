"""The IT page of a gateway hosting several schools: a master sees the dead letters of their sites only (the
site their topic names); a topic under no site's tree only a master of every site sees. A school with one site
sees them all, as before."""

from __future__ import annotations

import re

from gateway.store.models import DeadLetter
from tests.gateway.records.conftest import World, add_machine, at, master_of, site_client

TOPICS = (
    "atelier/v1/lyon/mill/event",
    "atelier/v1/lyon/mill/bogus-channel",  # dead because it does not parse: still lyon's tree
    "atelier/v1/paris/drill/event",
    "atelier/v1/par_s/x/event",  # "_" is a character here, never a wildcard that would match paris
    "atelier/v1",
    "elsewhere/lyon/mill",
)


def _dead_letters(w: World) -> None:
    with w.sessions.begin() as s:
        for minute, topic in enumerate(TOPICS):
            s.add(
                DeadLetter(
                    received_at=at(minute),
                    topic=topic,
                    payload=b"{bad",
                    payload_size=4,
                    payload_sha256="0" * 64,
                    reason="not JSON",
                )
            )


async def _seen(w: World, url: str, who: str) -> tuple[set[str], str]:
    async with site_client(url, w.clock) as client:
        page = await client.get("/desk/it", headers=w.as_(who))
    assert page.status_code == 200, page.text
    shown = set(re.findall(r"<td><code>([^<]*)</code></td>", page.text))
    count = re.search(r"<h2 id=\"dead-title\">.*?<p>([^<]*)</p>", page.text, re.S)
    return shown, count.group(1) if count else ""


async def test_a_master_sees_the_dead_letters_of_their_sites(
    world: World, databases: dict[str, str], backend: str
) -> None:
    url = databases[backend]
    _dead_letters(world)
    # One site in the store: its master sees every dead letter, those under no site's tree too.
    assert (await _seen(world, url, "admin"))[0] == set(TOPICS)

    add_machine(world.sessions, "drill", site="paris")
    await master_of(world, "paris", ["paris"])
    await master_of(world, "both", ["lyon", "paris"])
    lyon, lyon_count = await _seen(world, url, "admin")
    assert lyon == {"atelier/v1/lyon/mill/event", "atelier/v1/lyon/mill/bogus-channel"}
    assert lyon_count.startswith("2 ")  # the count is of their sites too
    assert (await _seen(world, url, "paris"))[0] == {"atelier/v1/paris/drill/event"}
    assert (await _seen(world, url, "both"))[0] == set(TOPICS)
    # A master of a site whose id holds "_": their letters only, never paris's (the "_" is no wildcard); and
    # "both" is no longer a master of every site of the store: the letters under no site's tree leave their page.
    await master_of(world, "pars", ["par_s"])
    assert (await _seen(world, url, "pars"))[0] == {"atelier/v1/par_s/x/event"}
    assert (await _seen(world, url, "both"))[0] == {*lyon, "atelier/v1/paris/drill/event"}
