"""A search's every result as a CSV or JSON Lines file, streamed page by page.

An export can be a million rows; it is written as it is read, one keyset page of the store
at a time (`EXPORT_PAGE` mentions), so the memory it takes is one page whatever the size,
and the first bytes leave before the last page is read.

CSV is for spreadsheets: it starts with a byte-order mark, so Excel reads it as UTF-8 (accents
and emoji intact), and a cell that starts like a formula (`=`, `+`, `-`, `@`, a tab or a
carriage return) gets a leading `'`, so a post cannot run a formula in the agent's Excel
("CSV injection"). JSON Lines keeps every value as it is, for programs: one mention per line,
as the API returns it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum

from monitor.models import Mention
from monitor.store import Store
from monitor.store.base import MentionPage, MentionQuery

EXPORT_PAGE = 500

CSV_COLUMNS = (
    "id", "created_at", "brand", "source", "lang", "author_handle", "author_followers", "sentiment",
    "sentiment_score", "topic", "engagement", "likes", "reposts", "replies", "quotes", "rating", "url", "title", "text",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


MEDIA_TYPES = {ExportFormat.csv: "text/csv; charset=utf-8", ExportFormat.jsonl: "application/x-ndjson"}


def first_page(store: Store, query: MentionQuery) -> MentionPage:
    """The export's first page, read before anything is sent: a search the store refuses
    (`InvalidQuery`) is then still an error answer, not a file cut short."""
    return store.search_mentions(replace(query, limit=EXPORT_PAGE, cursor=None))


def every_mention(store: Store, query: MentionQuery, first: MentionPage) -> Iterator[Mention]:
    """Every mention `query` finds, from its `first` page on, following the cursor page by page."""
    page = first
    while True:
        yield from page.mentions
        if page.next_cursor is None:
            return
        page = store.search_mentions(replace(query, limit=EXPORT_PAGE, cursor=page.next_cursor))


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_row(m: Mention) -> list[object]:
    e = m.engagement
    values = (
        m.id, m.created_at.isoformat().replace("+00:00", "Z"), m.brand, m.source, m.lang, m.author_handle,
        m.author_followers, m.sentiment.label.value if m.sentiment else "unscored",
        m.sentiment.score if m.sentiment else None, m.topic, e.total, e.likes, e.reposts, e.replies, e.quotes,
        m.rating, m.url, m.title, m.text,
    )
    return [_cell(v) for v in values]


def export_lines(mentions: Iterator[Mention], fmt: ExportFormat) -> Iterator[bytes]:
    """The file, a chunk per page's worth of rows (a header first for CSV)."""
    if fmt == ExportFormat.jsonl:
        chunk: list[str] = []
        for m in mentions:
            chunk.append(m.model_dump_json() + "\n")
            if len(chunk) == EXPORT_PAGE:
                yield "".join(chunk).encode("utf-8")
                chunk = []
        if chunk:
            yield "".join(chunk).encode("utf-8")
        return
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    rows = 0
    for m in mentions:
        writer.writerow(csv_row(m))
        rows += 1
        if rows % EXPORT_PAGE == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")

