"""A third-party package installed the way Python sees one, for the plugin tests (no tests in here).

A `*.dist-info` directory with `METADATA` and `entry_points.txt`, next to the package's
modules, on `sys.path`: `importlib.metadata` (and so Earshot's plugin registry) reads it
exactly as it reads an installed distribution, so nothing is pip-installed into the venv.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from monitor.plugins import clear_plugin_cache


def write_distribution(site: Path, name: str, entry_points: str, modules: Mapping[str, str] | None = None) -> None:
    """`name`'s metadata, its entry points (`entry_points.txt` text) and `modules` ({module name: source}) in `site`."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(source)


@contextmanager
def installed_distribution(site: Path, monkeypatch: pytest.MonkeyPatch, name: str, entry_points: str,
                           modules: Mapping[str, str]) -> Iterator[Path]:
    """The distribution on `sys.path` for the duration, the plugin cache cleared before and after."""
    write_distribution(site, name, entry_points, modules)
    monkeypatch.syspath_prepend(str(site))
    clear_plugin_cache()
    try:
        yield site
    finally:
        for module in modules:
            sys.modules.pop(module, None)
        clear_plugin_cache()
