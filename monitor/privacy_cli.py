"""`earshot forget`, `earshot purge` and `earshot erasures`: what Earshot must forget, from the terminal.

Registered in monitor/cli.py with one line (a nameless sub-app, so these are top-level
commands). The work is monitor/removals.py's; this module only parses, asks and prints.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

app = typer.Typer()

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Config file (as for `earshot run`).",
                                                   readable=False)]


def _actor(given: str | None) -> str:
    return (given or getpass.getuser() or "unknown").strip() or "unknown"


@app.command()
def forget(
    handle: Annotated[str, typer.Argument(help="The author's handle on the platform, e.g. @ana_sousa.")],
    source: Annotated[str | None, typer.Option(help="Only this source's posts (x, reddit, ...); default: all.")] = None,
    reason: Annotated[str, typer.Option(help="Why, for the audit log (e.g. the request's ticket).")] = "erasure request",
    actor: Annotated[str | None, typer.Option(help="Who asked for it, for the audit log; default: your login.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Erase one author's posts (the right to erasure): text, author and URL purged, an audit entry kept."""
    from monitor.cli import _fail, _load, _open_store, console
    from monitor.removals import forget_author

    cfg = _load(config)
    if not handle.strip().removeprefix("@"):
        _fail("give the author's handle, e.g. `earshot forget @ana_sousa`")
    where = f" on {source}" if source else ""
    store = _open_store(cfg)
    try:
        found = store.mention_ids_by_author(handle.strip(), source)
        if found and not yes and not typer.confirm(f"Erase {len(found)} post(s) by {handle}{where}?"):
            raise typer.Exit(1)
        entry = forget_author(store, handle, datetime.now(UTC), source=source, actor=_actor(actor), reason=reason)
    finally:
        store.close()
    console.print(f"Erased {entry.mentions} post(s) by {escape_handle(handle)}{where}; audit entry {entry.id}.")


@app.command()
def purge(config: ConfigOption = None) -> None:
    """Enforce retention_days now: delete mentions and snapshots older than it (the pipeline does this too)."""
    from monitor.cli import _load, _open_store, console
    from monitor.removals import purge_expired, retention_days

    cfg = _load(config)
    days = retention_days(cfg)
    store = _open_store(cfg)
    try:
        mentions, snapshots = purge_expired(store, days, datetime.now(UTC))
    finally:
        store.close()
    if days is None:
        console.print("retention_days is not set: everything is kept.")
    else:
        console.print(f"Purged {mentions} mention(s) and {snapshots} snapshot(s) older than {days} days.")


@app.command()
def erasures(limit: Annotated[int, typer.Option(min=1)] = 50, config: ConfigOption = None) -> None:
    """The erasure audit log: removals, retention purges and erasure requests, newest first."""
    from monitor.cli import _load, _open_store, console

    store = _open_store(_load(config))
    try:
        entries = store.erasures(limit)
    finally:
        store.close()
    table = Table("at", "action", "subject", "mentions", "snapshots", "actor", "reason")
    for e in entries:
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.action, e.subject, str(e.mentions), str(e.snapshots),
                      e.actor, e.reason)
    console.print(table)


def escape_handle(handle: str) -> str:
    from rich.markup import escape

    return escape(handle)
