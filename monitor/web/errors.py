"""How the app answers errors: a page for people, JSON for programs, and never the input back.

FastAPI's default 422 repeats every invalid value (`"input": ...`) in its answer: a
20 MB field came back as a 20 MB error, and a value that cannot be encoded turned the
error itself into a 500. `validation_error` lists where and what is wrong (location,
message, type) and nothing the client sent, with long names from the input (an unknown
JSON key, say) cut short.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from monitor.web.templating import render

MAX_LOCATION_PART = 64  # characters of one part of an error's location (e.g. an unknown key) shown back


def wants_page(request: Request) -> bool:
    """A browser asking for HTML outside the JSON API gets an error page rather than JSON."""
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")


async def http_error(request: Request, exc: Exception) -> Response:
    """Errors as a page for people (a browser asking for HTML), as JSON for everyone else."""
    assert isinstance(exc, StarletteHTTPException)
    if not wants_page(request) or exc.status_code == 401:
        return await http_exception_handler(request, exc)
    titles = {403: "Not allowed", 404: "Not found", 413: "Too large", 429: "Too many attempts"}
    return render(request, "error.html", {"title": titles.get(exc.status_code, "Something went wrong"),
                                          "message": str(exc.detail), "back": "/"},
                  status_code=exc.status_code, headers=exc.headers)


def _part(value: Any) -> str | int:
    if isinstance(value, int):
        return value
    text = str(value)
    return text if len(text) <= MAX_LOCATION_PART else text[:MAX_LOCATION_PART] + "…"


def describe(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Each problem as {loc, msg, type}: where and what, never the offending value."""
    problems = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        reason = (error.get("ctx") or {}).get("error")
        if error.get("type") == "json_invalid" and isinstance(reason, str):  # json's own words, no input in them
            message = f"{message}: {reason}"
        problems.append({"loc": [_part(p) for p in error.get("loc", ())], "msg": message,
                         "type": str(error.get("type", "invalid"))})
    return problems


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 with the problems listed (`describe`), as a page for a browser's form post."""
    assert isinstance(exc, RequestValidationError)
    problems = describe(exc)
    if wants_page(request):
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'the form'}: {e['msg']}" for e in problems)
        return render(request, "error.html", {"title": "That request could not be read", "message": fields,
                                              "back": "/"}, status_code=422)
    return JSONResponse({"detail": problems}, status_code=422)
