"""Sources are plugins: found by name in the `earshot.sources` group, built from their own settings.

A source plugin is a `monitor.plugins.Plugin` (the contract, docs/adding-a-source.md):

* `name`, the key of its section in the config (`sources.<name>`);
* `settings_model`, a subclass of `SourceSettings` importing only pydantic: the config is
  validated with it every time it is loaded, DAG parsing included;
* `factory(settings, SourceContext) -> Source`, which imports the platform SDK when it
  runs, inside the task that fetches.

Old-style plugins, an entry point naming a class with `settings_model` and
`from_config(config)`, still load, through `LegacySourceClass` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from monitor.config import BrandConfig, Config, SourceSettings
from monitor.plugins import SOURCES_GROUP, Plugin, PluginError, UnknownPlugin, installed, load_plugin
from monitor.sources.base import Source, SourceError

__all__ = ["LegacySourceClass", "SourceContext", "available_sources", "create_source", "find_source"]


@dataclass(frozen=True)
class SourceContext:
    """What a source needs from the config besides its own section: the brands and where the file is."""

    brands: tuple[BrandConfig, ...] = ()
    base_dir: Path = Path(".")  # relative paths in its settings are relative to the config file

    @classmethod
    def of(cls, config: Config) -> SourceContext:
        return cls(tuple(config.brands), config.base_dir)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path


@runtime_checkable
class LegacySourceClass(Protocol):
    """The plugin contract before descriptors: a class that validates and builds itself.

    Still accepted from third-party packages; its module (and SDK) is imported to validate
    the config, which is why a descriptor is the contract now.
    """

    settings_model: type[SourceSettings]

    def from_config(self, config: Config) -> Source: ...


def _adapt(name: str, loaded: object) -> Plugin[Any, Source]:
    if not isinstance(loaded, LegacySourceClass):
        raise PluginError(f"the {SOURCES_GROUP} entry point {name!r} is a {type(loaded).__name__}: neither a "
                          "monitor.plugins.Plugin nor a class with settings_model and from_config")
    legacy = loaded

    def factory(settings: SourceSettings, context: SourceContext) -> Source:
        # from_config reads its own section and the brands from a whole Config: give it one holding them.
        config = Config.model_construct(brands=list(context.brands), sources={name: settings}, base_dir=context.base_dir)
        return legacy.from_config(config)

    return Plugin(name, legacy.settings_model, factory)


def find_source(name: str) -> Plugin[Any, Source]:
    """The source plugin `name`; UnknownPlugin (naming the installed ones) if there is none."""
    return load_plugin(SOURCES_GROUP, name, _adapt, SourceSettings)


def available_sources() -> list[str]:
    return installed(SOURCES_GROUP)


def create_source(name: str, config: Config) -> Source:
    """The source `name`, built from `sources.<name>` (its defaults if the section is absent).

    SourceError if no such plugin is installed, or if its settings need values the config
    does not give (an RSS source without feeds).
    """
    try:
        plugin = find_source(name)
    except UnknownPlugin as exc:
        raise SourceError(f"sources.{name}: {exc}") from None
    settings = config.sources.get(name)
    if settings is None:
        try:
            settings = plugin.settings()
        except ValueError:
            raise SourceError(f"sources.{name}: not configured (add a sources.{name} section)") from None
    return plugin.build(settings, SourceContext.of(config))
