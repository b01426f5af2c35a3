"""`/docs`: the JSON API's reference, rendered on the server from the OpenAPI schema.

FastAPI's default Swagger UI loads its scripts from a CDN; the UI must work offline
and run no third-party code next to a signed-in session, so the reference is a plain
page instead. The full schema is at `/openapi.json` (also behind sign-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from monitor.web.decoding import StrictRoute
from monitor.web.templating import render

router = APIRouter(include_in_schema=False, route_class=StrictRoute)


@dataclass(frozen=True)
class Param:
    name: str
    where: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    tag: str
    params: list[Param]
    body: str | None
    responses: list[tuple[str, str]]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    return str(schema.get("type", "any"))


def operations(openapi: dict[str, Any]) -> list[Operation]:
    ops = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ops.append(Operation(
                method=method.upper(), path=path, summary=op.get("summary", ""),
                description=op.get("description", ""), tag=(op.get("tags") or ["other"])[0],
                params=[Param(p["name"], p["in"], _type(p.get("schema", {})), p.get("required", False),
                              p.get("description", "") or p.get("schema", {}).get("description", ""))
                        for p in op.get("parameters", [])],
                body=_type(body) if body else None,
                responses=[(code, r.get("description", "")) for code, r in op.get("responses", {}).items()],
            ))
    return ops


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    spec = request.app.openapi()
    return render(request, "apidocs.html", {"operations": operations(spec), "info": spec.get("info", {})})
