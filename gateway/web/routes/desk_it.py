"""``/desk/it``: for the school's IT person, the gateway's health, the agents and their last contact, dead letters.

The health is ``/healthz``'s own checks; agents and dead letters come from the store
(``it_repo``). A dead letter's payload shows only its first bytes, as text that stays
text (the page escapes it): what came off the bus is never trusted.

A master sees the agents and the dead letters of their sites: a dead letter's site is the one its topic
names (``atelier/v1/{site}/...``, ``it_repo.dead_letters``). A dead letter whose topic is under no site's
tree (outside ``atelier/v1/``, or whatever a broker let through) may come from any school: only a master of
every site the store knows (``sites_repo.store_sites``) sees those, with all the others. In a school with one
site its master is that master: the page is as it always was.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.store import it_repo, sites_repo
from gateway.web.deps import get_services
from gateway.web.pages import records, render, require
from gateway.web.routes.health import gateway_checks

router = APIRouter(include_in_schema=False)
DEAD_LETTERS_SHOWN = 50


@router.get("/desk/it")
async def it_page(request: Request) -> Response:
    who = require(request, "admin")
    services = get_services(request)
    checks = await gateway_checks(services)
    state = records(request)
    with state.reading(who) as db:
        agents = it_repo.agents(db=db)
        every_site = who.sites >= sites_repo.store_sites(db)
        mine = None if every_site else who.sites
        total, letters = it_repo.dead_letters(db=db, limit=DEAD_LETTERS_SHOWN, sites=mine)
    now = state.now()
    context = {
        "checks": checks,
        "failing": [name for name, c in checks.items() if c.required and not c.ok],
        "agents": [(a, (now - a.last_seen).total_seconds()) for a in agents],
        "dead_total": total,
        "letters": letters,
        "machines_live": len(services.live.machines()),
    }
    return render(request, "desk_it.html", context)
