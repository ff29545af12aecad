"""The master's desk: every daily page a master (admin) opens, grouped as the hub at ``/desk`` shows them.

One list, so the hub and the tests agree on what exists; each page's own module adds its line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeskEntry:
    group: str  # a label key: desk_people, desk_work, desk_shop, desk_it
    label: str  # a label key in page_labels
    href: str


DESK: list[DeskEntry] = [
    DeskEntry("desk_people", "desk_students", "/desk/students"),
    DeskEntry("desk_people", "desk_students_import", "/desk/students/import"),
    DeskEntry("desk_people", "desk_users", "/desk/users"),
    DeskEntry("desk_shop", "desk_screens", "/desk/screens"),
    DeskEntry("desk_it", "desk_it_page", "/desk/it"),
    DeskEntry("desk_work", "nav_orders", "/orders"),
    DeskEntry("desk_work", "nav_new_order", "/desk/orders/new"),
    DeskEntry("desk_work", "nav_customers", "/desk/customers"),
    DeskEntry("desk_work", "nav_sessions", "/desk/sessions"),
    DeskEntry("desk_work", "nav_cycles", "/desk/cycles"),
    DeskEntry("desk_shop", "nav_utilisation", "/utilisation"),
    DeskEntry("desk_shop", "nav_calendar", "/calendar"),
    DeskEntry("desk_shop", "nav_alarms", "/desk/alarms"),
    DeskEntry("desk_people", "nav_authorisations", "/desk/authorisations"),
    DeskEntry("desk_people", "nav_competences", "/desk/competences"),
]

DESK_GROUPS = ("desk_people", "desk_work", "desk_shop", "desk_it")


def desk_by_group() -> list[tuple[str, list[DeskEntry]]]:
    return [(g, [e for e in DESK if e.group == g]) for g in DESK_GROUPS if any(e.group == g for e in DESK)]
