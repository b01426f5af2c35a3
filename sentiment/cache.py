"""Earshot's cache directory and the one safe way to put something built into it.

The unpacked bundled model and the AFINN word lists are built on first use and shared by
every process on the machine (Airflow workers, the web app, the CLI), so each is built in a
temporary sibling and renamed into place: rename is atomic on one file system, so a reader
sees a complete directory or none, and the loser of a race discards its copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["cache_root", "install_dir"]


def cache_root() -> Path:
    """``$EARSHOT_CACHE`` if set (CI, containers with a read-only home), else ``~/.cache/earshot``."""
    env = os.environ.get("EARSHOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "earshot"


def install_dir(final: Path, build: Callable[[Path], None], complete: Callable[[Path], bool]) -> Path:
    """Return ``final``, first running ``build(tmp)`` and renaming ``tmp`` to it unless ``complete(final)``."""
    if complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        # mkdtemp (and some writers) create owner-only entries; a shared cache must be readable.
        for entry in tmp.iterdir():
            entry.chmod(0o644)
        tmp.chmod(0o755)
        if final.exists() and not complete(final):
            # A half-written directory can only come from outside this protocol; replace it.
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not complete(final):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
