"""Finding mentions in SQLite: an FTS5 index of their text, ordered by time, and keyset pages.

The full-text index (`mention_text`) folds case and accents (`unicode61 remove_diacritics 2`),
so "factura" finds "Factura" and "fáctura". Its rows are not numbered like the mentions'
rows but by each mention's `search_key`: the millisecond it was created at, times 2**20,
plus its arrival among the mentions of that millisecond. Numbered so, the index's own order
is time order, and "the newest 50 matches" is a walk down the index that stops after 50,
instead of reading every match to sort it (a word in 5 % of a million posts is 50,000
matches). The key also orders and pages the mentions when nothing is typed, through its
unique index on `mentions`.

Ingest stores the mentions of a batch and then `index_new_mentions` keys and indexes every
mention without a key, in the same transaction, so a mention is searchable exactly when it is
stored. Opening a file written before the index existed runs it once for all of them.
"""

from __future__ import annotations

import calendar
import sqlite3
from datetime import datetime

from monitor.store.base import UNSCORED, InvalidQuery, MentionQuery, MentionSort
from monitor.store.paging import decode_cursor, encode_cursor
from monitor.store.search_text import fts5_expression, parse_search
from monitor.store.sqlite.rows import ts
from monitor.store.sqlite.noise_schema import noise_conditions

SLOTS = 2**20  # keys per millisecond: mentions created in the same millisecond, in arrival order
MAX_MS = 2**43 - 2  # |milliseconds| that fit a key (years 1691 to 2248); times beyond are clamped

SEARCH_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS mention_text USING fts5(
    text, title, tokenize = 'unicode61 remove_diacritics 2'
);
"""

# Engagement.total (monitor/models.py) from the stored JSON: reposts and quotes weigh double.
ENGAGEMENT_TOTAL = (
    "COALESCE(json_extract(engagement, '$.likes'), 0)"
    " + 2 * (COALESCE(json_extract(engagement, '$.reposts'), 0) + COALESCE(json_extract(engagement, '$.quotes'), 0))"
    " + COALESCE(json_extract(engagement, '$.replies'), 0)"
    " + max(COALESCE(json_extract(engagement, '$.score'), 0), 0)"
)

# The first key of a mention's millisecond, from its fixed-width created_at text (rows.ts).
_BASE = (
    "max(min(COALESCE(CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000"
    f" + CAST(substr(created_at, 21, 3) AS INTEGER), 0), {MAX_MS}), -{MAX_MS}) * {SLOTS}"
)


def key_base(when: datetime) -> int:
    """The first search key of `when`'s millisecond: what `_BASE` computes in SQL."""
    ms = calendar.timegm(when.utctimetuple()) * 1000 + when.microsecond // 1000
    return max(min(ms, MAX_MS), -MAX_MS) * SLOTS


def index_new_mentions(db: sqlite3.Connection) -> int:
    """Key and index every mention that has no search key yet; returns how many. Runs inside
    the caller's transaction (ingest's, import's, the migration's)."""
    db.execute("DROP TABLE IF EXISTS temp.fresh_keys")
    db.execute(
        "CREATE TEMP TABLE fresh_keys AS"
        # The slot's highest key by one step down the index (ORDER BY ... LIMIT 1): MAX() over a
        # range scans the range, once per new row, which made ingesting a day of posts quadratic.
        " SELECT rid, base + COALESCE((SELECT k.search_key - n.base + 1 FROM mentions k"
        f"   WHERE k.search_key >= n.base AND k.search_key < n.base + {SLOTS}"
        "   ORDER BY k.search_key DESC LIMIT 1), 0)"
        "   + ROW_NUMBER() OVER (PARTITION BY base ORDER BY rid) - 1 AS key"
        f" FROM (SELECT rowid AS rid, {_BASE} AS base FROM mentions WHERE search_key IS NULL) AS n"
    )
    count = db.execute("UPDATE mentions SET search_key = f.key FROM temp.fresh_keys f"
                       " WHERE mentions.rowid = f.rid").rowcount
    # OR REPLACE: an entry left behind by a mention deleted without its index entry is overwritten.
    db.execute("INSERT OR REPLACE INTO mention_text (rowid, text, title)"
               " SELECT f.key, m.text, COALESCE(m.title, '') FROM temp.fresh_keys f"
               " JOIN mentions m ON m.rowid = f.rid")
    db.execute("DROP TABLE temp.fresh_keys")
    return count


def forget_mention(db: sqlite3.Connection, mention_id: str) -> None:
    """Drop a mention's index entry and key before its row is replaced (an import): the new row
    is keyed and indexed again by `index_new_mentions`."""
    row = db.execute("SELECT search_key FROM mentions WHERE id = ?", (mention_id,)).fetchone()
    if row is not None and row[0] is not None:
        db.execute("DELETE FROM mention_text WHERE rowid = ?", (row[0],))


