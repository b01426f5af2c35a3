"""The erasure audit log's table (and the author index a right-to-erasure request looks up by).

Apart from removals.py so the schema can create it without importing the store's connection.
"""

from __future__ import annotations

import sqlite3

ERASURES = """
CREATE TABLE IF NOT EXISTS erasures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    mentions INTEGER NOT NULL,
    snapshots INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS erasures_no_update BEFORE UPDATE ON erasures
BEGIN SELECT RAISE(ABORT, 'erasures is append-only'); END;
CREATE INDEX IF NOT EXISTS mentions_author ON mentions(author_handle COLLATE NOCASE, source);
"""


def create_erasures(db: sqlite3.Connection) -> None:
    db.executescript(ERASURES)
