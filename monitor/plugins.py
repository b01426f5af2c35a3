"""What every plug point shares: a light descriptor, the entry-point groups, and one registry.

Earshot has several kinds of plugin (sources, alert channels, detectors, stores, sentiment
backends), each found by name through its own entry-point group, and a third-party package
adds one by declaring an entry point in that group. What the entry point names is a `Plugin`: the plugin's name,
its settings model and a factory. Loading one must stay cheap, because the config is
validated, and the Airflow DAG files parsed, every few seconds: the settings model imports
only pydantic, and the factory imports the heavy module (a platform SDK, an HTTP client,
numpy) only when it is called, inside the task that uses the plugin. `lazy("module:attr")`
is such a factory.

The groups are declared here once; each plug point's own module (`monitor.sources`,
`monitor.alerts`, `monitor.detection`, `monitor.store`, `sentiment.backends`) says what its
factory is called with.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

__all__ = [
    "CHANNELS_GROUP", "DETECTORS_GROUP", "GROUPS", "REPLIES_GROUP", "SENTIMENT_GROUP", "SOURCES_GROUP", "STORES_GROUP",
    "LazyFactory", "Plugin", "PluginError", "UnknownPlugin", "clear_plugin_cache", "installed", "lazy", "load_plugin",
]

SOURCES_GROUP = "earshot.sources"
CHANNELS_GROUP = "earshot.channels"
DETECTORS_GROUP = "earshot.detectors"
STORES_GROUP = "earshot.stores"
SENTIMENT_GROUP = "earshot.sentiment"
REPLIES_GROUP = "earshot.replies"  # posting a reply on a source's platform, by source name

# How messages name a plugin of each group ("no alert channel named 'pager' is installed").
GROUPS: Mapping[str, str] = {
    SOURCES_GROUP: "source plugin",
    CHANNELS_GROUP: "alert channel",
    DETECTORS_GROUP: "detector",
    STORES_GROUP: "store",
    SENTIMENT_GROUP: "sentiment backend",
    REPLIES_GROUP: "reply platform",
}

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T")


class UnknownPlugin(LookupError):
    """No installed plugin has the name the config gives; the message lists the installed ones."""

    def __init__(self, group: str, name: str) -> None:
        self.group, self.name = group, name
        self.installed = installed(group)
        super().__init__(f"no {GROUPS.get(group, group)} named {name!r} is installed "
                         f"(installed: {', '.join(self.installed) or 'none'})")


class PluginError(TypeError):
    """An entry point that does not name a usable plugin: a packaging mistake, named with its group."""


@dataclass(frozen=True)
class LazyFactory:
    """A factory named by "module:attribute" (dots allowed after the colon), imported on first call.

    Why a string and not the function: importing the function would import its module, and
    with it the SDK the descriptor exists to keep out of config validation and DAG parsing.
    """

    target: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def resolve(self) -> Callable[..., Any]:
        module_name, _, attribute = self.target.partition(":")
        return operator.attrgetter(attribute)(importlib.import_module(module_name))


def lazy(target: str) -> LazyFactory:
    """A factory that imports `target` ("package.module:callable") only when it is called."""
    if ":" not in target:
        raise ValueError(f"{target!r}: name the factory as 'package.module:callable'")
    return LazyFactory(target)


@dataclass(frozen=True)
class Plugin(Generic[S, T]):
    """What an entry point names: cheap to import, enough to validate settings, and a way to build.

    `factory` receives the validated settings first, then whatever the plug point passes
    (a source's `SourceContext`, a channel's `ChannelContext`...), and returns the plugin
    object (a `Source`, an `AlertChannel`...). It imports the heavy module when it runs.
    """

    name: str
    settings_model: type[S]
    factory: Callable[..., T]

    def settings(self, raw: S | Mapping[str, Any] | None = None) -> S:
        """`raw` validated by this plugin's settings model (None: its defaults)."""
        if isinstance(raw, self.settings_model):
            return raw
        return self.settings_model.model_validate(raw or {})

    def build(self, settings: S | Mapping[str, Any] | None, *context: Any) -> T:
        """The plugin object for these settings; the heavy module is imported here, not before."""
        return self.factory(self.settings(settings), *context)


@cache
def _entry_points() -> EntryPoints:
    # Scanning every installed distribution's metadata costs tens of milliseconds in a large
    # environment (Airflow's): once per process for all the groups, not once per group.
    return entry_points()


@cache
def _group(group: str) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in _entry_points().select(group=group):
        found.setdefault(ep.name, ep)  # the first on sys.path wins, as importlib.metadata orders them
    return found


def installed(group: str) -> list[str]:
    """The names registered in `group`, sorted."""
    return sorted(_group(group))


Adapter = Callable[[str, object], Plugin[Any, Any]]


@cache
def load_plugin(group: str, name: str, adapt: Adapter | None = None,
                settings_base: type[BaseModel] | None = None) -> Plugin[Any, Any]:
    """The descriptor registered as `name` in `group`, loaded once per process.

    UnknownPlugin if nothing is registered under that name. `adapt` turns an entry point
    that names something else (an old-style plugin class) into a descriptor, or raises
    PluginError; without it, anything but a `Plugin` is a PluginError. `settings_base`: the
    class the plug point's settings models must subclass (`SourceSettings`...), so the
    config section they validate always has what the plug point reads.
    """
    entry = _group(group).get(name)
    if entry is None:
        raise UnknownPlugin(group, name)
    loaded = entry.load()
    if not isinstance(loaded, Plugin):
        if adapt is None:
            raise PluginError(f"the {group} entry point {name!r} ({entry.value}) is a {type(loaded).__name__}, "
                              "not a monitor.plugins.Plugin")
        loaded = adapt(name, loaded)
    if loaded.name != name:
        raise PluginError(f"the {group} entry point {name!r} ({entry.value}) describes a plugin named {loaded.name!r}")
    if settings_base is not None and not issubclass(loaded.settings_model, settings_base):
        raise PluginError(f"the {group} plugin {name!r}: its settings model must subclass "
                          f"{settings_base.__module__}.{settings_base.__qualname__}")
    return loaded


def clear_plugin_cache() -> None:
    """Forget what was found, after installing or removing a plugin in a running process (tests)."""
    _entry_points.cache_clear()
    _group.cache_clear()
    load_plugin.cache_clear()