def _order_name(sort: MentionSort) -> str:
    return f"mentions:{sort.value}"


# A text sorted by engagement: up to this many matches are read and sorted; a text that matches
# more (with the filters) is looked up along the engagement index instead, where matches are
# then dense enough that a page is found after a few thousand rows at most.
DENSE_MATCHES = 10_000


def _conditions(query: MentionQuery, key: str) -> tuple[list[str], list[object]]:
    """The filters, time bounds and cursor of `query` as SQL on `m` (mentions), with `key` the
    search key's column (the index's own rowid when the text index drives the query)."""
    where: list[str] = []
    params: list[object] = []

    def one_of(column: str, values: tuple[str, ...]) -> None:
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)

    one_of("m.brand", query.brands)
    one_of("m.source", query.sources)
    one_of("m.lang", query.langs)
    one_of("m.topic", query.topics)
    if query.sentiments:
        labels = tuple(v for v in query.sentiments if v != UNSCORED)
        either = [f"m.sentiment_label IN ({','.join('?' * len(labels))})"] if labels else []
        if UNSCORED in query.sentiments:
            either.append("m.sentiment_label IS NULL")
        where.append("(" + " OR ".join(either) + ")")
        params.extend(labels)
    if query.since is not None:  # the key range finds the rows; created_at is exact to the microsecond
        where += [f"{key} >= ?", "m.created_at >= ?"]
        params += [key_base(query.since), ts(query.since)]
    if query.until is not None:
        where += [f"{key} < ?", "m.created_at < ?"]
        params += [key_base(query.until) + SLOTS, ts(query.until)]
    if query.min_engagement is not None:
        where.append("m.engagement_total >= ?")
        params.append(query.min_engagement)
    where += noise_conditions(query.duplicate, query.spam)
    sort = MentionSort(query.sort)
    if query.cursor is not None and sort == MentionSort.engagement:
        total, last = decode_cursor(query.cursor, _order_name(sort), (int, int))
        where.append("(m.engagement_total, m.search_key) < (?, ?)")
        params += [total, last]
    elif query.cursor is not None:
        (last,) = decode_cursor(query.cursor, _order_name(sort), (int,))
        where.append(f"{key} {'<' if sort == MentionSort.newest else '>'} ?")
        params.append(last)
    return where, params


def _order(sort: MentionSort, key: str) -> str:
    if sort == MentionSort.engagement:
        return "m.engagement_total DESC, m.search_key DESC"
    return f"{key} {'DESC' if sort == MentionSort.newest else 'ASC'}"


def _select(source: str, where: list[str]) -> str:
    return f"SELECT m.* FROM {source}" + (" WHERE " + " AND ".join(where) if where else "")


def search_rows(db: sqlite3.Connection, query: MentionQuery) -> tuple[list[sqlite3.Row], str | None]:
    """The rows of one page of `query`, and the cursor of the next page (None if none).

    Three plans, each reading about a page's worth of rows: no text, the mentions' own indices
    in the order asked for; text by time, the text index in its (time) order; text by
    engagement, the matches sorted if there are few, else the engagement index, probing the
    text index row by row (`DENSE_MATCHES`)."""
    if query.limit < 1:
        raise InvalidQuery("limit: at least 1")
    sort = MentionSort(query.sort)
    text = parse_search(query.text)
    matched = "mention_text f JOIN mentions m ON m.search_key = f.rowid"
    if not text.include:
        where, params = _conditions(query, "m.search_key")
        sql = _select("mentions m", where) + f" ORDER BY {_order(sort, 'm.search_key')}"
    else:
        expression = fts5_expression(text)
        where, params = _conditions(query, "f.rowid")
        where, params = ["mention_text MATCH ?", *where], [expression, *params]
        sql = _select(matched, where) + f" ORDER BY {_order(sort, 'f.rowid')}"
        if sort == MentionSort.engagement:
            dense = db.execute(f"SELECT COUNT(*) FROM ({_select(matched, where)} LIMIT {DENSE_MATCHES})",
                               params).fetchone()[0] >= DENSE_MATCHES
            if dense:
                where, params = _conditions(query, "m.search_key")
                probe = "EXISTS (SELECT 1 FROM mention_text f WHERE mention_text MATCH ? AND f.rowid = m.search_key)"
                where, params = [probe, *where], [expression, *params]
                sql = _select("mentions m", where) + f" ORDER BY {_order(sort, 'm.search_key')}"
    rows = db.execute(sql + " LIMIT ?", [*params, query.limit + 1]).fetchall()
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    last_row = rows[-1]
    values: list[int] = ([last_row["engagement_total"], last_row["search_key"]] if sort == MentionSort.engagement
                         else [last_row["search_key"]])
    return rows, encode_cursor(_order_name(sort), values)
