"""`earshot sources`: every installed source, whether the config enables it, whether it can run,
where it resumes, and how its last run went.

What a user types first after `earshot run` says "Listening to: replay" and they expected X:
the answer (not enabled, credentials missing, failing since 09:12 with HTTP 401) is one
command away. Reads the store only if it exists (listing never creates a database).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.store import Store

console = Console()
CURSOR_SHOWN = 40  # characters of a cursor shown (page tokens can be long)


def source_rows(config: Config, store: Store | None) -> list[dict[str, Any]]:
    """One row per installed or configured source, in a stable order: enabled ones first."""
    from monitor.health.monitor import HealthMonitor
    from monitor.pipeline import cursor_key
    from monitor.sources import available_sources
    from monitor.sources.registry import find_source

    names = sorted(set(available_sources()) | set(config.sources))
    monitor = HealthMonitor(config, store) if store is not None else None
    rows = []
    for name in names:
        settings = config.sources.get(name)
        enabled = bool(settings and settings.enabled)
        missing = settings.missing_credentials() if settings else []
        if settings is None:
            try:
                defaults = find_source(name).settings()
                needs = defaults.credentials_env
            except Exception:  # noqa: BLE001 - a source needing settings (feeds, apps) has no defaults
                needs = []
            configured = "no section in the config"
        elif missing and settings.airflow_conn_id:
            configured = f"in Airflow only: connection {settings.airflow_conn_id!r} ({', '.join(missing)} not set here)"
        elif missing:
            configured = f"missing {', '.join(missing)}"
        else:
            configured = "yes" if settings.live else "yes (a recording)"
        if settings is None and needs:
            configured += f"; needs {', '.join(needs)}"
        cursor = store.get_cursor(cursor_key(name)) if store is not None else None
        runs = monitor.runs(name) if monitor is not None else []
        last = runs[-1] if runs else None
        rows.append({
            "source": name,
            "enabled": enabled,
            "configured": configured,
            "cursor": cursor,
            "last_run": last.at.isoformat() if last else None,
            "last_run_ok": last.ok if last else None,
            "last_error": (last.error or None) if last and not last.ok else None,
        })
    rows.sort(key=lambda row: (not row["enabled"], row["source"]))
    return rows


def _when(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC") if iso else "never"


def print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("source", "enabled", "configured", "cursor", "last run")
    for row in rows:
        cursor = row["cursor"] or ""
        if len(cursor) > CURSOR_SHOWN:
            cursor = cursor[:CURSOR_SHOWN] + "…"
        if row["last_run"] is None:
            last = Text("never")
        elif row["last_run_ok"]:
            last = Text(f"{_when(row['last_run'])} ok", style="green")
        else:
            last = Text(f"{_when(row['last_run'])} failed: {row['last_error']}", style="red")
        table.add_row(Text(row["source"]), "yes" if row["enabled"] else "no", Text(row["configured"]),
                      Text(cursor), last)
    console.print(table, soft_wrap=True)
