"""Stores are plugins, found by name through the `earshot.stores` entry points.

Each entry point names a `StoreDescriptor`: the store's name, its settings model (pydantic
only) and a factory that imports the store itself only when it runs. So finding a store,
validating its settings or parsing a DAG file never imports a database client. Earshot's
own stores (sqlite, elasticsearch) are declared in pyproject.toml like any other; a
third-party store is a package that declares one more entry point in this group.

A `StoreDescriptor` is a `monitor.plugins.Plugin` (its factory takes the settings and the
directory relative paths resolve in) that can also say where the data goes without opening
the store; it is found through the registry every plug point shares (`load_plugin`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from monitor.plugins import STORES_GROUP, Plugin, PluginError, UnknownPlugin, installed, load_plugin

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.sources.base import Batch
    from monitor.store.base import Store


S = TypeVar("S", bound=BaseModel)


class UnknownStore(ValueError):
    """No installed store has the name the config gives; the message lists the installed ones."""


@dataclass(frozen=True)
class StoreDescriptor(Plugin[S, "Store"]):
    """What the registry knows of a store before it is used: cheap to import.

    `factory(settings, base_dir) -> Store`; `describe(settings, base_dir)` says where the data
    goes, in one line with no secret (`earshot run`, check-config), without opening the store.
    `pack(batch) -> Batch`, if the store has one, turns a batch fetched in another process
    (monitor/fetch_ahead.py) into the form the store writes, there, before it travels: the same
    mentions and snapshots to anyone reading them, less work for the process that stores them.
    It is sent to that process, so it must pickle: a module-level function (or `lazy(...)`),
    not a lambda or a closure. Keyword-only, so a descriptor subclass may add fields of its own.
    """

    describe: Callable[[S, Path], str]
    pack: Callable[[Batch], Batch] | None = field(default=None, kw_only=True)

    def open(self, settings: S | Mapping[str, Any], base_dir: Path = Path(".")) -> Store:
        """The store these settings describe; importing its module happens here, not before."""
        return self.build(settings, base_dir)

    def settings_from(self, store_section: BaseModel) -> S:
        """This store's settings out of the config's `store` section: its own sub-section
        `store.<name>` where there is one (`store.elasticsearch`), else the section's own
        keys that the settings model declares (SQLite's file is `store.path`)."""
        section = store_section.model_dump()
        own = section.get(self.name)
        if not isinstance(own, dict):
            own = {key: value for key, value in section.items() if key in self.settings_model.model_fields}
        return self.settings_model.model_validate(own)


def installed_stores() -> list[str]:
    return installed(STORES_GROUP)


def find_store(name: str) -> StoreDescriptor[Any]:
    """The descriptor of the store called `name`; UnknownStore if none is installed under it."""
    try:
        descriptor = load_plugin(STORES_GROUP, name)
    except UnknownPlugin as exc:
        raise UnknownStore(f"store.backend: {exc}") from None
    if not isinstance(descriptor, StoreDescriptor):
        raise PluginError(f"the {STORES_GROUP} entry point {name!r} is a {type(descriptor).__name__}, "
                          "not a StoreDescriptor")
    return descriptor


def open_store(config: Config) -> Store:
    """The store `store.backend` names, with its settings from the `store` section."""
    descriptor = find_store(config.store.backend)
    return descriptor.open(descriptor.settings_from(config.store), config.base_dir)


def batch_packer(config: Config) -> Callable[[Batch], Batch] | None:
    """The configured store's `pack`, for a source read in another process; None if it has none."""
    return find_store(config.store.backend).pack


def describe_store(config: Config) -> str:
    """Where the configured store keeps its data, in one line with no secret; imports no client."""
    descriptor = find_store(config.store.backend)
    return descriptor.describe(descriptor.settings_from(config.store), config.base_dir)
