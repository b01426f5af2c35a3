"""The SQLite store's tables, and the columns added since the first release.

`migrate` brings a file written by an older Earshot up to date when the store opens it
(read-write). `earshot reindex` reads such a file read-only instead, where a column it
lacks reads as empty (rows.OldRow).
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS mentions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    native_id TEXT NOT NULL,
    url TEXT NOT NULL,
    author_handle TEXT NOT NULL,
    author_followers INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT,
    lang TEXT,
    created_at TEXT NOT NULL,
    brand TEXT NOT NULL,
    query TEXT NOT NULL,
    engagement TEXT NOT NULL,
    rating INTEGER,
    app_version TEXT,
    sentiment_label TEXT,
    sentiment_score REAL,
    sentiment_model TEXT,
    first_seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_created ON mentions(created_at);
CREATE INDEX IF NOT EXISTS mentions_unscored ON mentions(sentiment_label) WHERE sentiment_label IS NULL;

CREATE TABLE IF NOT EXISTS snapshots (
    mention_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    engagement TEXT NOT NULL,
    PRIMARY KEY (mention_id, observed_at)
);
CREATE INDEX IF NOT EXISTS snapshots_observed ON snapshots(observed_at);

CREATE TABLE IF NOT EXISTS cursors (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    mention_id TEXT,
    brand TEXT NOT NULL,
    severity TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    velocity_per_min REAL NOT NULL,
    baseline_per_min REAL NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'spread',
    topic TEXT,
    team TEXT,
    assignee TEXT
);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, created_at);

CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel)
);

-- A sender's claim on one (alert, channel) delivery while it sends; a crashed sender's
-- claim expires and a successor takes it over.
CREATE TABLE IF NOT EXISTS delivery_claims (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel)
);

-- Records that could not be normalised or stored, kept for an operator (monitor/store/base.py).
CREATE TABLE IF NOT EXISTS quarantine (
    source TEXT NOT NULL,
    position TEXT NOT NULL,
    digest TEXT NOT NULL,
    reason TEXT NOT NULL,
    head TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (source, position, digest)
);
CREATE INDEX IF NOT EXISTS quarantine_at ON quarantine(at);

-- The triage audit trail: append-only, enforced by the database itself.
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    alert_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    assignee TEXT,
    text TEXT
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id, at);
CREATE TRIGGER IF NOT EXISTS alert_events_no_update BEFORE UPDATE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alert_events_no_delete BEFORE DELETE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;
"""


# Columns added after the first release, for databases created before them.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "mentions": {"app_version": "TEXT", "topic": "TEXT", "team": "TEXT"},
    "alerts": {
        "kind": "TEXT NOT NULL DEFAULT 'spread'", "topic": "TEXT", "team": "TEXT", "assignee": "TEXT",
        "first_response_at": "TEXT", "acknowledged_at": "TEXT", "resolved_at": "TEXT", "dismissed_at": "TEXT",
    },
}


def create_or_migrate(db: sqlite3.Connection) -> None:
    """Create what is missing: tables, indices, triggers, and columns added since a file was written."""
    db.executescript(SCHEMA)
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, ddl in columns.items():
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
