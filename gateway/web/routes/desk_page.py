"""``/desk``: the master's hub, one link per daily task (gateway/web/desk.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.web.desk import desk_by_group
from gateway.web.pages import render, require

router = APIRouter(include_in_schema=False)


@router.get("/desk")
def desk(request: Request) -> Response:
    require(request, "admin")
    return render(request, "desk.html", {"groups": desk_by_group()})
