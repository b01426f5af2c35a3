"""The Elasticsearch store (`store.backend: elasticsearch`), for scale and Kibana dashboards.

| module | what |
|---|---|
| store.py | `ElasticsearchStore`, and the design: ids, indices, idempotence |
| mentions.py, alerts.py, records.py | its parts: ingest; alerts, triage trail, outbox; copying between stores |
| indices.py | what the parts share: client, paging, bulk writes |
| bulk.py, client.py | bulk writes with per-document outcomes; the client from settings, env or Airflow |
| docs.py, queries.py, templates.py | documents, queries, index layout: pure functions, no client |
| setup.py, settings.py | templates and ILM policy; the `store.elasticsearch` settings (pydantic only) |

Importing this package stays light (pydantic, no Elasticsearch client): the store registry
loads `STORE` from here to validate settings, and only `STORE.open` (or naming
`ElasticsearchStore`, `setup_indices`...) imports the client.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.store.elasticsearch.settings import ElasticsearchSettings, ElasticsearchStoreSettings
from monitor.store.registry import StoreDescriptor

if TYPE_CHECKING:
    from monitor.store.base import Store
    from monitor.store.elasticsearch.alerts import AlertWriteContention
    from monitor.store.elasticsearch.indices import ConcurrentWriteError
    from monitor.store.elasticsearch.setup import SetupReport, setup_indices
    from monitor.store.elasticsearch.store import ElasticsearchStore

__all__ = [
    "STORE", "AlertWriteContention", "ConcurrentWriteError", "ElasticsearchSettings", "ElasticsearchStore",
    "ElasticsearchStoreSettings", "SetupReport", "setup_indices",
]

# Names that need the Elasticsearch client, imported from their module on first use.
_NEEDS_CLIENT = {
    "ElasticsearchStore": "store",
    "AlertWriteContention": "alerts",
    "ConcurrentWriteError": "indices",
    "SetupReport": "setup",
    "setup_indices": "setup",
}


def __getattr__(name: str) -> Any:
    """`from monitor.store.elasticsearch import ElasticsearchStore` works; it just costs the client import then."""
    module = _NEEDS_CLIENT.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


def _open(settings: ElasticsearchStoreSettings, base_dir: Path) -> Store:
    try:
        from monitor.store.elasticsearch.store import ElasticsearchStore
    except ImportError as exc:
        raise ValueError(f"store.backend: elasticsearch needs pip install 'earshot[elasticsearch]' ({exc})") from None
    return ElasticsearchStore.from_settings(settings, base_dir)


def _describe(settings: ElasticsearchStoreSettings, base_dir: Path) -> str:
    from monitor.store.elasticsearch.client import describe  # imports no client

    return describe(settings)


STORE = StoreDescriptor("elasticsearch", ElasticsearchStoreSettings, _open, _describe)
