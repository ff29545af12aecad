"""The orders CSV reads every order's progress in one batch (issue 18): byte for byte what reading each
order apart gives, on a store with several orders, operations, scrap, first parts and a practice session."""

from __future__ import annotations

from typing import Any

from gateway.store.orders_repo import list_orders
from gateway.store.progress_repo import progress, progress_of_orders
from gateway.web.csv_export import Sheet, render
from gateway.web.page_labels import page_labels
from gateway.web.routes.reports import ORDER_COLUMNS, order_rows
from tests.gateway.records.conftest import World, add_cycle, at

CHECK_IN = "/api/sessions/check-in"
CHECK_OUT = "/api/sessions/check-out"


async def _order(w: World, reference: str, quantity: int, due_h: float) -> int:
    body = {
        "customer_id": w.ids["customer"],
        "reference": reference,
        "part_number": f"P-{reference}",
        "quantity": quantity,
        "due": at(due_h * 60).isoformat(),
        "programs": ["O3000"],
    }
    order_id: int = (await w.ok("POST", "/api/orders", json=body))["id"]
    return order_id


async def _seed(w: World) -> None:
    """PO-1 through a first part approved on operation 20; PO-2 on the lathe with scrap and a cycle running past
    the check-out; PO-3 waiting for its first part; PO-4 never worked on; practice cycles between them."""
    po1 = w.ids["order"]
    await w.ok("POST", f"/api/orders/{po1}/operations", json={"number": 20, "programs": ["O2000"]})
    ops = {o["number"]: o["id"] for o in await w.ok("GET", f"/api/orders/{po1}/operations")}
    po2, po3 = await _order(w, "PO-2", 5, 2), await _order(w, "PO-3", 4, 48)
    await _order(w, "PO-4", 7, 72)
    await w.ok("POST", f"/api/orders/{po3}/operations", json={"number": 20, "programs": ["O4000"]})
    tom = {"first_name": "Tom", "last_initial": "B", "class_name": "CAP1", "track": "CAP", "badge": "B-TOM"}
    tom_id = (await w.ok("POST", "/api/students", json=tom))["id"]
    await w.authorise(tom_id)

    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": po1, "operation": 20})
    await w.ok("POST", CHECK_IN, json={"student_id": tom_id, "machine": "lathe", "order_id": po2})
    for k in range(4):
        add_cycle(w.sessions, w.machines["mill"], at(1 + 4 * k), at(4 + 4 * k))
        add_cycle(w.sessions, w.machines["lathe"], at(2 + 5 * k), at(6.5 + 5 * k))
    w.clock.now = at(9)
    await w.ok("POST", f"/api/operations/{ops[20]}/first-part", json={"machine": "mill", "verdict": "OK"})
    scrap = {"order_id": po2, "quantity": 2, "reason": "bavure", "inspected_by": "M. Roux"}
    await w.ok("POST", "/api/scrap", json=scrap)
    await w.ok("POST", "/api/scrap", json={**scrap, "order_id": po1, "quantity": 1})
    w.clock.now = at(20)
    await w.ok("POST", CHECK_OUT, "kiosk", json={"badge": "B-LEA"})
    add_cycle(w.sessions, w.machines["lathe"], at(21), at(25))  # Tom's last cycle outlives his session
    w.clock.now = at(22)
    await w.ok("POST", CHECK_OUT, json={"machine": "lathe"})
    w.clock.now = at(30)
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA"})  # practice: no order
    add_cycle(w.sessions, w.machines["mill"], at(31), at(34))
    w.clock.now = at(36)
    await w.ok("POST", CHECK_OUT, "kiosk", json={"badge": "B-LEA"})
    await w.ok("POST", CHECK_IN, "kiosk", json={"badge": "B-LEA", "order_id": po3, "operation": 20})
    for k in range(3):
        add_cycle(w.sessions, w.machines["mill"], at(40 + 3 * k), at(42 + 3 * k))
    w.clock.now = at(50)  # Léa is still at work on PO-3: its series waits for a first part


def _one_at_a_time(w: World, lang: str, flavour: Any) -> bytes:
    """The CSV as it was read before issue 18: each order's progress apart."""
    zone = w.app.state.records.settings.timezone
    with w.sessions() as db:
        orders = list_orders(db=db)
        figures = {o.id: progress(db=db, order_id=o.id, now=w.clock.now, zone=zone) for o in orders}
        rows = order_rows(db, orders, figures)
    words = page_labels(lang)["order_statuses"]
    sheet = Sheet(flavour=flavour, lang=lang, zone=w.app.state.records.settings.zone(), words=words)
    return render(ORDER_COLUMNS, rows, sheet).encode("utf-8")


async def test_the_batched_orders_csv_is_byte_for_byte_the_one_read_order_by_order(world: World) -> None:
    w = world
    await _seed(w)
    zone = w.app.state.records.settings.timezone
    with w.sessions() as db:
        orders = list_orders(db=db)
        batched = progress_of_orders(db=db, orders=orders, now=w.clock.now, zone=zone)
        apart = {o.id: progress(db=db, order_id=o.id, now=w.clock.now, zone=zone) for o in orders}
    assert batched == apart
    # The seed reaches what it means to: scrap, a first part approved and one pending, an order never worked on.
    figures = {(o.reference): batched[o.id] for o in orders}
    assert [(f.made, f.scrap, f.good, f.pending) for f in figures.values()] == [
        (4, 1, 3, 0),
        (5, 2, 3, 0),
        (3, 0, 0, 3),
        (0, 0, 0, 0),
    ], figures
    for lang in ("fr", "en"):
        for flavour in ("sheet", "raw"):
            response = await w.call("GET", "/api/reports/orders.csv", params={"lang": lang, "format": flavour})
            assert response.status_code == 200, response.text
            assert response.content == _one_at_a_time(w, lang, flavour), (lang, flavour)
