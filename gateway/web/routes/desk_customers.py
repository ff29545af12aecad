"""``/desk/customers``: the school's client companies, listed, created and edited by a master.

The form is checked by the API's schemas (``CustomerCreate``, ``CustomerUpdate``) and
the store's rule of one customer per name; a refusal is said next to its field and the
form comes back as typed. A save answers with a redirect (POST-redirect-GET) to the list,
which says what was done.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import NotFoundError, RecordsError
from gateway.store import customers_repo
from gateway.web.pages import not_found, records, render, require, signed_in
from gateway.web.schemas import MAX_ID, CustomerCreate, CustomerUpdate
from gateway.web.work_forms import Form, read_fields

router = APIRouter(include_in_schema=False)
# The store's refusals, each said next to the field it is about.
FIELDS = {"customer_name_taken": "name", "site_required": "site", "site_not_yours": "site"}


@router.get("/desk/customers")
def customers_page(request: Request) -> Response:
    who = require(request, "admin")
    state = records(request)
    with state.reading(who) as db:
        customers = customers_repo.list_customers(db=db)
        counts = customers_repo.order_counts(db=db)
    done = request.query_params.get("done")
    return render(request, "desk_customers.html", {"customers": customers, "counts": counts, "done": done})


@router.get("/desk/customers/new")
def new_customer(request: Request) -> Response:
    require(request, "admin")
    return _form(request, None, {}, {})


@router.post("/desk/customers/new")
async def create_customer(request: Request) -> Response:
    who = require(request, "admin")
    form = Form(request, await read_fields(request))
    typed = {"name": form.text("name"), "contact": form.text("contact"), "site": form.text("site") or None}
    body = form.validate(CustomerCreate, typed)
    if body is None:
        return _form(request, None, form.values(), form.errors)
    state = records(request)
    try:
        with state.transaction(who) as db:
            customers_repo.create_customer(db=db, who=who.name, now=state.now(), **body.model_dump())
    except RecordsError as refused:
        form.refused(refused, FIELDS)
        return _form(request, None, form.values(), form.errors)
    return RedirectResponse("/desk/customers?done=customer_created", status_code=303)


@router.get("/desk/customers/{customer_id}")
def edit_customer(request: Request, customer_id: int) -> Response:
    require(request, "admin")
    if not 1 <= customer_id <= MAX_ID:
        return not_found(request)
    try:
        with records(request).reading(signed_in(request)) as db:
            row = customers_repo.get_customer(db=db, customer_id=customer_id)
    except NotFoundError:
        return not_found(request)
    return _form(request, customer_id, {"name": row.name, "contact": row.contact}, {})


@router.post("/desk/customers/{customer_id}")
async def save_customer(request: Request, customer_id: int) -> Response:
    who = require(request, "admin")
    if not 1 <= customer_id <= MAX_ID:
        return not_found(request)
    form = Form(request, await read_fields(request))
    body = form.validate(CustomerUpdate, {"name": form.text("name"), "contact": form.text("contact")})
    if not isinstance(body, CustomerUpdate):
        return _form(request, customer_id, form.values(), form.errors)
    state = records(request)
    try:
        with state.transaction(who) as db:
            customers_repo.update_customer(
                db=db, who=who.name, now=state.now(), customer_id=customer_id, changes=body.changes()
            )
    except NotFoundError:
        return not_found(request)
    except RecordsError as refused:
        form.refused(refused, FIELDS)
        return _form(request, customer_id, form.values(), form.errors)
    return RedirectResponse("/desk/customers?done=customer_saved", status_code=303)


def _form(request: Request, customer_id: int | None, values: dict[str, str], errors: dict[str, str]) -> Response:
    context: dict[str, Any] = {"customer_id": customer_id, "values": values, "errors": errors}
    return render(request, "desk_customer.html", context, status_code=422 if errors else 200)
