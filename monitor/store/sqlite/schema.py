"""The SQLite store's tables, and the columns added since the first release.

`create_or_migrate` brings a file written by an older Earshot up to date when the store opens
it (read-write): columns, indices, and the full-text index of mentions, filled for the mentions
stored before it existed (search.py). `earshot reindex` reads such a file read-only instead,
where a column it lacks reads as empty (rows.OldRow).
"""

from __future__ import annotations

import sqlite3

from monitor.store.sqlite.cases import create_cases
from monitor.store.sqlite.erasures import create_erasures
from monitor.store.sqlite.noise_schema import NOISE_SCHEMA, migrate_band_keys
from monitor.store.sqlite.search import ENGAGEMENT_TOTAL, SEARCH_SCHEMA, index_new_mentions

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
-- Time ranges (the trend, recent posts), covering what the trend groups by: read from the index alone.
CREATE INDEX IF NOT EXISTS mentions_time ON mentions(created_at, brand, source, sentiment_label);
-- The next page of posts to score, oldest first, read straight off this index (scoring asks for
-- 256 at a time; sorting every unscored post on each ask made scoring quadratic).
CREATE INDEX IF NOT EXISTS mentions_unscored_time ON mentions(created_at) WHERE sentiment_label IS NULL;
-- A post's brand by its id, from the index alone: detection reads one brand's engagement readings
-- over its whole history window every run, joining each reading to its post for the brand, and
-- the row itself (text and all) was most of that read's cost.
CREATE INDEX IF NOT EXISTS mentions_brand ON mentions(id, brand);

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
    "mentions": {
        "app_version": "TEXT", "topic": "TEXT", "team": "TEXT",
        # The row of the mention in the full-text index, ordered by time (search.py).
        "search_key": "INTEGER",
        # Engagement.total, computed by SQLite from the engagement column (never written), so
        # it can be filtered, sorted and indexed; it follows every change of engagement.
        "engagement_total": f"INTEGER GENERATED ALWAYS AS ({ENGAGEMENT_TOTAL}) VIRTUAL",
        # Issue 17: what the platforms say beyond the text, and tombstones (monitor/removals.py).
        "engagement_known": "INTEGER NOT NULL DEFAULT 1", "refers_to": "TEXT", "author_verified": "INTEGER",
        "nsfw": "INTEGER NOT NULL DEFAULT 0", "removed": "TEXT", "removed_at": "TEXT",
    },
    "alerts": {
        "kind": "TEXT NOT NULL DEFAULT 'spread'", "topic": "TEXT", "team": "TEXT", "assignee": "TEXT",
        "first_response_at": "TEXT", "acknowledged_at": "TEXT", "resolved_at": "TEXT", "dismissed_at": "TEXT",
    },
}


# Indices on added columns (created once the columns exist), and the indices the web reads by.
INDICES = """
DROP INDEX IF EXISTS mentions_created;  -- mentions_time leads with created_at too, and covers the trend
DROP INDEX IF EXISTS mentions_unscored;  -- mentions_unscored_time answers the same, in scoring's order
CREATE UNIQUE INDEX IF NOT EXISTS mentions_search_key ON mentions(search_key);
CREATE INDEX IF NOT EXISTS mentions_engagement ON mentions(engagement_total, search_key);
-- A post's alerts (its case, the inbox's other severities): looked up by post on every page.
CREATE INDEX IF NOT EXISTS alerts_mention ON alerts(mention_id);
-- The alerts created in a window, and what the handling metrics beside the inbox read of them.
CREATE INDEX IF NOT EXISTS alerts_created ON alerts(created_at, state, first_response_at, resolved_at);
"""


# How many mentions and snapshots there are: every page shows both totals, and COUNT(*) reads a
# whole index (20 ms at a million rows, each time). A delete (a replaced row's too) is counted by
# trigger; rows are added to the count by the statement that inserts them (`count_added`), since
# a trigger firing per inserted row was a second of every 100,000 posts ingested. Counted afresh
# whenever the store opens the file, so a writer that went around them cannot leave them wrong for long.
COUNTED = ("mentions", "snapshots")
COUNTS = "CREATE TABLE IF NOT EXISTS row_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);" + "".join(
    f"""
DROP TRIGGER IF EXISTS {table}_counted;  -- the per-row insert trigger of files before 0.1.0's last change
CREATE TRIGGER IF NOT EXISTS {table}_uncounted AFTER DELETE ON {table}
BEGIN UPDATE row_counts SET n = n - 1 WHERE name = '{table}'; END;"""
    for table in COUNTED
)
RECOUNT = "BEGIN IMMEDIATE; " + " ".join(
    f"INSERT OR REPLACE INTO row_counts VALUES ('{t}', (SELECT COUNT(*) FROM {t}));" for t in COUNTED) + " COMMIT;"


def count_added(db: sqlite3.Connection, table: str, rows: int) -> None:
    """Add `rows` just inserted into `table` (one of COUNTED) to its count, in the caller's transaction."""
    if rows:
        db.execute("UPDATE row_counts SET n = n + ? WHERE name = ?", (rows, table))


def create_or_migrate(db: sqlite3.Connection) -> None:
    """Create what is missing: tables, indices, triggers, columns added since a file was written,
    and the full-text index of mentions stored before it existed."""
    db.executescript(SCHEMA)
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_xinfo({table})")}  # xinfo: generated ones too
        for name, ddl in columns.items():
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
    db.executescript(INDICES + SEARCH_SCHEMA + COUNTS + NOISE_SCHEMA)
    db.executescript(RECOUNT)
    create_cases(db)
    create_erasures(db)
    migrate_band_keys(db)
    if db.execute("SELECT 1 FROM mentions WHERE search_key IS NULL LIMIT 1").fetchone():
        db.execute("BEGIN IMMEDIATE")  # the keys and the index entries together, or neither
        try:
            index_new_mentions(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
