"""`earshot index setup` and `earshot reindex`: preparing Elasticsearch and copying SQLite into it.

`reindex` is a copy from one store to another through the `Store` protocol: the SQLite
file, opened read-only (`SQLiteStore.read_only`), exports its records page by page, and the
Elasticsearch store imports them. Neither knows the other's tables or indices. Each record
keeps its deterministic id, so SQLite's version wins and running it twice changes nothing;
the triage audit trail is append-only there too, so an event already copied is left as it
is. The target makes what it imported readable once per kind, at its end, never per page,
which is what makes a large copy fast.

A file written by an older Earshot (columns added since missing) is read as the SQLite
store would read it after its migration: the missing columns are empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.store.base import Store
from monitor.store.records import RECORD_KINDS, Record, RecordExport, RecordKind
from monitor.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from monitor.config import Config
    from monitor.store.elasticsearch import SetupReport

Progress = Callable[[int, int | None], None]
ProgressFactory = Callable[[str], Progress]


def setup_from_config(config: Config) -> SetupReport:
    """Create or update the templates, the ILM policy and the small indices `store.elasticsearch` names."""
    from monitor.store.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore.from_config(config, ensure_setup=False)
    try:
        return store.setup()
    finally:
        store.close()


@dataclass
class ReindexReport:
    copied: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # one line per record, naming it and why

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = [f"{kind}: {count} copied" for kind, count in self.copied.items()]
        out += [f"failed: {failure}" for failure in self.failures[:20]]
        if len(self.failures) > 20:
            out.append(f"... and {len(self.failures) - 20} more failures")
        return out


def copy_store(
    source: Store, target: Store, progress: ProgressFactory | None = None,
    kinds: tuple[RecordKind, ...] = RECORD_KINDS,
) -> ReindexReport:
    """Copy every record of `kinds` from `source` into `target`; per-record failures are reported, not raised."""
    report = ReindexReport()
    for kind in kinds:
        export = source.export_records(kind)
        result = target.import_records(kind, _ticking(export, progress(f"copy {kind}") if progress else None))
        report.copied[kind.value] = result.stored
        report.failures += result.failures
    return report


def _ticking(export: RecordExport, tick: Progress | None) -> Iterator[Record]:
    """The export's records, reporting (done, total) after each page."""
    done = 0
    if tick:
        tick(0, export.total)
    for page in export.pages:
        yield from page
        done += len(page)
        if tick:
            tick(done, export.total)


def reindex_sqlite(sqlite_path: Path | str, store: Store, progress: ProgressFactory | None = None) -> ReindexReport:
    """Copy everything in a SQLite file into `store`; the file is only read (FileNotFoundError if absent)."""
    source = SQLiteStore.read_only(sqlite_path)
    try:
        return copy_store(source, store, progress)
    finally:
        source.close()


def reindex_from_config(
    config: Config, sqlite_path: Path | None = None, progress: ProgressFactory | None = None
) -> ReindexReport:
    """`earshot reindex`: copy the SQLite file (default: `store.path`) into `store.elasticsearch`."""
    from monitor.store.elasticsearch import ElasticsearchStore

    path = sqlite_path or config.resolve(config.store.path)
    store = ElasticsearchStore.from_config(config)
    try:
        return reindex_sqlite(path, store, progress)
    finally:
        store.close()


# -- users for a fresh cluster (the Docker Compose init service) ---------------------

WRITER_ROLE = "earshot_writer"


def writer_role(index_prefix: str) -> dict[str, Any]:
    """What Earshot needs and no more: its own indices, their templates and the ILM policy."""
    return {
        "cluster": ["monitor", "manage_ilm", "manage_index_templates"],
        "indices": [{"names": [f"{index_prefix}-*"], "privileges": ["manage", "read", "write", "view_index_metadata"]}],
    }


def bootstrap_security(
    client: Elasticsearch, *, kibana_password: str, earshot_user: str, earshot_password: str, index_prefix: str
) -> None:
    """Set the built-in `kibana_system` password and create Earshot's least-privilege user. Idempotent."""
    client.security.change_password(username="kibana_system", password=kibana_password)
    role = writer_role(index_prefix)
    client.security.put_role(name=WRITER_ROLE, cluster=role["cluster"], indices=role["indices"])
    client.security.put_user(username=earshot_user, password=earshot_password, roles=[WRITER_ROLE])


def bootstrap_security_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """As `elastic` ($ELASTIC_PASSWORD) at $ELASTICSEARCH_URL: $KIBANA_PASSWORD for kibana_system,
    $EARSHOT_ES_USER (default earshot) / $EARSHOT_ES_PASSWORD for Earshot."""
    from monitor.store.elasticsearch.client import client_from_url

    required = ("ELASTICSEARCH_URL", "ELASTIC_PASSWORD", "KIBANA_PASSWORD", "EARSHOT_ES_PASSWORD")
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise SystemExit(f"set {', '.join(missing)} (see .env.example)")
    client = client_from_url(environ["ELASTICSEARCH_URL"], basic_auth=("elastic", environ["ELASTIC_PASSWORD"]))
    try:
        bootstrap_security(
            client,
            kibana_password=environ["KIBANA_PASSWORD"],
            earshot_user=environ.get("EARSHOT_ES_USER", "earshot"),
            earshot_password=environ["EARSHOT_ES_PASSWORD"],
            index_prefix=environ.get("EARSHOT_INDEX_PREFIX", "earshot"),
        )
    finally:
        client.close()


if __name__ == "__main__":  # python -m monitor.indexing bootstrap-security
    import sys

    if sys.argv[1:] != ["bootstrap-security"]:
        raise SystemExit("usage: python -m monitor.indexing bootstrap-security")
    bootstrap_security_from_env()
    print("kibana_system password set; Earshot user and role in place")
