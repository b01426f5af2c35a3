"""Opaque keyset cursors: "the page after this row", as a token a URL can carry.

Search results and the inbox page by keyset (the sort values of the last row shown), never
by OFFSET: OFFSET re-reads every skipped row, so page 1,000 costs a thousand pages, and it
shifts when rows are stored between two requests, repeating or skipping some. A cursor is
those sort values with the name of the order they belong to, as URL-safe base64 JSON. It
is not secret and needs no signature (a forged one only moves where a page starts; its
values are bound as query parameters, never spliced into a query), but it is checked: a
token that is not a cursor of this order is `InvalidQuery`, the client's error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from monitor.store.base import InvalidQuery

MAX_CURSOR_CHARS = 2048

CursorValue = int | float | str


def encode_cursor(order: str, values: Sequence[CursorValue]) -> str:
    """A token for the position after the row whose sort values are `values` in `order`."""
    payload = json.dumps([order, *values], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(token: str, order: str, types: Sequence[type]) -> list[CursorValue]:
    """The sort values in `token`, checked against `order` and the types of its values."""
    if len(token) > MAX_CURSOR_CHARS:
        raise InvalidQuery("cursor: too long to be a cursor; use next_cursor from the previous page")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidQuery("cursor: not a cursor; use next_cursor from the previous page") from None
    if not isinstance(data, list) or len(data) != len(types) + 1 or data[0] != order:
        raise InvalidQuery(f"cursor: not a cursor of this order ({order}); start again from the first page")
    values = data[1:]
    for value, kind in zip(values, types, strict=True):
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise InvalidQuery(f"cursor: not a cursor of this order ({order}); start again from the first page")
    return values
