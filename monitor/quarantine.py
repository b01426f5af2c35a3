"""Records Earshot could not use, kept aside with where they came from, never silently dropped.

Sources report unusable input as `Problem`s; the pipeline turns the lasting ones into
`Quarantined` records and the store keeps them in the same transaction as the batch, so
the batch commits without them, the cursor moves on, and an operator sees them in
`earshot quarantine` and the web UI. Defined here, apart from sources and stores, because
both use it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Quarantined:
    """A record that could not be normalised or stored: kept aside, never silently dropped.

    Keyed by (source, where) and a digest of reason and head: re-reading the same input after a
    crash quarantines it once, while two different bad records reported at one position both stay.
    `head` is the start of the raw record, escaped to printable text, so an operator can
    find and fix it without the store ever holding undecodable or oversized data.
    """

    source: str
    where: str  # position in the source, e.g. "scenario.jsonl:17" or "x search page 3, item 4"
    reason: str
    head: str = ""
    at: datetime | None = None  # when first quarantined (set by the store)


HEAD_CHARS = 200


def model_head(model: Any) -> str:
    """`record_head` of a pydantic model that may hold text no encoder accepts (a lone surrogate)."""
    return record_head(json.dumps(model.model_dump(mode="python"), default=str, ensure_ascii=True))


def quarantine_digest(record: Quarantined) -> str:
    """Tells apart two bad records reported at the same position (e.g. "x search page 3" on two runs)."""
    material = f"{record.reason}\n{record.head}".encode("utf-8", "backslashreplace")
    return hashlib.sha256(material).hexdigest()[:16]


def record_head(raw: bytes | str, limit: int = HEAD_CHARS) -> str:
    """The first bytes of a raw record as printable text: bad UTF-8, surrogates and control characters escaped."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    text = raw[: limit * 4].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text[:limit]
