"""The `earshot` command line: run the pipeline, serve the UI, check a config."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from monitor.config import Config, ConfigError, default_config_path, load_config

app = typer.Typer(
    help="Earshot: hear a customer's complaint before it snowballs.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c",
        help="Config file (default: $EARSHOT_CONFIG, else ./earshot.yaml, else the bundled demo).",
    ),
]


def _load(path: Path | None) -> Config:
    path = path or default_config_path()
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]Config error[/red] {exc}")
        raise typer.Exit(2) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class _Bars:
    """Adapts the pipeline's (done, total) progress callbacks to rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, label: str):
        task = self.progress.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            self.progress.update(task, completed=done, total=total)

        return update


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True,
    )


def _one_pass(config: Config, store, sources: list[str], quiet_if_idle: bool = False) -> None:
    """One pipeline pass with progress bars; `quiet_if_idle` keeps a watching terminal readable."""
    from monitor import pipeline

    with _progress() as progress:
        summary = pipeline.run_once(config, store, sources=sources, progress=_Bars(progress))
    for problem in summary.problems:
        err.print(f"[yellow]skipped[/yellow] {problem}")
    idle = not (summary.scored or summary.alerts or summary.delivery.failed or any(
        s.new_mentions or s.updated_mentions or s.new_snapshots for s in summary.ingested))
    if quiet_if_idle and idle:
        return
    for stats in summary.ingested:
        console.print(
            f"{stats.source}: {stats.new_mentions} new mention(s), {stats.updated_mentions} updated, "
            f"{stats.new_snapshots} engagement snapshot(s)"
        )
    console.print(f"sentiment: {summary.scored} mention(s) scored")
    console.print(f"alerts: {len(summary.alerts)} new")
    for channel, error in summary.delivery.failed.items():
        err.print(f"[yellow]alert channel {channel} failed, alerts kept for the next run:[/yellow] {error}")


def _sources(config: Config) -> list[str]:
    from monitor.pipeline import active_sources

    for name, cfg in config.live_sources().items():
        if missing := cfg.missing_credentials():
            err.print(
                f"[yellow]sources.{name} is enabled but {', '.join(missing)} is not set;"
                f" it is skipped until the credentials are in the environment[/yellow]"
            )
    sources = active_sources(config)
    if not sources:
        err.print("[red]No source to read:[/red] enable sources.replay or a live source in the config.")
        raise typer.Exit(2)
    console.print(f"Listening to: {', '.join(sources)}")
    return sources


