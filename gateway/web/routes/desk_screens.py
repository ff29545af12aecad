"""``/desk/screens``: a master issues and revokes the tokens of machine kiosks and workshop screens.

Issuing goes through the API's rules (``TokenCreate``, ``auth.create_api_token``, audited)
and lands on ``/desk/screens/{id}/sheet``: a printable sheet whose QR code carries the
screen's link (``/api/auth/screen?token=…``), so a tablet at a machine is set up by scanning
it. The token's text is shown only then (``screen_handoff``); the store keeps its hash.
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gateway import auth
from gateway.errors import NotFoundError, RecordsError
from gateway.store import machines_repo
from gateway.store.models import ApiToken, Machine
from gateway.web.auth_schemas import TokenCreate
from gateway.web.desk_forms import kept, read_form, records_error, validation_errors
from gateway.web.pages import not_found, records, render, require, signed_in
from gateway.web.schemas import MAX_ID
from gateway.web.screen_handoff import ScreenHandoff

router = APIRouter(include_in_schema=False)
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]
FIELDS = ("role", "label", "machine", "valid_days")
ERROR_FIELDS = {"kiosk_token_needs_machine": "machine", "token_machine_only_kiosk": "machine"}


def handoff(request: Request) -> ScreenHandoff:
    held: ScreenHandoff = request.app.state.screen_handoff
    return held


def _list_page(request: Request, values: dict[str, Any], errors: dict[str, str]) -> Response:
    state = records(request)
    with state.reading(signed_in(request)) as db:
        tokens = auth.api_tokens(db=db)
        machines = machines_repo.all_machines(db=db)
    labels = {m.id: machines_repo.machine_named(m).label for m in machines}
    now = state.now()
    rows = [(t, _status(t, now), labels.get(t.machine_id or 0, "—")) for t in reversed(tokens)]
    context = {
        "rows": rows,
        "machines": [(m.id, labels[m.id]) for m in machines],
        "values": values,
        "errors": errors,
        "done": request.query_params.get("done") if request.query_params.get("done") == "revoked" else None,
    }
    return render(request, "desk_screens.html", context, status_code=422 if errors else 200)


def _status(token: ApiToken, now: Any) -> str:
    if token.revoked is not None:
        return "revoked"
    return "expired" if token.expires <= now else "valid"


@router.get("/desk/screens")
def screens(request: Request) -> Response:
    require(request, "admin")
    return _list_page(request, {"role": "kiosk", "valid_days": str(auth.DEFAULT_TOKEN_DAYS)}, {})


@router.post("/desk/screens")
async def issue(request: Request) -> Response:
    who = require(request, "admin")
    form = await read_form(request)
    state = records(request)
    machine: Machine | None = None
    try:
        machine_id = int(form.get("machine") or 0)
    except ValueError:
        machine_id = 0
    with state.reading(who) as db:
        machine = machines_repo.machine_by_id(db=db, machine_id=machine_id) if 0 < machine_id <= MAX_ID else None
    data: dict[str, Any] = {"role": form.get("role", ""), "label": form.get("label", "").strip()}
    data["valid_days"] = form.get("valid_days", "").strip() or auth.DEFAULT_TOKEN_DAYS
    if machine is not None:
        data |= {"machine": machine.name, "site": machine.site}
    elif form.get("site", "").strip():
        data["site"] = form["site"].strip()  # a status screen of one of a master's several sites
    try:
        body = TokenCreate.model_validate(data)
    except ValidationError as err:
        return _list_page(request, kept(form, FIELDS), validation_errors(request, err))
    try:
        with state.transaction(who) as db:
            bound = machines_repo.machine_by_id(db=db, machine_id=machine.id) if machine is not None else None
            token, row = auth.create_api_token(
                db=db,
                who=who.name,
                now=state.now(),
                role=body.role,
                label=body.label,
                machine=bound,
                valid_days=body.valid_days,
                site=body.site if bound is None else None,
            )
            token_id = row.id
    except RecordsError as err:
        return _list_page(request, kept(form, FIELDS), records_error(request, err, ERROR_FIELDS))
    handoff(request).put(token_id=token_id, token=token, user_id=who.user_id, now_s=state.now().timestamp())
    return RedirectResponse(f"/desk/screens/{token_id}/sheet", status_code=303)


@router.post("/desk/screens/{token_id}/revoke")
async def revoke(request: Request, token_id: TokenId) -> Response:
    who = require(request, "admin")
    await read_form(request)
    state = records(request)
    try:
        with state.transaction(who) as db:
            auth.revoke_api_token(db=db, who=who.name, now=state.now(), token_id=token_id)
    except NotFoundError:
        return not_found(request)
    handoff(request).drop(token_id)
    return RedirectResponse("/desk/screens?done=revoked", status_code=303)


@router.get("/desk/screens/{token_id}/sheet")
def sheet(request: Request, token_id: TokenId) -> Response:
    who = require(request, "admin")
    state = records(request)
    with state.reading(who) as db:
        row = auth.api_token_by_id(db=db, token_id=token_id)
        if row is None:
            return not_found(request)
        machine = machines_repo.machine_by_id(db=db, machine_id=row.machine_id) if row.machine_id else None
    token = handoff(request).take(token_id=token_id, user_id=who.user_id, now_s=state.now().timestamp())
    if row.revoked is not None:
        token = None
    link = qr = None
    if token is not None:
        link = str(request.base_url).rstrip("/") + f"/api/auth/screen?token={token}"
        qr = segno.make(link, error="m").svg_data_uri(scale=6, border=4, dark="#000", light="#fff")
    context = {
        "token": row,
        "status": _status(row, state.now()),
        "machine": machines_repo.machine_named(machine).label if machine is not None else None,
        "link": link,
        "qr": qr,
    }
    return render(request, "desk_screen_sheet.html", context)
