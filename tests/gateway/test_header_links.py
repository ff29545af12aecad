"""The header's links per role, with the status screen open to anyone (the default) or closed."""

from __future__ import annotations

import pytest

from gateway.auth import Principal
from gateway.web.header import links_for

KIOSK = "/kiosk/mill?site=lyon"
ROLES = {
    "nobody": None,
    "admin": Principal(role="admin", name="master", user_id=1),
    "viewer": Principal(role="viewer", name="viewer#2"),
    "kiosk": Principal(role="kiosk", name="kiosk#1", machine_id=3),
    "student": Principal(role="student", name="lea", user_id=2, student_id=7),
}


@pytest.mark.parametrize(
    ("role", "open_status", "paths"),
    [
        ("nobody", True, ["/"]),
        ("nobody", False, []),
        ("admin", False, ["/", "/orders", "/utilisation", "/network", "/desk"]),
        ("viewer", False, ["/", "/orders", "/utilisation"]),
        ("kiosk", True, ["/", KIOSK]),
        ("kiosk", False, [KIOSK]),  # the wall would answer 403 to a kiosk when it is closed
        ("student", True, ["/", "/students/7/log"]),
        ("student", False, ["/students/7/log"]),
    ],
)
def test_each_role_gets_only_the_links_it_may_open(role: str, open_status: bool, paths: list[str]) -> None:
    assert [path for _, path in links_for(ROLES[role], open_status=open_status, kiosk=KIOSK)] == paths
