"""The noise tables (see noise.py), apart so the schema module can create them without a cycle."""

from __future__ import annotations

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
CREATE TABLE IF NOT EXISTS noise_bands (
    band TEXT NOT NULL,
    created_at TEXT NOT NULL,
    mention_id TEXT NOT NULL,
    PRIMARY KEY (band, created_at, mention_id)
) WITHOUT ROWID;
"""

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
