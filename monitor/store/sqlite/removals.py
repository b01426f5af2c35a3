"""Tombstones, retention and the erasure audit log in SQLite (the `Store` protocol's removal part).

A tombstone is the mention row with its text, title, author and URL blanked and `removed` set:
the row stays, so its alerts, their triage trail, the snapshots and every count stay whole,
and the inbox can show the case as "removed". Its full-text entry is dropped, so no search
finds the purged words. `ingest` never writes over a tombstone (store.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from monitor.noise.marks import to_us
from monitor.store.base import REMOVED_AUTHOR, Erasure
from monitor.store.sqlite.connection import Connection
from monitor.store.sqlite.rows import parse_ts, ts
from monitor.store.sqlite.search import forget_mention

_CHUNK = 500  # ids per statement, well under SQLite's variable limit


def tombstone_rows(db: sqlite3.Connection, removals: Sequence[tuple[str, str]], at: datetime) -> int:
    """Blank the rows of these (mention id, reason); inside the caller's transaction."""
    done: list[str] = []
    for mention_id, reason in dict(removals).items():
        row = db.execute("SELECT removed, author_handle FROM mentions WHERE id = ?", (mention_id,)).fetchone()
        if row is None or row[0] is not None:
            continue
        forget_mention(db, mention_id)
        # The detector's explanation names the author ("x post by @ana ..."): that goes too.
        db.execute("UPDATE alerts SET reason = replace(reason, ?, ?) WHERE mention_id = ?",
                   (f"@{row[1]}", f"@{REMOVED_AUTHOR}", mention_id))
        db.execute(
            "UPDATE mentions SET text = '', title = NULL, author_handle = ?, author_followers = 0, url = '',"
            " refers_to = NULL, author_verified = NULL, removed = ?, removed_at = ? WHERE id = ?",
            (REMOVED_AUTHOR, reason, ts(at), mention_id),
        )
        # Its noise mark keeps the cluster link and spam verdict, not the author or the text's bands.
        db.execute("UPDATE noise SET author_handle = ?, author_followers = 0 WHERE mention_id = ?",
                   (REMOVED_AUTHOR, mention_id))
        done.append(mention_id)
    # The band index is keyed by band, not by post, so finding a post's rows reads all of it (75 ms
    # at 100,000 posts, growing with the store): one read for many posts, not one a post (a purge
    # keeps thousands of alerted posts as tombstones, an erasure request can name hundreds).
    for start in range(0, len(done), _CHUNK):
        chunk = done[start : start + _CHUNK]
        db.execute(f"DELETE FROM noise_band_keys WHERE mention_id IN ({','.join('?' * len(chunk))})", chunk)
    return len(done)


class Removals(Connection):
    def tombstone(self, removals: Sequence[tuple[str, str]], at: datetime) -> int:
        with self._tx() as db:
            return tombstone_rows(db, removals, at)

    def mention_ids_by_author(self, handle: str, source: str | None = None) -> list[str]:
        sql = "SELECT id FROM mentions WHERE author_handle = ? COLLATE NOCASE AND removed IS NULL"
        params: list[object] = [handle.removeprefix("@")]
        if source:
            sql += " AND source = ?"
            params.append(source)
        return [row[0] for row in self._query(sql + " ORDER BY id", params)]

    def purge_older_than(self, cutoff: datetime) -> tuple[int, int]:
        with self._tx() as db:
            snapshots = db.execute("DELETE FROM snapshots WHERE observed_at < ?", (ts(cutoff),)).rowcount
            old = db.execute(
                "SELECT m.id, EXISTS (SELECT 1 FROM alerts a WHERE a.mention_id = m.id) FROM mentions m"
                " WHERE m.created_at < ?", (ts(cutoff),)).fetchall()
            kept = [(mid, "retention") for mid, alerted in old if alerted]
            tombstone_rows(db, kept, cutoff)
            gone = [mid for mid, alerted in old if not alerted]
            for start in range(0, len(gone), _CHUNK):
                chunk = gone[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for mid in chunk:
                    forget_mention(db, mid)
                snapshots += db.execute(f"DELETE FROM snapshots WHERE mention_id IN ({marks})", chunk).rowcount
                db.execute(f"DELETE FROM noise WHERE mention_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM mentions WHERE id IN ({marks})", chunk)
            # The band index of every post older than the cutoff, gone or kept as a tombstone (whose
            # own rows went above): in one pass, as its rows are keyed by band, not by post.
            db.execute("DELETE FROM noise_band_keys WHERE created_us < ?", (to_us(cutoff),))
            return len(old), snapshots

    def add_erasure(self, entry: Erasure) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO erasures (id, at, actor, action, subject, reason, mentions, snapshots)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (entry.id, ts(entry.at), entry.actor, entry.action, entry.subject, entry.reason, entry.mentions,
                 entry.snapshots),
            )

    def erasures(self, limit: int = 100) -> list[Erasure]:
        if not self._has_table("erasures"):
            return []
        rows = self._query("SELECT * FROM erasures ORDER BY at DESC, seq DESC LIMIT ?", (limit,))
        return [Erasure(r["id"], parse_ts(r["at"]), r["actor"], r["action"], r["subject"], r["reason"],
                        r["mentions"], r["snapshots"]) for r in rows]
