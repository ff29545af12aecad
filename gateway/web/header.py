"""The pages' header: the links each role may open, the language switch, who is signed in.

A link the caller would meet with a 403 is never shown: a kiosk sees its own machine's
kiosk, a status screen (viewer) the wall, the orders and the utilisation, a student their own log.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.requests import Request

from gateway.auth import Principal
from gateway.store import machines_repo
from gateway.store.models import Machine
from gateway.web.records_state import RecordsState

READERS = ("admin", "viewer")  # the roles that open the orders and the utilisation report


@dataclass(frozen=True, slots=True)
class Header:
    who: Principal | None
    links: list[tuple[str, str]]  # (label key, path)
    langs: dict[str, str]  # language code → this page in that language


def kiosk_path(machine: Machine) -> str:
    return f"/kiosk/{quote(machine.name, safe='')}?site={quote(machine.site, safe='')}"


def links_for(who: Principal | None, *, open_status: bool, kiosk: str | None) -> list[tuple[str, str]]:
    role = who.role if who is not None else None
    links: list[tuple[str, str]] = []
    if open_status or role in READERS:
        links.append(("nav_status", "/"))
    if role in READERS:
        links += [("nav_orders", "/orders"), ("nav_utilisation", "/utilisation")]
    if role == "admin":
        links += [("nav_network", "/network"), ("nav_desk", "/desk")]
    if role == "network":
        links.append(("nav_network", "/network"))
    if role == "kiosk" and kiosk is not None:
        links.append(("nav_kiosk", kiosk))
    if who is not None and role == "student" and who.student_id is not None:
        links.append(("nav_my_log", f"/students/{who.student_id}/log"))
    return links


def lang_links(request: Request, codes: tuple[str, ...]) -> dict[str, str]:
    """``?lang=xx`` keeping the page's other parameters (the week shown, kiosk mode)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {code: "?" + urlencode([*kept, ("lang", code)]) for code in codes}


def header(request: Request, who: Principal | None, state: RecordsState, codes: tuple[str, ...]) -> Header:
    kiosk = None
    if who is not None and who.role == "kiosk" and who.machine_id is not None:
        with state.reading(who) as db:
            machine = machines_repo.machine_by_id(db=db, machine_id=who.machine_id)
        kiosk = kiosk_path(machine) if machine is not None else None
    links = links_for(who, open_status=bool(state.settings.open_status_screen), kiosk=kiosk)
    return Header(who, links, lang_links(request, codes))
