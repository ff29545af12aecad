"""``/desk/orders/new`` and ``/desk/orders/{id}/edit``: a customer order's form and its operations; close and cancel.

The fields are the API's (``OrderCreate``, ``OrderUpdate``): reference, part number,
drawing revision, quantity, due date, standard cycle time and programs; the store
refuses a reference the customer already has. Closing (done) and cancelling are
buttons on the order's page (``/orders/{id}``) for masters. Every change is audited
by the store, as through the API.

An existing order's edit page also lists its operations, one small form each
(``OperationCreate``/``OperationUpdate``: number, label, machine group, programs,
standard cycle and setup times, first-part approval asked), with one to add; an
operation is removed only while nothing used it (the store refuses otherwise).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import NotFoundError, RecordsError
from gateway.store import authorisations_repo, customers_repo, operations_repo, orders_repo
from gateway.store.models import Order
from gateway.web.pages import not_found, records, render, require, signed_in, zone
from gateway.web.schemas import MAX_ID, OperationCreate, OperationUpdate, OrderCreate, OrderUpdate
from gateway.web.work_forms import FORM_ERROR, Form, local_input, read_fields

router = APIRouter(include_in_schema=False)
FIELDS = {"order_reference_taken": "reference", "customer_not_found": "customer_id"}
CLOSING = {"close": "done", "cancel": "cancelled"}


@router.get("/desk/orders/new")
def new_order(request: Request) -> Response:
    require(request, "admin")
    chosen = request.query_params.get("customer", "")
    return _form(request, None, {"customer_id": chosen}, {})


@router.post("/desk/orders/new")
async def create_order(request: Request) -> Response:
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    body = form.validate(OrderCreate, _fields(form, creating=True))
    if body is None:
        return _form(request, None, form.values(), form.errors)
    state = records(request)
    try:
        with state.transaction(who) as db:
            row = orders_repo.create_order(db=db, who=who.name, now=state.now(), fields=body.model_dump())
            order_id = row.id
    except RecordsError as refused:
        form.refused(refused, FIELDS)
        return _form(request, None, form.values(), form.errors)
    return RedirectResponse(f"/orders/{order_id}?done=order_created", status_code=303)


@router.get("/desk/orders/{order_id}/edit")
def edit_order(request: Request, order_id: int) -> Response:
    require(request, "admin")
    order = _order(request, order_id)
    if order is None:
        return not_found(request)
    return _form(request, order_id, _values(order, request), {})


@router.post("/desk/orders/{order_id}/edit")
async def save_order(request: Request, order_id: int) -> Response:
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    body = form.validate(OrderUpdate, _fields(form, creating=False))
    if not 1 <= order_id <= MAX_ID:
        return not_found(request)
    if not isinstance(body, OrderUpdate):
        return _form(request, order_id, form.values(), form.errors)
    return _update(request, who.name, order_id, body.changes(), done="order_saved", form=form)


@router.post("/desk/orders/{order_id}/operations/new")
async def add_operation(request: Request, order_id: int) -> Response:
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    if _order(request, order_id) is None:
        return not_found(request)
    body = form.validate(OperationCreate, _operation_fields(form))
    if not isinstance(body, OperationCreate):
        return _operation_refused(request, order_id, form)
    state = records(request)
    try:
        with state.transaction(who) as db:
            fields = body.model_dump()
            operations_repo.create_operation(db=db, who=who.name, now=state.now(), order_id=order_id, fields=fields)
    except RecordsError as refused:
        form.refused(refused, {})
        return _operation_refused(request, order_id, form)
    return RedirectResponse(f"/desk/orders/{order_id}/edit?done=operation_added", status_code=303)


@router.post("/desk/orders/{order_id}/operations/{operation_id}/{action}")
async def change_operation(request: Request, order_id: int, operation_id: int, action: str) -> Response:
    """``save`` the operation's form, or ``remove`` it (refused once it was worked on)."""
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    if action not in ("save", "remove") or _order(request, order_id) is None or not 1 <= operation_id <= MAX_ID:
        return not_found(request)
    changes: dict[str, Any] = {}
    if action == "save":
        body = form.validate(OperationUpdate, _operation_fields(form))
        if not isinstance(body, OperationUpdate):
            return _operation_refused(request, order_id, form)
        changes = body.changes()
    state = records(request)
    try:
        with state.transaction(who) as db:
            operations_repo.operation_of_order(db=db, order_id=order_id, operation_id=operation_id)
            if action == "remove":
                operations_repo.delete_operation(db=db, who=who.name, now=state.now(), operation_id=operation_id)
            else:
                operations_repo.update_operation(
                    db=db, who=who.name, now=state.now(), operation_id=operation_id, changes=changes
                )
    except NotFoundError:
        return not_found(request)
    except RecordsError as refused:
        form.refused(refused, {})
        return _operation_refused(request, order_id, form)
    done = "operation_removed" if action == "remove" else "operation_saved"
    return RedirectResponse(f"/desk/orders/{order_id}/edit?done={done}", status_code=303)


