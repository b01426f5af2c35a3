"""Sources are plugins, found through the `earshot.sources` entry-point group.

Earshot registers its own sources in pyproject.toml; a third-party package adds one by
registering a class in the same group. A source class needs a `name`, `fetch`,
`refresh` (the `Source` protocol) and a `from_config(config)` constructor.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from monitor.config import Config
from monitor.sources.base import Batch, Problem, Source, SourceError

__all__ = ["Batch", "Problem", "Source", "SourceError", "available_sources", "create_source"]

GROUP = "earshot.sources"


def available_sources() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def create_source(name: str, config: Config) -> Source:
    matches = entry_points(group=GROUP, name=name)
    if not matches:
        known = ", ".join(available_sources()) or "none"
        raise SourceError(
            f"sources.{name}: no source plugin named {name!r} is installed (installed: {known})"
        )
    cls = next(iter(matches)).load()
    return cls.from_config(config)
