"""The noise tables (see noise.py), apart so the schema module can create them without a cycle."""

from __future__ import annotations

import sqlite3

from monitor.noise.marks import key_id, to_us
from monitor.store.sqlite.rows import parse_ts

NOISE_SCHEMA = """
CREATE TABLE IF NOT EXISTS noise (
    mention_id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    author_handle TEXT NOT NULL,
    author_followers INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    duplicate_of TEXT,
    signature BLOB NOT NULL,
    spam_score REAL NOT NULL,
    spam_reasons TEXT NOT NULL,
    spam INTEGER NOT NULL,
    not_spam INTEGER NOT NULL DEFAULT 0,
    judged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS noise_cluster ON noise(duplicate_of, created_at) WHERE duplicate_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS noise_copies ON noise(brand, created_at) WHERE duplicate_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS noise_spam ON noise(mention_id) WHERE spam = 1 AND not_spam = 0;
-- The LSH index: sixteen rows a post, so most of what the noise step writes. Numbers, not text
-- (the band key as monitor.noise.marks.key_id, the post's time in microseconds since the epoch):
-- a third of the bytes, so a third of the pages each run rewrites.
CREATE TABLE IF NOT EXISTS noise_band_keys (
    band INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    mention_id TEXT NOT NULL,
    PRIMARY KEY (band, created_us, mention_id)
) WITHOUT ROWID;
"""


def migrate_band_keys(db: sqlite3.Connection) -> None:
    """Move a file's text band index (`noise_bands`, before version 0.1.0's last change) into
    `noise_band_keys`, in one transaction: copies judged before still find their first posts."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'noise_bands'").fetchone():
        return
    db.create_function("earshot_key_id", 1, key_id, deterministic=True)
    db.create_function("earshot_us", 1, lambda text: to_us(parse_ts(text)), deterministic=True)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT OR IGNORE INTO noise_band_keys SELECT earshot_key_id(band), earshot_us(created_at),"
                   " mention_id FROM noise_bands ORDER BY 1, 2, 3")
        db.execute("DROP TABLE noise_bands")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

# What the mention search adds for `MentionQuery.duplicate` / `.spam` (m is the mentions row).
IS_COPY = "EXISTS (SELECT 1 FROM noise n WHERE n.mention_id = m.id AND n.duplicate_of IS NOT NULL)"
IS_SPAM = "EXISTS (SELECT 1 FROM noise n WHERE n.mention_id = m.id AND n.spam = 1 AND n.not_spam = 0)"


def noise_conditions(duplicate: bool | None, spam: bool | None) -> list[str]:
    out = []
    if duplicate is not None:
        out.append(IS_COPY if duplicate else f"NOT {IS_COPY}")
    if spam is not None:
        out.append(IS_SPAM if spam else f"NOT {IS_SPAM}")
    return out
