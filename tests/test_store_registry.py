"""Stores as plugins: found by name through the `earshot.stores` entry points, cheap to find,
each implementing the whole `Store` protocol."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from monitor.config import Config
from monitor.store import STORES_GROUP, SQLiteStore, Store, UnknownStore, describe_store, find_store, open_store
from monitor.store.elasticsearch import ElasticsearchStoreSettings
from monitor.store.elasticsearch.client import ElasticsearchConfigError
from monitor.store.sqlite import SQLiteStoreSettings


def test_the_built_in_stores_are_entry_points_of_one_group():
    assert {ep.name for ep in entry_points(group=STORES_GROUP)} >= {"sqlite", "elasticsearch"}
    assert find_store("sqlite").settings_model is SQLiteStoreSettings
    assert find_store("elasticsearch").settings_model is ElasticsearchStoreSettings
    with pytest.raises(UnknownStore, match=r"no store named 'mongo' is installed \(installed: .*elasticsearch.*sqlite"):
        find_store("mongo")


def test_open_store_opens_the_backend_the_config_names_with_its_own_settings(config: Config, tmp_path):
    store = open_store(config)
    try:
        assert isinstance(store, SQLiteStore) and store.path == tmp_path / "earshot.db"
    finally:
        store.close()
    assert describe_store(config) == f"sqlite at {tmp_path / 'earshot.db'}"
    config.store.backend = "elasticsearch"
    config.store.elasticsearch.index_prefix = "brisa"
    settings = find_store("elasticsearch").settings_from(config.store)
    assert isinstance(settings, ElasticsearchStoreSettings) and settings.index_prefix == "brisa"
    assert describe_store(config) == "elasticsearch, indices brisa-*, URL from $ELASTICSEARCH_URL"
    with pytest.raises(ElasticsearchConfigError, match="EARSHOT_TEST_UNSET_URL"):  # the factory ran with them
        find_store("elasticsearch").open(settings.model_copy(update={"url_env": "EARSHOT_TEST_UNSET_URL"}))


def test_finding_a_store_imports_no_database_client():
    code = (
        "import sys\n"
        "from monitor.store import find_store, describe_store\n"
        "for name in ('sqlite', 'elasticsearch'):\n"
        "    find_store(name).settings_model()\n"
        "assert 'elasticsearch' not in sys.modules, 'the Elasticsearch client was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["sqlite", "elasticsearch"])
def test_every_store_implements_the_whole_protocol(name):
    if name == "sqlite":
        store_class: type = SQLiteStore
    else:
        store_class = pytest.importorskip("monitor.store.elasticsearch.store").ElasticsearchStore
    required = {n for n in vars(Store) if not n.startswith("_")}
    assert required <= set(dir(store_class)), sorted(required - set(dir(store_class)))
