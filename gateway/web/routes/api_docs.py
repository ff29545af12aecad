"""The API's documentation, for masters only, served by the gateway itself (nothing from a CDN).

``/openapi.json`` is the machine-readable description; ``/docs`` (and ``/redoc``)
a plain page listing every operation, its parameters, body and answers, built
from the same description on the server. Both need an admin credential: the
description maps every route an attacker could try.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.web.guards import Admin
from gateway.web.pages import render

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/openapi.json")
def openapi(request: Request, who: Admin) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
@router.get("/redoc")
def docs(request: Request, who: Admin) -> Response:
    schema = request.app.openapi()
    context = {
        "title": schema["info"]["title"],
        "version": schema["info"]["version"],
        "operations": operations(schema),
    }
    return render(request, "api_docs.html", context)


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {})
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "type": _type(p.get("schema", {})),
                            "required": p.get("required", False),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": ", ".join(_type(c.get("schema", {})) for c in body.values()),
                    "responses": list(op.get("responses", {})),
                }
            )
    return found


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    return str(schema.get("type", "any"))
