"""The master's desk: only masters open it, and every task it lists answers them."""

from __future__ import annotations

from gateway.web.desk import DESK
from tests.gateway.records.conftest import World, site_client


async def test_the_desk_opens_for_a_master_only_and_lists_what_answers(
    world: World, databases: dict[str, str], backend: str
) -> None:
    async with site_client(databases[backend], world.clock) as client:
        page = await client.get("/desk", headers=world.as_("admin"))
        assert page.status_code == 200, page.text
        assert "Bureau du maître" in page.text
        for entry in DESK:
            assert f'href="{entry.href}"' in page.text
            assert (await client.get(entry.href, headers=world.as_("admin"))).status_code == 200, entry.href
        for role in ("viewer", "kiosk", "student"):
            assert (await client.get("/desk", headers=world.as_(role))).status_code == 403, role
        anonymous = await client.get("/desk")
        assert anonymous.status_code in (303, 401), anonymous.status_code