@app.command()
def run(
    config_path: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit (for scripts).")] = False,
    serve: Annotated[bool, typer.Option(help="Serve the web UI while running.")] = True,
    interval: Annotated[float, typer.Option(help="Seconds between passes (default: the fastest source's poll interval).")] = 0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the pipeline: ingest -> sentiment -> spread detection -> alerts -> store, and serve the UI."""
    from monitor.sources import SourceError
    from monitor.store import open_store

    from monitor.alerts import build_channels

    _logging(verbose)
    config = _load(config_path)
    sources = _sources(config)
    try:
        build_channels(config)  # fail now, naming the missing variable, not after the first pass
    except ConfigError as exc:
        err.print(f"[red]Alert channel error[/red] {exc}")
        raise typer.Exit(2) from None
    store = open_store(config)
    console.print(f"Store: {_describe_store(config)}")
    try:
        _one_pass(config, store, sources)
    except SourceError as exc:
        err.print(f"[red]Source failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if once:
        console.print(f"Done. {store.count_mentions()} mention(s) stored, {len(store.alerts())} alert(s) in total.")
        return

    if serve:
        _serve_in_background(config, store)
    if not interval:
        live = [cfg.poll_seconds for name, cfg in config.live_sources().items() if name in sources]
        interval = float(min(live)) if live else 5.0
    console.print(f"Watching for new posts every {interval:g}s. Ctrl+C to stop.")
    try:
        while True:
            time.sleep(interval)
            try:
                _one_pass(config, store, sources, quiet_if_idle=True)
            except SourceError as exc:
                # A platform outage must not take the UI down; the next pass retries from the saved cursor.
                err.print(f"[red]Source failed, retrying next pass:[/red] {exc}")
    except KeyboardInterrupt:
        console.print("Stopped.")


def _serve_in_background(config: Config, store) -> None:
    import uvicorn
    from rich.markup import escape

    from monitor.web.app import create_app
    from monitor.web.auth import redact_access_log

    web_app = create_app(config, store)
    redact_access_log()
    server = uvicorn.Server(
        uvicorn.Config(web_app, host=config.web.host, port=config.web.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    if not server.started:
        err.print(f"[red]Could not serve the UI on {config.web.host}:{config.web.port}[/red] (port in use?)")
        raise typer.Exit(1)
    # With no token configured, the link carries the one made for this run (shown nowhere else).
    url = web_app.state.auth.login_url(config.web.host, config.web.port)
    console.print(f"[bold green]Earshot UI: {escape(url)}[/bold green]", soft_wrap=True)  # never break the URL


@app.command("serve")
def serve_cmd(
    config_path: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Override web.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override web.port.")] = None,
) -> None:
    """Serve the web UI and JSON API over the configured store (no ingestion)."""
    import uvicorn
    from rich.markup import escape

    from monitor.web.app import create_app
    from monitor.web.auth import redact_access_log

    config = _load(config_path)
    host = host or config.web.host
    port = port or config.web.port
    web_app = create_app(config)
    # With no token configured, the link carries the one made for this run (shown nowhere else).
    url = web_app.state.auth.login_url(host, port)
    console.print(f"[bold green]Earshot UI: {escape(url)}[/bold green]", soft_wrap=True)  # never break the URL
    redact_access_log()
    uvicorn.run(web_app, host=host, port=port, log_level="warning")


@app.command("check-config")
def check_config(config_path: Annotated[Path | None, typer.Argument(help="Config file to validate.")] = None) -> None:
    """Validate a config file; exits 2 with the offending keys named if it is wrong."""
    path = config_path or default_config_path()
    config = _load(path)
    console.print(f"[green]OK[/green] {path}")
    console.print(f"  brands: {', '.join(b.name for b in config.brands)}")
    for name, cfg in config.enabled_sources().items():
        missing = cfg.missing_credentials()
        note = f" [yellow](missing in environment: {', '.join(missing)})[/yellow]" if missing else ""
        console.print(f"  source {name}: enabled{note}")
    console.print(f"  sentiment model: {config.sentiment.model}")
    console.print(f"  store: {_describe_store(config)}")
    for channel in config.alerts.channels:
        missing = channel.missing_secrets()
        note = f" [yellow](missing in environment: {', '.join(missing)})[/yellow]" if missing else ""
        console.print(f"  alert channel {channel.type}{note}")


@app.command("new-source")
def new_source(
    name: Annotated[str, typer.Argument(help="Plugin name: lowercase letters, digits, underscores (e.g. rss).")],
    root: Annotated[Path | None, typer.Option(help="Earshot checkout to write into (default: the one around the cwd).")] = None,
    class_name: Annotated[str | None, typer.Option(help="Source class name (default: derived from NAME).")] = None,
) -> None:
    """Scaffold a source plugin: module, fake API server, contract harness and entry point."""
    from rich.markup import escape

    from monitor import scaffold

    try:
        result = scaffold.new_source(name, root or scaffold.find_root(Path.cwd()), class_name=class_name)
    except scaffold.ScaffoldError as exc:
        err.print(f"[red]Nothing generated:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    typer.echo(scaffold.next_steps(result))


from sentiment.cli import app as sentiment_app  # noqa: E402 - light: loads no model at import

app.add_typer(sentiment_app, name="sentiment", help="Evaluate, try and inspect the sentiment model.")

index_app = typer.Typer(help="Elasticsearch: index templates and ILM policy.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("setup")
def index_setup(config_path: ConfigOption = None) -> None:
    """Create or update Earshot's index templates, ILM policy and indices in Elasticsearch (idempotent)."""
    from elasticsearch import ConnectionError as EsConnectionError

    from monitor.indexing import setup_from_config
    from monitor.store.es_client import ElasticsearchConfigError

    config = _load(config_path)
    try:
        report = setup_from_config(config)
    except (ElasticsearchConfigError, EsConnectionError) as exc:
        err.print(f"[red]Elasticsearch:[/red] {exc}")
        raise typer.Exit(2) from None
    for line in report.lines():
        console.print(line)


@app.command()
def reindex(
    config_path: ConfigOption = None,
    sqlite: Annotated[Path | None, typer.Option("--from", help="SQLite file to copy (default: store.path).")] = None,
) -> None:
    """Copy a SQLite store into the Elasticsearch store of the config (store.elasticsearch); safe to run again."""
    from monitor.indexing import reindex_from_config

    config = _load(config_path)
    with _progress() as progress:
        report = reindex_from_config(config, sqlite, progress=_Bars(progress))
    for line in report.lines():
        (console if report.ok else err).print(line)
    if not report.ok:
        raise typer.Exit(1)


def _describe_store(config: Config) -> str:
    if config.store.backend == "elasticsearch":
        from monitor.store.es_client import describe

        return describe(config.store.elasticsearch)
    return f"sqlite at {config.resolve(config.store.path)}"


if __name__ == "__main__":
    app()