def _operation_fields(form: Form) -> dict[str, Any]:
    """An operation's form as the API's values: programs typed with spaces, durations as on the order's form."""
    return {
        "number": form.text("number") or None,
        "label": form.text("label"),
        "group_id": form.text("group_id") or None,
        "programs": form.text("programs").split(),
        "standard_cycle_s": form.seconds("standard_cycle_s"),
        "standard_setup_s": form.seconds("standard_setup_s"),
        "first_part": form.text("first_part") == "1",
    }


def _operation_refused(request: Request, order_id: int, form: Form) -> Response:
    """The order's form again, the operation's refusal said above its operations."""
    order = _order(request, order_id)
    if order is None:
        return not_found(request)
    names = {"number": "number", "group_id": "group", "programs": "programs"}
    problems = [f"{names.get(k, k)} : {v}" if k != FORM_ERROR else v for k, v in form.errors.items()]
    return _form(request, order_id, _values(order, request), {}, operation_error=" ".join(problems))


@router.post("/desk/orders/{order_id}/{action}")
async def close_order(request: Request, order_id: int, action: str) -> Response:
    """Close (done) or cancel an order: a button on its page."""
    who = require(request, "admin")
    await read_fields(request)  # refuses another site's POST
    if action not in CLOSING or not 1 <= order_id <= MAX_ID:
        return not_found(request)
    status = CLOSING[action]
    return _update(request, who.name, order_id, {"status": status}, done=f"order_{status}", form=None)


def _update(
    request: Request, who: str, order_id: int, changes: dict[str, Any], *, done: str, form: Form | None
) -> Response:
    state = records(request)
    try:
        with state.transaction(signed_in(request)) as db:
            orders_repo.update_order(db=db, who=who, now=state.now(), order_id=order_id, changes=changes)
    except NotFoundError:
        return not_found(request)
    except RecordsError as refused:
        if form is None:
            raise
        form.refused(refused, FIELDS)
        return _form(request, order_id, form.values(), form.errors)
    return RedirectResponse(f"/orders/{order_id}?done={done}", status_code=303)


def _fields(form: Form, *, creating: bool) -> dict[str, Any]:
    """The form's strings as the API's values; an empty optional field is no value (cleared on an edit)."""
    data: dict[str, Any] = {
        "customer_id": form.text("customer_id") or None,
        "reference": form.text("reference"),
        "part_number": form.text("part_number"),
        "drawing_revision": form.text("drawing_revision"),
        "quantity": form.text("quantity") or None,
        "due": form.when("due"),
        "standard_cycle_s": form.seconds("standard_cycle_s"),
        "programs": [line.strip() for line in form.text("programs").splitlines() if line.strip()],
    }
    for required in ("customer_id", "quantity"):
        if data[required] is None:  # said as missing, not as "cannot be null"
            form.errors[required] = form.words["missing"]
    if creating:
        data = {k: v for k, v in data.items() if v is not None}
    return data


def _order(request: Request, order_id: int) -> Order | None:
    if not 1 <= order_id <= MAX_ID:
        return None
    try:
        with records(request).reading(signed_in(request)) as db:
            return orders_repo.get_order(db=db, order_id=order_id)
    except NotFoundError:
        return None


def _values(order: Order, request: Request) -> dict[str, str]:
    standard = order.standard_cycle_s
    return {
        "customer_id": str(order.customer_id),
        "reference": order.reference,
        "part_number": order.part_number,
        "drawing_revision": order.drawing_revision,
        "quantity": str(order.quantity),
        "due": local_input(order.due, zone(request)),
        "standard_cycle_s": "" if standard is None else f"{standard:g}",
        "programs": "\n".join(order.programs),
    }


def _form(
    request: Request,
    order_id: int | None,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    operation_error: str | None = None,
) -> Response:
    with records(request).reading(signed_in(request)) as db:
        customers = customers_repo.list_customers(db=db)
        status = None if order_id is None else orders_repo.get_order(db=db, order_id=order_id).status
        operations = [] if order_id is None else operations_repo.operations_of(db=db, order_id=order_id)
        groups = authorisations_repo.list_groups(db=db)
    context = {
        "order_id": order_id,
        "status": status,
        "customers": customers,
        "values": values,
        "errors": errors,
        "operations": operations,
        "groups": groups,
        "operation_error": operation_error,
    }
    failed = bool(errors) or operation_error is not None
    return render(request, "desk_order.html", context, status_code=422 if failed else 200)
