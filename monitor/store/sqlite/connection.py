"""One SQLite file, opened for the store: WAL, one lock, transactions that write or not at all.

WAL mode lets the web UI read while a pipeline run writes. `BEGIN IMMEDIATE` takes the
write lock at the start of a transaction, so what a transaction reads is what it writes
over: no other writer gets in between (how an alert's change stays atomic).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from monitor.store.sqlite.schema import create_or_migrate


IDS_PER_QUERY = 500  # under SQLite's limit of bound parameters per statement, with room to spare


def in_chunks(values: Sequence[str]) -> Iterator[tuple[Sequence[str], str]]:
    """`values` a statement's worth at a time, each with its `?,?,…` list for an `IN (…)`."""
    for start in range(0, len(values), IDS_PER_QUERY):
        chunk = values[start:start + IDS_PER_QUERY]
        yield chunk, ",".join("?" * len(chunk))


def casefold(value: str | None) -> str | None:
    """Python's caseless form, for SQL: SQLite's own lower() and NOCASE fold ASCII only."""
    return value.casefold() if isinstance(value, str) else value


class Connection:
    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """Open the file at `path`, creating or migrating it; `read_only`: open it as it is, changing
        nothing (no schema, no migration, no WAL switch), and FileNotFoundError if it is absent."""
        self.path = Path(path)
        self._lock = threading.RLock()
        if read_only:
            if not self.path.exists():
                raise FileNotFoundError(f"no SQLite store at {self.path}")
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                       check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.create_function("casefold", 1, casefold, deterministic=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.create_function("casefold", 1, casefold, deterministic=True)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        # Checkpoint every ~40 MB of WAL, not SQLite's default 4 MB: an ingest batch writes more
        # than 4 MB, so each commit checkpointed, copying the same hot index pages into the file
        # again and again. 100,000 posts ingested: 15.2-15.4 s -> 14.8-14.9 s.
        self._db.execute("PRAGMA wal_autocheckpoint=10000")
        # A row replaced (INSERT OR REPLACE) fires its delete triggers too, so what triggers keep
        # (row counts, the inbox's cases) stays right when a row is replaced.
        self._db.execute("PRAGMA recursive_triggers=ON")
        create_or_migrate(self._db)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _has_table(self, table: str) -> bool:
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))

    def close(self) -> None:
        with self._lock:
            self._db.close()
