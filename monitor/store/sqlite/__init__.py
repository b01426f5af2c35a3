"""The SQLite store (`store.backend: sqlite`, the default): one file, standard library only.

| module | what |
|---|---|
| store.py | `SQLiteStore`: the protocol, and how each write stays all-or-nothing |
| records.py | copying between stores: export (also from a read-only file) and import |
| connection.py | the file, its lock and transactions |
| schema.py, rows.py | tables and migration; records as rows and back |
| packed.py | a batch packed as rows where it is fetched, for the process that stores it |
| search.py | the full-text index of mentions (FTS5, accents and case folded) and its keyset pages |
| cases.py | the inbox's cases: a table kept by triggers, paged by one index |
| settings.py | the `store` settings it reads (pydantic only) |
"""

from __future__ import annotations

from pathlib import Path

from monitor.store.registry import StoreDescriptor
from monitor.store.sqlite.packed import pack_batch
from monitor.store.sqlite.settings import SQLiteStoreSettings
from monitor.store.sqlite.store import SQLiteStore

__all__ = ["STORE", "SQLiteStore", "SQLiteStoreSettings"]


def _path(settings: SQLiteStoreSettings, base_dir: Path) -> Path:
    return settings.path if settings.path.is_absolute() else base_dir / settings.path


def _open(settings: SQLiteStoreSettings, base_dir: Path) -> SQLiteStore:
    return SQLiteStore(_path(settings, base_dir))


def _describe(settings: SQLiteStoreSettings, base_dir: Path) -> str:
    return f"sqlite at {_path(settings, base_dir)}"


STORE = StoreDescriptor("sqlite", SQLiteStoreSettings, _open, _describe, pack=pack_batch)
