"""Persistence behind one protocol; `open_store` picks the backend the config names."""

from __future__ import annotations

from monitor.config import Config
from monitor.store.base import IngestResult, Quarantined, Store, TrendPoint
from monitor.store.sqlite import SQLiteStore

__all__ = ["IngestResult", "Quarantined", "SQLiteStore", "Store", "TrendPoint", "open_store"]


def open_store(config: Config) -> Store:
    if config.store.backend == "sqlite":
        return SQLiteStore(config.resolve(config.store.path))
    if config.store.backend == "elasticsearch":
        try:
            from monitor.store.elasticsearch import ElasticsearchStore
        except ImportError as exc:
            raise ValueError(
                f"store.backend: elasticsearch needs pip install 'earshot[elasticsearch]' ({exc})"
            ) from None
        return ElasticsearchStore.from_config(config)
    raise ValueError(f"store.backend: unknown backend {config.store.backend!r}")
