"""The order board and the orders CSV show the operations being worked and the first parts waiting."""

from __future__ import annotations

import csv
import io
import re

from tests.gateway.records.conftest import World, add_cycle, at, site_client

CHECK_IN = "/api/sessions/check-in"


async def _working(w: World) -> dict[int, int]:
    """Léa mills PO-1 at op 20 (first part asked, one part made, no verdict yet); Tom turns it at op 10."""
    order = w.ids["order"]
    await w.ok("POST", f"/api/orders/{order}/operations", json={"number": 20, "programs": ["O2000"]})
    ops = {o["number"]: o["id"] for o in await w.ok("GET", f"/api/orders/{order}/operations")}
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    await w.authorise((await w.ok("POST", "/api/students", json=tom))["id"])
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": order, "operation": 20})
    add_cycle(w.sessions, w.machines["mill"], at(1), at(4))
    await w.ok("POST", CHECK_IN, json={"badge": "B-TOM", "machine": "lathe", "order_id": order, "operation": 10})
    w.clock.now = at(5)
    return ops


def _board_row(html: str, order: int) -> str:
    found = re.search(rf'<tr[^>]*data-order="{order}">(.*?)</tr>', html, re.S)
    assert found is not None, html
    return found.group(1)


async def _csv(w: World, **params: str) -> dict[str, str]:
    response = await w.call("GET", "/api/reports/orders.csv", params=params)
    assert response.status_code == 200, response.text
    raw = params.get("format") == "raw"
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter="," if raw else ";"))
    return next(r for r in rows if r["reference" if raw else "Référence"] == "PO-1")


async def test_the_board_and_the_csv_show_what_is_worked_and_a_first_part_waiting(
    world: World, databases: dict[str, str], backend: str
) -> None:
    w = world
    ops = await _working(w)
    order = w.ids["order"]
    async with site_client(databases[backend], w.clock) as client:
        row = _board_row((await client.get("/orders", headers=w.as_("admin"))).text, order)
        english = _board_row((await client.get("/orders?lang=en", headers=w.as_("admin"))).text, order)
    assert re.findall(r"op (\d+)", row) == ["10", "20"]
    assert "1re pièce en attente" in row
    assert "first part pending" in english
    sheet = await _csv(w)
    assert (sheet["1re pièce en attente"], sheet["Opérations en cours"]) == ("oui", "10 20")
    raw = await _csv(w, format="raw")
    assert (raw["first_part_pending"], raw["operations_in_progress"]) == ("True", "10 20")

    # The master approves the first part, both students leave: nothing waits, nothing is being worked.
    ok = await w.call("POST", f"/api/operations/{ops[20]}/first-part", json={"verdict": "OK", "machine": "mill"})
    assert ok.status_code == 201, ok.text
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    await w.ok("POST", "/api/sessions/check-out", json={"machine": "lathe"})
    async with site_client(databases[backend], w.clock) as client:
        row = _board_row((await client.get("/orders", headers=w.as_("admin"))).text, order)
    assert "op " not in row
    assert "en attente" not in row
    sheet = await _csv(w)
    assert (sheet["1re pièce en attente"], sheet["Opérations en cours"]) == ("non", "")


async def test_a_new_series_after_a_setup_waits_again_on_the_board(world: World) -> None:
    """A closed session whose series never got its OK still shows the first part waiting (the order page's rule)."""
    w = world
    await _working(w)
    await w.ok("POST", "/api/sessions/check-out", "kiosk", json={"badge": "B-LEA"})
    await w.ok("POST", "/api/sessions/check-out", json={"machine": "lathe"})
    sheet = await _csv(w)
    assert (sheet["1re pièce en attente"], sheet["Opérations en cours"]) == ("oui", "")
