"""`earshot themes`: what each brand's negative posts are usually about, as the detector remembers it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Emerging complaint themes: the usual themes each brand's detector state holds.",
                  no_args_is_help=True)


@app.command("list")
def list_themes(
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Config file.")] = None,
    brand: Annotated[str | None, typer.Option(help="Only this brand.")] = None,
    top: Annotated[int, typer.Option(min=1, help="Themes per brand, most frequent first.")] = 15,
) -> None:
    """Each brand's usual themes: name, usual posts an hour, first and last seen, last alert."""
    from rich.console import Console
    from rich.table import Table

    from monitor.cli import _load, _open_store
    from monitor.themes.state import ThemeState, state_key

    config = _load(config_path)
    brands = [b.name for b in config.brands if brand is None or b.name.casefold() == brand.casefold()]
    if not brands:
        raise typer.BadParameter(f"no brand named {brand!r} in the config", param_hint="--brand")
    store = _open_store(config)
    console = Console()
    try:
        for name in brands:
            raw = store.get_cursor(state_key(name))
            if raw is None:
                console.print(f"{name}: no themes learned yet (is 'themes' in detection.detectors?)")
                continue
            try:
                state = ThemeState.from_json(raw)
            except ValueError as exc:
                console.print(f"{name}: the stored theme state cannot be read ({exc}); the next run relearns it")
                continue
            table = Table(title=f"{name}: usual themes (encoder {state.model_id}, judged to "
                                f"{state.last_step:%Y-%m-%d %H:%M} UTC)" if state.last_step else name)
            for column in ("theme", "posts/h", "first seen", "last seen", "last alert"):
                table.add_column(column)
            for t in sorted(state.themes, key=lambda t: (-t.rate_per_hour, t.id))[:top]:
                table.add_row(t.name or "(no shared words)", f"{state.usual_rate(t):.2f}", f"{t.first_seen:%Y-%m-%d %H:%M}",
                              f"{t.last_seen:%Y-%m-%d %H:%M}",
                              f"{t.alerted_at:%Y-%m-%d %H:%M} {t.alerted_severity}" if t.alerted_at else "")
            console.print(table)
    finally:
        store.close()
