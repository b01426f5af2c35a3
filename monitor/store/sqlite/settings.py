"""`store.path`: the SQLite store's file. Pydantic only, so the store registry can name it cheaply."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class SQLiteStoreSettings(BaseModel):
    """The settings model of the `sqlite` store (its registry descriptor names it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Path("earshot.db")  # relative to the config file; also what `earshot reindex` copies from
