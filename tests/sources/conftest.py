"""Fixtures the platform tests in tests/sources share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """An empty SQLite store of the test's own (the suite-wide `store` holds the demo config's data)."""
    s = SQLiteStore(tmp_path / "earshot.db")
    yield s
    s.close()
