"""Persistence behind one protocol (`Store`, base.py); `open_store` opens the store the config names.

Stores are plugins found through the `earshot.stores` entry points (registry.py): SQLite
(sqlite/, the default) and Elasticsearch (elasticsearch/). A copy from one store to another
goes through the protocol too: `export_records` / `import_records` (records.py). What both
share for reading pages: the search text's terms (search_text.py), opaque keyset cursors
(paging.py) and the inbox's cases (cases.py).
"""

from __future__ import annotations

from monitor.store.base import (
    AlertContention, AlertHandling, CasePage, CaseQuery, IngestResult, InvalidQuery, MentionPage, MentionQuery,
    MentionSort, Quarantined, Store, TrendPoint,
)
from monitor.store.records import RECORD_KINDS, ImportResult, Record, RecordExport, RecordKind
from monitor.store.registry import (
    STORES_GROUP, StoreDescriptor, UnknownStore, batch_packer, describe_store, find_store, open_store,
)
from monitor.store.sqlite import SQLiteStore

__all__ = [
    "RECORD_KINDS", "STORES_GROUP", "AlertContention", "AlertHandling", "CasePage", "CaseQuery", "ImportResult",
    "IngestResult", "InvalidQuery", "MentionPage", "MentionQuery", "MentionSort", "Quarantined", "Record",
    "RecordExport", "RecordKind", "SQLiteStore", "Store", "StoreDescriptor", "TrendPoint", "UnknownStore",
    "batch_packer", "describe_store", "find_store", "open_store",
]
