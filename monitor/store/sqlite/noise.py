"""The SQLite store's noise records (monitor/noise): each mention's mark, and the LSH index.

Two tables beside `mentions`, so the mention rows (and their covering indices the trend and
search read) are untouched: `noise` holds one row per judged mention, `noise_band_keys` the LSH
band keys a later copy finds it by. A copy's first post and its spam flag are indexed, so the
inbox reads a cluster's totals, and the mention search filters copies or spam, with one
indexed read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from monitor.models import Mention
from monitor.noise.marks import ClusterStats, NoiseMark, NoisePost, key_ids, to_us
from monitor.store.base import TrendPoint, check_bucket
from monitor.store.sqlite.connection import Connection, in_chunks
from monitor.store.sqlite.rows import mention_from_row, parse_ts, ts

BAND_ROWS_PER_INSERT = 64
_BAND_VALUES_PER_INSERT = 3 * BAND_ROWS_PER_INSERT
_MARK_COLUMNS = ("mention_id, brand, author_handle, author_followers, created_at, duplicate_of, signature, spam_score,"
                 " spam_reasons, spam, not_spam")
_INSERT_BANDS = "INSERT OR IGNORE INTO noise_band_keys VALUES (?,?,?)"
_INSERT_BANDS_MANY = "INSERT OR IGNORE INTO noise_band_keys VALUES " + ",".join(["(?,?,?)"] * BAND_ROWS_PER_INSERT)


def _band_rows(marks: Sequence[NoiseMark]) -> list[int | str]:
    """The values of every (band, created_us, mention_id) row of these marks, one flat list in
    key order. Sixteen band rows a post make the band index most of what a run writes: in
    key order (each B-tree page filled once rather than revisited at random), many rows a
    statement, they cost half. Keys parsed and sorted in numpy: there are tens of thousands a run."""
    import numpy as np  # the noise step has it loaded already; the store's other readers need not

    keys = [b for m in marks for b in m.bands]
    if not keys:
        return []
    counts = np.fromiter((len(m.bands) for m in marks), dtype=np.int64, count=len(marks))
    numbers = key_ids(keys)
    order = np.argsort(numbers, kind="stable")
    owner = np.repeat(np.arange(len(marks)), counts)[order]
    created = np.fromiter((to_us(m.created_at) for m in marks), dtype=np.int64, count=len(marks))
    table = np.empty((len(keys), 3), dtype=object)
    table[:, 0] = numbers[order].tolist()
    table[:, 1] = created[owner].tolist()
    table[:, 2] = np.array([m.mention_id for m in marks], dtype=object)[owner]
    return table.ravel().tolist()


def _mark(row: sqlite3.Row | tuple, bands: tuple[str, ...] = ()) -> NoiseMark:
    """A `noise` row (in the table's column order) as a mark. Read for every candidate of every
    chunk the noise step judges (a few per post), so by position, and most posts have no reasons."""
    reasons = row[8]
    return NoiseMark(
        mention_id=row[0], brand=row[1], author_handle=row[2], author_followers=row[3],
        created_at=parse_ts(row[4]), duplicate_of=row[5], bands=bands, signature=bytes(row[6]),
        spam_score=row[7], spam_reasons=() if reasons == "[]" else tuple(json.loads(reasons)), spam=bool(row[9]),
        not_spam=bool(row[10]),
    )


class Noise(Connection):
    """The noise part of `SQLiteStore` (the protocol's noise methods)."""

    def unmarked_mentions(self, limit: int = 1000) -> list[Mention]:
        rows = self._query(
            "SELECT m.* FROM mentions m WHERE NOT EXISTS (SELECT 1 FROM noise n WHERE n.mention_id = m.id)"
            " ORDER BY m.created_at, m.id LIMIT ?", (limit,))
        return [mention_from_row(r) for r in rows]

    def unjudged_posts(self, limit: int = 1000, since: datetime | None = None,
                       brand: str | None = None) -> list[NoisePost]:
        only = "" if brand is None else " AND m.brand = ?"
        rows = self._query(
            "SELECT m.id, m.brand, m.author_handle, m.author_followers, m.created_at, m.text, m.title FROM mentions m"
            f" WHERE m.created_at >= ?{only} AND NOT EXISTS (SELECT 1 FROM noise n WHERE n.mention_id = m.id)"
            " ORDER BY m.created_at, m.id LIMIT ?",
            ("" if since is None else ts(since), *(() if brand is None else (brand,)), limit))
        return [NoisePost(r[0], r[1], r[2], r[3], parse_ts(r[4]), r[5], r[6]) for r in rows]

    def noise_candidates(self, bands: Iterable[str], since: datetime, until: datetime | None = None
                         ) -> list[NoiseMark]:
        # In key order: the index is then walked forwards, a page read once for all its keys.
        distinct = list(set(bands))
        text = dict(zip(key_ids(distinct).tolist(), distinct, strict=True))
        keys = sorted(text)
        ids: dict[str, list[str]] = {}
        bounds = [to_us(since), to_us(until) if until is not None else 2**63 - 1]
        for chunk, marks in in_chunks(keys):
            for band, mid in self._query(f"SELECT band, mention_id FROM noise_band_keys WHERE band IN ({marks})"
                                         " AND created_us BETWEEN ? AND ?", [*chunk, *bounds]):
                ids.setdefault(mid, []).append(text[band])
        # The bands that matched are enough for the caller's index: the others lead to no new post.
        return [_mark(row, tuple(ids[row[0]])) for row in self._noise_rows(ids)]

    def newest_judged(self, brand: str | None = None) -> datetime | None:
        if not self._query("SELECT 1 FROM noise LIMIT 1"):
            return None  # a first run: no walk past its unjudged posts to find out
        # Down the mentions' time index from the newest: a run's unjudged posts are the newest few.
        only = "" if brand is None else " AND m.brand = ?"
        row = self._query("SELECT m.created_at FROM mentions m WHERE EXISTS (SELECT 1 FROM noise n"
                          f" WHERE n.mention_id = m.id){only} ORDER BY m.created_at DESC LIMIT 1",
                          () if brand is None else (brand,))
        return parse_ts(row[0][0]) if row else None

    def _noise_rows(self, mention_ids: Iterable[str], copies_only: bool = False) -> list[sqlite3.Row]:
        ids = list(dict.fromkeys(mention_ids))
        rows: list[sqlite3.Row] = []
        only = " AND duplicate_of IS NOT NULL" if copies_only else ""
        for chunk, marks in in_chunks(ids):
            rows += self._query(f"SELECT {_MARK_COLUMNS} FROM noise WHERE mention_id IN ({marks}){only}", chunk)
        return rows

    def set_noise(self, marks: Sequence[NoiseMark]) -> None:
        now = ts(datetime.now(UTC))
        created = [ts(m.created_at) for m in marks]
        rows = [(m.mention_id, m.brand, m.author_handle, m.author_followers, at, m.duplicate_of, m.signature,
                 m.spam_score, json.dumps(list(m.spam_reasons)) if m.spam_reasons else "[]", int(m.spam),
                 int(m.not_spam), now) for m, at in zip(marks, created, strict=True)]
        flat = _band_rows(marks)
        whole = len(flat) - len(flat) % _BAND_VALUES_PER_INSERT
        with self._tx() as db:
            # A person's not_spam is never overwritten by a re-judged mark (the conflict branch keeps it).
            db.executemany(
                "INSERT INTO noise VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(mention_id) DO UPDATE SET"
                " brand = excluded.brand, author_handle = excluded.author_handle,"
                " author_followers = excluded.author_followers, created_at = excluded.created_at,"
                " duplicate_of = excluded.duplicate_of, signature = excluded.signature,"
                " spam_score = excluded.spam_score, spam_reasons = excluded.spam_reasons, spam = excluded.spam,"
                " judged_at = excluded.judged_at", rows)
            db.executemany(_INSERT_BANDS_MANY, (flat[i:i + _BAND_VALUES_PER_INSERT]
                                                for i in range(0, whole, _BAND_VALUES_PER_INSERT)))
            db.executemany(_INSERT_BANDS, (flat[i:i + 3] for i in range(whole, len(flat), 3)))

    def noise_of(self, mention_ids: Iterable[str], copies_only: bool = False) -> dict[str, NoiseMark]:
        return {row[0]: _mark(row) for row in self._noise_rows(mention_ids, copies_only)}

    def clusters(self, root_ids: Iterable[str]) -> dict[str, ClusterStats]:
        ids = list(dict.fromkeys(root_ids))
        found: dict[str, ClusterStats] = {}
        for chunk, marks in in_chunks(ids):
            rows = self._query(
                "SELECT n.duplicate_of AS root, COUNT(*) AS copies, MAX(n.created_at) AS last,"
                " SUM(COALESCE(m.engagement_total, 0)) AS engagement,"
                " COUNT(DISTINCT CASE WHEN n.author_handle != COALESCE(r.author_handle, '') THEN n.author_handle END)"
                " AS others, GROUP_CONCAT(DISTINCT m.source) AS sources"
                " FROM noise n LEFT JOIN mentions m ON m.id = n.mention_id"
                " LEFT JOIN noise r ON r.mention_id = n.duplicate_of"
                f" WHERE n.duplicate_of IN ({marks}) GROUP BY n.duplicate_of", chunk)
            for r in rows:
                found[r["root"]] = ClusterStats(
                    r["root"], copies=r["copies"], accounts=1 + r["others"], engagement=r["engagement"] or 0,
                    last_copy_at=parse_ts(r["last"]), sources=tuple(sorted((r["sources"] or "").split(",")) if r["sources"] else ()),
                )
        return found

    def set_not_spam(self, mention_id: str, not_spam: bool) -> NoiseMark:
        with self._tx() as db:
            cur = db.execute("UPDATE noise SET not_spam = ? WHERE mention_id = ?", (int(not_spam), mention_id))
            if cur.rowcount == 0:
                raise KeyError(mention_id)
            row = db.execute(f"SELECT {_MARK_COLUMNS} FROM noise WHERE mention_id = ?", (mention_id,)).fetchone()
        return _mark(row)

    def duplicate_trend(self, since: datetime | None = None, brand: str | None = None,
                        bucket_minutes: int = 60) -> list[TrendPoint]:
        check_bucket(bucket_minutes)
        bucket = ("substr(n.created_at, 1, 13)" if bucket_minutes == 60 else
                  f"substr(n.created_at, 1, 14) || printf('%02d', CAST(substr(n.created_at, 15, 2) AS INTEGER)"
                  f" / {bucket_minutes} * {bucket_minutes})")
        sql = (f"SELECT {bucket} AS bucket, n.brand AS brand, m.source AS source,"
               " COALESCE(m.sentiment_label, 'unscored') AS label, COUNT(*) AS n"
               " FROM noise n JOIN mentions m ON m.id = n.mention_id"
               " WHERE n.duplicate_of IS NOT NULL AND n.created_at >= ?")
        params: list[object] = [ts(since) if since else ""]
        if brand is not None:
            sql += " AND n.brand = ?"
            params.append(brand)
        rows = self._query(sql + " GROUP BY bucket, n.brand, source, label ORDER BY bucket", params)
        fmt = "%Y-%m-%dT%H" if bucket_minutes == 60 else "%Y-%m-%dT%H:%M"
        return [TrendPoint(bucket=datetime.strptime(r["bucket"], fmt).replace(tzinfo=UTC), source=r["source"],
                           label=r["label"], count=r["n"], brand=r["brand"]) for r in rows]
