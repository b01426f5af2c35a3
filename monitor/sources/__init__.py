"""Sources are plugins, found through the `earshot.sources` entry-point group.

Each entry point names a light descriptor (`monitor.plugins.Plugin`): the source's name,
its settings model and a factory that imports the platform SDK only when it builds the
source (registry.py). Earshot registers its own sources in pyproject.toml; a third-party
package adds one by registering its descriptor in the same group (docs/adding-a-source.md).

| module | what |
|---|---|
| base.py | the `Source` protocol (`name`, `fetch`, `refresh`), `Batch`, `Problem`, `SourceError` |
| registry.py | finding and building sources: `find_source`, `create_source`, `SourceContext` |
| credentials.py, retries.py, cursors.py | what every source uses: secrets, retries, newest-first cursors |
| reviews.py | what the two app-store review sources share: the newest-first scan per app stream |
| replay.py, x/, reddit/, googleplay/, appstore/, bluesky/, mastodon/, rss/ | the sources |

Each source package keeps its descriptor and settings (pydantic only) in `__init__.py` and
`settings.py`, and the platform client in `source.py`.
"""

from __future__ import annotations

from monitor.sources.base import Batch, PermanentSourceError, Problem, Source, SourceError
from monitor.sources.registry import SourceContext, available_sources, create_source, find_source

__all__ = [
    "Batch", "PermanentSourceError", "Problem", "Source", "SourceContext", "SourceError", "available_sources", "create_source",
    "find_source",
]
