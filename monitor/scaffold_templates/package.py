"""Template of `monitor/sources/<name>/__init__.py`: the plugin descriptor the entry point names."""

TEMPLATE = r'''"""The ${title} source. TODO(new-source): one line on what it reads.

| module | what |
|---|---|
| settings.py | `${cls}Settings` (`sources.${name}`), pydantic only |
| source.py | `${cls}Source`, the client |

`SOURCE` is what the `earshot.sources` entry point names: light to import (the config is
validated with its settings model), and its factory imports source.py only when it runs.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.${name}.settings import TOKEN_ENV, ${cls}Settings

__all__ = ["SOURCE", "TOKEN_ENV", "${cls}Settings"]

SOURCE = Plugin("${name}", ${cls}Settings, lazy("monitor.sources.${name}.source:${cls}Source.from_settings"))
'''
