"""Request bodies decoded strictly: what is not valid UTF-8 JSON or form text is a client error.

The standard decoders are lenient where Earshot cannot be. Python's `json` turns
`"\\ud800"` (a lone UTF-16 surrogate, which is no character at all) into a string
that SQLite and the response encoder then fail on, so a client's bad input became a
500; it also takes `NaN`, UTF-16 bodies and UTF-8-encoded surrogates. Form decoding
quietly stores mojibake: raw bytes read as Latin-1, undecodable escapes as U+FFFD.

`StrictRoute`, the route class of every router, reads bodies through `StrictRequest`
before any handler runs:

* JSON must be UTF-8 text with no lone surrogates and no NaN/Infinity, else the same
  422 "JSON decode error" a syntax error gets;
* forms must be `application/x-www-form-urlencoded` (all Earshot's forms are; anything
  else is 415) whose percent-escapes decode as UTF-8, else 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

MAX_FORM_FIELDS = 1000
FORM_TYPE = "application/x-www-form-urlencoded"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _not_json(message: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, "", 0)  # no document: an error must never carry the input back


def _reject_constant(name: str) -> Any:
    raise _not_json(f"{name} is not a JSON number")


def _lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) in a decoded document holds a surrogate code point.

    Iterative, so a deeply nested document cannot exhaust the stack here. `json` joins
    valid surrogate pairs into one character, so any surrogate left is a lone one.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def decode_json(body: bytes) -> Any:
    """The document in `body`, or `json.JSONDecodeError` for anything that is not valid UTF-8 JSON text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_json("the body is not UTF-8") from None
    value = json.loads(text, parse_constant=_reject_constant)
    if _lone_surrogate(value):
        raise _not_json("a string holds a lone UTF-16 surrogate, which is not a character")
    return value


def decode_form(content_type: str | None, body: bytes) -> FormData:
    """The fields of a URL-encoded form body; HTTPException (415, 400) for any other kind or bad text."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if not body and not media_type:
        return FormData()
    if media_type != FORM_TYPE:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send forms as {FORM_TYPE}")
    try:
        fields = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict",
                           max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the form is not UTF-8 text, percent-encoded") from None
    except ValueError:  # more than MAX_FORM_FIELDS fields
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"a form has at most {MAX_FORM_FIELDS} fields") from None
    return FormData(fields)


class StrictRequest(Request):
    """A request whose `json()` and `form()` are `decode_json` and `decode_form`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = decode_json(await self.body())
        return self._json

    async def form(self, **_: Any) -> FormData:  # type: ignore[override]
        if self._form is None:
            self._form = decode_form(self.headers.get("content-type"), await self.body())
        return self._form


class StrictRoute(APIRoute):
    """A route whose body is read by `StrictRequest` (FastAPI's documented custom-request hook)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict_handler
