"""`earshot replies`: which platforms the inbox can reply on, and for the others what to set.

The same check as the reply button's (monitor/replies/desk.py), for the operator setting up
credentials: no platform is called, and no credential value is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from monitor.config import default_config_path, load_config
from monitor.plugins import REPLIES_GROUP, installed

app = typer.Typer(help="Replying from the inbox: which platforms have write access.", no_args_is_help=False,
                  invoke_without_command=True)


@app.callback()
def replies(
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Config file (default as `earshot run`).")]
    = None,
) -> None:
    """List each reply platform: ready (credentials found), turned off, or what to set."""
    from monitor.replies.credentials import find_credentials
    from monitor.replies.desk import ReplyDesk

    config = load_config(config_path or default_config_path())
    desk = ReplyDesk(config)
    table = Table("source", "platform", "replies", "posts to", "max chars")
    for name in installed(REPLIES_GROUP):
        settings = desk.settings(name)
        if settings is None:
            continue
        found = find_credentials(settings)
        state = ("[yellow]turned off[/]" if not settings.enabled else "[green]ready[/]" if found.complete
                 else "[red]set " + ", ".join(found.missing) + "[/]")
        table.add_row(name, settings.platform, state, settings.base_url(config.sources.get(name)),
                      str(settings.max_chars))
    console = Console()
    console.print(table)
    console.print(f"{len(config.replies.saved)} saved replies configured.")
