"""The `earshot` command line: run the pipeline, serve the UI, check a config."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from monitor.config import Config, ConfigError, data_home, default_config_path, demo_config_path, load_config

if TYPE_CHECKING:  # the CLI imports the pipeline and stores only in the commands that use them
    from monitor.health.runner import SupervisedPass
    from monitor.sources import Problem
    from monitor.store import Quarantined, Store
    from monitor.workers import LocalPool

console = Console()
err = Console(stderr=True)


# -- the error boundary ----------------------------------------------------------------
#
# Bad input (a broken config, an unusable data directory, a full disk) ends in one line
# per problem naming the file, key or value and what to do, and exit code 2. Only the
# kinds of error listed here are translated; anything else is a bug and keeps its traceback.


@dataclass(frozen=True)
class _Where:
    """What the running command works on, so an error can name the file and the setting to change."""

    config: Path | None = None
    explicit: bool = False  # the config was named with --config (so hints repeat it)
    db: Path | None = None  # the SQLite file, when the store is one
    setting: str = "the path in the config"  # what the user edits to move the data elsewhere

    def covers(self, path: Path) -> bool:
        """Whether `path` is the database, one of its side files (-wal, -shm) or a directory on its way."""
        if self.db is None:
            return False
        return path == self.db or path in self.db.parents or (
            path.parent == self.db.parent and path.name.startswith(self.db.name))


_where: ContextVar[_Where] = ContextVar("earshot_where", default=_Where())


def _fail(message: str) -> NoReturn:
    """Print each line of `message` as one unwrapped `error:` line and exit 2 (bad input)."""
    for line in message.splitlines():
        err.print(f"[red]error:[/red] {escape(line)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def explain(exc: BaseException, where: _Where) -> str | None:
    """The message for a known kind of bad input, or None: then `exc` is a bug and must propagate."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, sqlite3.DatabaseError):
        return _explain_sqlite(exc, where)
    if isinstance(exc, OSError):
        return _explain_os(exc, where)
    return None


# (kind, SQLite result-code name prefixes, message fragments): the name is what a real error
# carries; the fragments catch errors raised by hand (tests) or by older Pythons without it.
_SQLITE_KINDS = (
    ("full", ("SQLITE_FULL",), ("database or disk is full",)),
    ("notadb", ("SQLITE_NOTADB",), ("file is not a database",)),
    ("corrupt", ("SQLITE_CORRUPT",), ("database disk image is malformed",)),
    ("cantopen", ("SQLITE_CANTOPEN",), ("unable to open database file",)),
    ("readonly", ("SQLITE_READONLY", "SQLITE_PERM"), ("readonly database",)),
    ("busy", ("SQLITE_BUSY", "SQLITE_LOCKED"), ("database is locked", "database table is locked")),
    ("ioerr", ("SQLITE_IOERR",), ("disk i/o error",)),
)

_SQLITE_MESSAGES = {
    "full": "{db}: the disk is full; free space on {dir} (or move {setting} to a bigger disk) and run again",
    "notadb": "{db}: not an SQLite database; move the file away or point {setting} at another file",
    "corrupt": "{db}: the database is corrupt; restore it from a backup, or move it away to start afresh",
    "cantopen": "{db}: cannot open the database; make {dir} writable by this user, or point {setting} elsewhere",
    "readonly": "{db}: the database is read-only; make it and {dir} writable by this user",
    "busy": "{db}: locked by another process for too long; stop the other earshot using it, or wait and run again",
    "ioerr": "{db}: disk I/O error; check the disk under {dir} and that it has free space",
}


def _sqlite_kind(exc: sqlite3.DatabaseError) -> str | None:
    """Which user-fixable database failure this is, if any."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    text = str(exc).lower()
    for kind, names, fragments in _SQLITE_KINDS:
        if (name and name.startswith(names)) or any(fragment in text for fragment in fragments):
            return kind
    return None  # a malformed query, a missing table: a bug, not the user's database


def _explain_sqlite(exc: sqlite3.DatabaseError, where: _Where) -> str | None:
    """SQLite never names its file; the message names the one the command opened."""
    kind = _sqlite_kind(exc)
    if kind is None:
        return None
    db = where.db or "the database"
    folder = where.db.parent if where.db else "its directory"
    return _SQLITE_MESSAGES[kind].format(db=db, dir=folder, setting=where.setting)


def _blocking_file(path: Path) -> Path | None:
    """The first existing non-directory among `path` and its parents: what stops a mkdir."""
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def _explain_os(exc: OSError, where: _Where) -> str | None:
    """Known file-system failures, by errno; an OSError without a file (a socket reset) is not one."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        target = Path(exc.filename) if exc.filename else where.db  # a write without a name: the store's
        if target is None:
            return "no space left on the device; free space on the disk holding Earshot's data and run again"
        return f"{target}: no space left on the device; free space on {target.parent} and run again"
    if not exc.filename:
        return None
    path = Path(exc.filename)
    elsewhere = f", or point {where.setting} elsewhere" if where.covers(path) else ""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{path}: permission denied; give this user access to it (chmod/chown){elsewhere}"
    if exc.errno == errno.EROFS:
        return f"{path}: on a read-only file system; use a writable location{elsewhere}"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and (blocker := _blocking_file(path)):
        return f"{blocker} is a file, not a directory; move it away{elsewhere}"
    if exc.errno == errno.EISDIR:
        return f"{path} is a directory where a file was expected; give the path of a file{elsewhere}"
    if exc.errno == errno.ENOENT:
        return f"{path}: no such file or directory; check the path{elsewhere}"
    return None


class _Boundary(typer.core.TyperGroup):
    """The CLI's one error boundary, around every command and sub-command."""

    def invoke(self, ctx: typer.Context) -> Any:
        token = _where.set(_Where())
        try:
            return super().invoke(ctx)
        except (ConfigError, OSError, sqlite3.DatabaseError) as exc:
            message = explain(exc, _where.get())
            if message is None:
                raise
            _fail(message)
        finally:
            _where.reset(token)


app = typer.Typer(
    cls=_Boundary,
    help="Earshot: hear a customer's complaint before it snowballs.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"earshot {version('earshot')}")
        except PackageNotFoundError:
            typer.echo("earshot (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Earshot: hear a customer's complaint before it snowballs."""

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c",
        help="Config file (default: $EARSHOT_CONFIG, else ./earshot.yaml, else the bundled demo).",
        readable=False,  # load_config says why a file cannot be read, and what to do, on one line
    ),
]


def _load(path: Path | None) -> Config:
    """Load the config and remember where its data lives, for the error boundary's messages."""
    explicit = path is not None
    from_env = not explicit and bool(os.environ.get("EARSHOT_CONFIG"))
    path = path or default_config_path()
    _where.set(_Where(config=path, explicit=explicit))
    try:
        config = load_config(path)
    except ConfigError as exc:
        if from_env:  # the user may not remember setting it
            raise ConfigError("\n".join(f"$EARSHOT_CONFIG: {line}" for line in str(exc).splitlines())) from None
        raise
    _where.set(_where_for(config, path, explicit))
    return config


def _where_for(config: Config, path: Path, explicit: bool) -> _Where:
    """Where this config keeps its SQLite file, and which setting moves it."""
    is_demo = path.resolve() == demo_config_path().resolve() and config.base_dir == data_home()
    # The demo keeps its data under $EARSHOT_HOME; any other config under its own store.path.
    setting = "$EARSHOT_HOME" if is_demo else f"store.path in {path}"
    db = config.resolve(config.store.path) if config.store.backend == "sqlite" else None
    return _Where(config=path, explicit=explicit, db=db, setting=setting)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class _Bars:
    """Adapts the pipeline's (done, total) progress callbacks to rich progress bars."""

    def __init__(self, progress: Progress | _LazyProgress) -> None:
        self.progress = progress

    def __call__(self, label: str):
        bars = self.progress.start_bars() if isinstance(self.progress, _LazyProgress) else self.progress
        if bars is None:  # not a terminal: no bars (a log file gets the summary lines only)
            return lambda done, total: None
        task = bars.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bars.update(task, completed=done, total=total)

        return update


class _LazyProgress:
    """Progress bars shown only once there is progress to show, and only on a terminal.

    A watching `earshot run` passes every few seconds; a live display started and stopped
    each time would leave an empty line per pass in a log (and flicker on a terminal).
    """

    def __init__(self) -> None:
        self.bars: Progress | None = None

    def start_bars(self) -> Progress | None:
        if self.bars is None and console.is_terminal:
            self.bars = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console, transient=True,
            )
            self.bars.start()
        return self.bars

    def __enter__(self) -> _LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.stop()


def _progress() -> _LazyProgress:
    return _LazyProgress()


def _one_pass(config: Config, store, sources: list[str], channels, quiet_if_idle: bool = False,
              pool: LocalPool | None = None) -> SupervisedPass:
    """One supervised pass with progress bars; `stopped` in the result: failures retrying cannot fix.

    `quiet_if_idle` keeps a watching terminal readable: a pass that found nothing prints nothing.
    """
    from monitor.health.runner import supervised_pass

    with _progress() as progress:
        result = supervised_pass(config, store, sources, channels, progress=_Bars(progress), pool=pool)
    summary = result.summary
    _report_problems(summary.problems)
    for name, error in result.failed.items():
        err.print(f"[red]Source {escape(name)} failed, retrying next pass:[/red] {escape(error)}", soft_wrap=True)
    for name, error in result.stopped.items():
        err.print(f"[red]Source {escape(name)} stopped; retrying cannot fix this:[/red] {escape(error)}",
                  soft_wrap=True)
    idle = not (summary.scored or summary.alerts or summary.delivery.failed or result.health or any(
        s.new_mentions or s.updated_mentions or s.new_snapshots for s in summary.ingested))
    if quiet_if_idle and idle:
        return result
    for stats in summary.ingested:
        console.print(
            f"{stats.source}: {stats.new_mentions} new mention(s), {stats.updated_mentions} updated, "
            f"{stats.new_snapshots} engagement snapshot(s)"
        )
    console.print(f"sentiment: {summary.scored} mention(s) scored")
    if summary.noise is not None and summary.noise.judged:
        n = summary.noise
        console.print(f"noise: {n.judged} mention(s) checked; {n.duplicates} copied an earlier post (linked to it, no"
                      f" alert of their own); {n.spam + n.reflagged} flagged as spam", soft_wrap=True)
    console.print(f"alerts: {len(summary.alerts)} new" + (f", {len(result.health)} pipeline-health"
                                                          if result.health else ""))
    if held := max(summary.delivery.held_as_spam.values(), default=0):
        console.print(f"spam: {held} alert(s) on posts flagged as spam kept out of the channels (see the inbox)")
    for channel, error in summary.delivery.failed.items():
        err.print(f"[yellow]alert channel {channel} failed, alerts kept for the next run:[/yellow] {error}",
                  soft_wrap=True)
    return result


def _report_problems(problems: list[Problem]) -> None:
    """Say what input was set aside for good (and where to see it) apart from what is retried."""
    for problem in problems:
        if problem.transient:
            err.print(f"[yellow]skipped[/yellow] {escape(str(problem))} (fetched again next run)", soft_wrap=True)
        else:
            err.print(f"[yellow]quarantined[/yellow] {escape(str(problem))}", soft_wrap=True)
    if kept := sum(not p.transient for p in problems):
        err.print(f"{kept} record(s) set aside; `{escape(_quarantine_command())}` lists them with their raw start",
                  soft_wrap=True)


def _quarantine_command() -> str:
    """The command to see the quarantine, repeating --config when the run was given one."""
    where = _where.get()
    return f"earshot quarantine -c {where.config}" if where.explicit and where.config else "earshot quarantine"


def _sources(config: Config, only: list[str] | None = None) -> list[str]:
    """The sources to read (all active ones, or those named with --source), checked before any pass."""
    from monitor.pipeline import active_sources

    if only:
        sources = _named_sources(config, only)
    else:
        _warn_missing_credentials(config)
        sources = active_sources(config)
    if not sources:
        _fail(f"{_where.get().config}: no source to read; enable sources.replay, or a live source with its "
              f"credentials in the environment")
    _check_source_files(config, sources)
    console.print(f"Listening to: {', '.join(sources)}")
    return sources


def _warn_missing_credentials(config: Config) -> None:
    """A live source without credentials is skipped, not fatal: the others (or the replay) still run."""
    for name, cfg in config.live_sources().items():
        if missing := cfg.missing_credentials():
            err.print(
                f"[yellow]sources.{name} is enabled but {', '.join(missing)} is not set;"
                f" it is skipped until the credentials are in the environment[/yellow]"
            )


def _named_sources(config: Config, names: list[str]) -> list[str]:
    """`--source` names, each an enabled source with its credentials; a wrong one is bad input."""
    enabled = config.enabled_sources()
    for name in names:
        if name not in enabled:
            _fail(f"--source {name}: not an enabled source in {_where.get().config}; "
                  f"enabled: {', '.join(enabled) or 'none'}")
        if missing := enabled[name].missing_credentials():
            _fail(f"--source {name}: its credentials are not set; export {', '.join(missing)} first")
    return list(dict.fromkeys(names))


def _check_source_files(config: Config, sources: list[str]) -> None:
    """A recording the config names must exist: that is a wrong path (exit 2), not an outage (exit 1)."""
    for name in sources:
        for key, path in config.sources[name].input_files().items():
            full = config.resolve(path)
            setting = f"sources.{name}.{key} in {_where.get().config}"
            if full.is_dir():
                _fail(f"{full}: a directory, not a file ({setting}); point it at the recording itself")
            if not full.exists():
                _fail(f"{full}: no such file ({setting}); fix the path")


def _open_store(config: Config) -> Store:
    """The configured store; a backend that cannot be used (a missing extra) is a config problem."""
    from monitor.store import open_store

    try:
        return open_store(config)
    except ValueError as exc:  # raised by open_store itself, naming the store.* key
        _fail(f"{_where.get().config}: {exc}")


@app.command()
def run(
    config_path: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit (for scripts).")] = False,
    serve: Annotated[bool, typer.Option(help="Serve the web UI while running.")] = True,
    interval: Annotated[float | None, typer.Option(
        min=1, help="Seconds between passes (default: the fastest source's poll interval).")] = None,
    source: Annotated[list[str] | None, typer.Option(
        "--source", "-s", help="Read only this source (repeatable; default: every active one).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64,
        help="Processes at once, this one included: noise and detection beside scoring (scale.workers).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the pipeline: ingest -> sentiment -> spread detection -> alerts -> store, and serve the UI."""
    from monitor.pipeline import alert_channels

    _logging(verbose)
    config = _load(config_path)
    if workers is not None:
        config.scale.workers = workers
    sources = _sources(config, source)
    try:
        channels = alert_channels(config)  # fail now, naming the missing variable, not after the first pass
    except ConfigError as exc:
        _fail(f"alert channel: {exc}")
    store = _open_store(config)
    console.print(f"Store: {_describe_store(config)}")
    for brand in config.brands:  # what is listened for, as the query reads (`earshot query test` tries it)
        console.print(f"Brand {escape(brand.name)}: {escape(brand.compiled.normalised)}", highlight=False, soft_wrap=True)
    # Claim the UI's port before the first pass, so a taken port is reported at once.
    sock = _listen(config.web.host, config.web.port, "web.port in the config") if serve and not once else None
    with _local_pool(config) as pool:
        try:
            _run(config, store, sources, channels, once, sock, interval, pool)
        except KeyboardInterrupt:
            # Ctrl+C, in a pass or between passes. Each step stores what it finishes as it goes (a batch
            # with its cursor, scores, alerts with their deliveries due), so nothing done is lost. For
            # `--once` it is an unfinished run (exit 130, as a shell reports Ctrl+C); watching, the way to stop.
            console.print("Stopped. What was stored is kept; the next run goes on from there.")
            raise typer.Exit(130 if once else 0) from None


def _local_pool(config: Config) -> contextlib.AbstractContextManager[LocalPool | None]:
    """One pool of worker processes for every pass of this run (monitor/workers.py), or none."""
    from monitor.workers import LocalPool, can_use_processes

    if config.scale.workers > 1 and can_use_processes():
        return LocalPool(config, config.scale.workers)
    return contextlib.nullcontext()


def _run(config: Config, store, sources: list[str], channels, once: bool, sock: socket.socket | None,
         interval: float | None, pool: LocalPool | None) -> None:
    first = _one_pass(config, store, sources, channels, pool=pool)
    sources = [s for s in sources if s not in first.stopped]
    if once:
        alerts = sum(store.count_alerts_by_state().values())  # all of them: alerts() pages
        console.print(f"Done. {store.count_mentions()} mention(s) stored, {alerts} alert(s) in total.")
        if first.stopped or first.failed:
            raise typer.Exit(1)
        return
    if not sources:
        err.print("[red]No source left to read; fix the errors above and start again.[/red]")
        raise typer.Exit(1)

    if sock is not None:
        _serve_in_background(config, store, sock)
    if interval is None:
        live = [cfg.poll_seconds for name, cfg in config.live_sources().items() if name in sources]
        interval = float(min(live)) if live else 5.0
    console.print(f"Watching for new posts every {interval:g}s. Ctrl+C to stop.")
    while sources:
        time.sleep(interval)
        # A platform outage must not take the UI down: a failing source is retried next pass.
        stopped = _one_pass(config, store, sources, channels, quiet_if_idle=True, pool=pool).stopped
        sources = [s for s in sources if s not in stopped]
    err.print("[red]No source left to read; fix the errors above and restart. The UI keeps serving.[/red]")
    while True:
        time.sleep(3600)


def _listen(host: str, port: int, setting: str) -> socket.socket:
    """Bind the UI's socket up front, so a taken port is one clear line rather than a server log and exit 1.

    `setting` says how this command lets the user pick another port.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        _fail(f"web.host {host}: not a name or address of this machine; use e.g. 127.0.0.1 or 0.0.0.0")
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        _fail(_bind_problem(host, port, exc, setting))
    return sock


def _bind_problem(host: str, port: int, exc: OSError, setting: str) -> str:
    """A failed bind in the user's terms: whose port it is and which setting moves it."""
    if exc.errno == errno.EADDRINUSE:
        return f"{host}:{port} is already in use; stop what is serving there or pick another port ({setting})"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{host}:{port}: permission denied (ports below 1024 are privileged); pick a higher port ({setting})"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host}: not an address of this machine; set web.host to one of its addresses, or 0.0.0.0"
    return f"{host}:{port}: cannot listen there ({exc.strerror}); pick another address or port ({setting})"


def _serve_in_background(config: Config, store: Store, sock: socket.socket) -> None:
    import uvicorn

    from monitor.web.app import create_app
    from monitor.web.auth import redact_access_log

    web_app = create_app(config, store)
    redact_access_log()
    server = uvicorn.Server(
        uvicorn.Config(web_app, host=config.web.host, port=config.web.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    if not server.started:  # the port is ours (bound above): this is the app failing to start, not bad input
        err.print(f"[red]Could not start the UI on {config.web.host}:{config.web.port}[/red]")
        raise typer.Exit(1)
    # With no token configured, the link carries the one made for this run (shown nowhere else).
    url = web_app.state.auth.login_url(config.web.host, config.web.port)
    console.print(f"[bold green]Earshot UI: {escape(url)}[/bold green]", soft_wrap=True)  # never break the URL


@app.command("serve")
def serve_cmd(
    config_path: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Override web.host.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Override web.port.")] = None,
) -> None:
    """Serve the web UI and JSON API over the configured store (no ingestion)."""
    import uvicorn

    from monitor.web.app import create_app
    from monitor.web.auth import redact_access_log

    config = _load(config_path)
    host = host or config.web.host
    port = port or config.web.port
    sock = _listen(host, port, "--port N, or web.port in the config")
    web_app = create_app(config)
    # With no token configured, the link carries the one made for this run (shown nowhere else).
    url = web_app.state.auth.login_url(host, port)
    console.print(f"[bold green]Earshot UI: {escape(url)}[/bold green]", soft_wrap=True)  # never break the URL
    redact_access_log()
    server = uvicorn.Server(uvicorn.Config(web_app, host=host, port=port, log_level="warning"))
    server.run(sockets=[sock])
    if not server.started:  # uvicorn.run's own check: the app failed to start (logged above)
        raise typer.Exit(1)


@app.command("check-config")
def check_config(
    config_path: Annotated[Path | None, typer.Argument(help="Config file to validate.", readable=False)] = None,
) -> None:
    """Validate a config file; exits 2 with the offending keys named if it is wrong."""
    config = _load(config_path)
    path = _where.get().config
    console.print(f"[green]OK[/green] {path}")
    console.print(f"  brands: {', '.join(b.name for b in config.brands)}")
    _query_report(config)
    from monitor.credential_sources import describe

    for name, cfg in config.enabled_sources().items():
        missing = cfg.missing_credentials()
        note = f" [yellow](missing in environment: {', '.join(missing)})[/yellow]" if missing else ""
        console.print(f"  source {name}: enabled{note}", soft_wrap=True)
        for line in describe(name, cfg):
            console.print(f"    credentials: {escape(line)}", soft_wrap=True, highlight=False)
    console.print(f"  sentiment model: {config.sentiment.model}")
    console.print(f"  store: {_describe_store(config)}")
    for channel in config.alerts.channels:
        missing = channel.missing_secrets()
        note = f" [yellow](missing in environment: {', '.join(missing)})[/yellow]" if missing else ""
        console.print(f"  alert channel {channel.type}{note}")


@app.command("sources")
def sources_cmd(
    config_path: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the sources: enabled or not, configured (credentials), where each resumes, its last run."""
    from monitor.sources_cli import print_rows, source_rows

    config = _load(config_path)
    db = _where.get().db
    store = None if db is not None and not db.exists() else _open_store(config)  # listing creates nothing
    try:
        print_rows(source_rows(config, store), as_json)
    finally:
        if store is not None:
            store.close()


def _query_report(config: Config) -> None:
    from monitor.query.cli import check_brands

    lines, problems = check_brands(config)
    for line in lines:
        console.print(escape(line), highlight=False, soft_wrap=True)
    if problems:
        _fail("\n".join(f"{_where.get().config}: {p}" for p in problems))


@app.command("new-source")
def new_source(
    name: Annotated[str, typer.Argument(help="Plugin name: lowercase letters, digits, underscores (e.g. rss).")],
    root: Annotated[Path | None, typer.Option(help="Earshot checkout to write into (default: the one around the cwd).")] = None,
    class_name: Annotated[str | None, typer.Option(help="Source class name (default: derived from NAME).")] = None,
) -> None:
    """Scaffold a source plugin: module, fake API server, contract harness and entry point."""
    from monitor import scaffold

    try:
        result = scaffold.new_source(name, root or scaffold.find_root(Path.cwd()), class_name=class_name)
    except scaffold.ScaffoldError as exc:
        _fail(f"nothing generated: {exc}")
    typer.echo(scaffold.next_steps(result))


@app.command("new-channel")
def new_channel(
    name: Annotated[str, typer.Argument(help="Channel type: lowercase letters, digits, underscores (e.g. discord).")],
    root: Annotated[Path | None, typer.Option(help="Earshot checkout to write into (default: the one around the cwd).")] = None,
    class_name: Annotated[str | None, typer.Option(help="Channel class name (default: derived from NAME).")] = None,
) -> None:
    """Scaffold an alert channel plugin: package, contract harness and entry point."""
    from monitor import scaffold

    try:
        result = scaffold.new_channel(name, root or scaffold.find_root(Path.cwd()), class_name=class_name)
    except scaffold.ScaffoldError as exc:
        _fail(f"nothing generated: {exc}")
    typer.echo(scaffold.next_steps(result))


from sentiment.cli import app as sentiment_app  # noqa: E402 - light: loads no model at import

app.add_typer(sentiment_app, name="sentiment", help="Evaluate, try and inspect the sentiment model.")
from monitor.privacy_cli import app as privacy_app  # noqa: E402 - forget, purge, erasures (commands import lazily)
app.add_typer(privacy_app)

from monitor.themes.cli import app as themes_app  # noqa: E402 - light: loads no model at import

app.add_typer(themes_app, name="themes")

from monitor.query.cli import query_app  # noqa: E402 - light: parses queries, imports no platform SDK

app.add_typer(query_app, name="query", help="Try a brand's query on texts; see what each platform is sent.")

from monitor.replies.cli import app as replies_app  # noqa: E402 - light: no platform SDK at import

app.add_typer(replies_app, name="replies", help="Replying from the inbox: which platforms have write access.")

from monitor.airflow_cli import app as airflow_app  # noqa: E402 - light: imports Airflow only when run

app.add_typer(airflow_app, name="airflow")

index_app = typer.Typer(help="Elasticsearch: index templates and ILM policy.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("setup")
def index_setup(config_path: ConfigOption = None) -> None:
    """Create or update Earshot's index templates, ILM policy and indices in Elasticsearch (idempotent)."""
    from elasticsearch import ConnectionError as EsConnectionError

    from monitor.indexing import setup_from_config
    from monitor.store.elasticsearch.client import ElasticsearchConfigError

    config = _load(config_path)
    try:
        report = setup_from_config(config)
    except (ElasticsearchConfigError, EsConnectionError) as exc:
        _fail(f"Elasticsearch: {exc}")
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
    if sqlite is not None:  # errors about the SQLite file then name this one, not store.path
        _where.set(_Where(config=_where.get().config, db=sqlite, setting="--from"))
    with _progress() as progress:
        report = reindex_from_config(config, sqlite, progress=_Bars(progress))
    for line in report.lines():
        (console if report.ok else err).print(line)
    if not report.ok:
        raise typer.Exit(1)


@app.command("quarantine")
def quarantine_cmd(
    config_path: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the records set aside as unprocessable: where each came from, why, and how it began."""
    config = _load(config_path)
    records, total = _quarantined(config, limit)
    if as_json:
        typer.echo(json.dumps([_record_json(r) for r in records], ensure_ascii=False, indent=2))
        return
    if records:
        console.print(_quarantine_table(records))
    console.print(_quarantine_total(len(records), total))


def _quarantined(config: Config, limit: int) -> tuple[list[Quarantined], int]:
    """The newest `limit` quarantined records and how many there are in all.

    A SQLite store not created yet has none; listing must not create it (nor its directory).
    """
    db = _where.get().db
    if db is not None and not db.exists() and _blocking_file(db) is None:
        return [], 0
    store = _open_store(config)
    try:
        return store.quarantined(limit), store.count_quarantined()
    finally:
        store.close()


def _record_json(record: Quarantined) -> dict[str, Any]:
    """One record for `--json`: the dataclass fields, the time as ISO 8601 for scripts."""
    return {"source": record.source, "where": record.where, "reason": record.reason, "head": record.head,
            "at": record.at.isoformat() if record.at else None}


def _quarantine_table(records: list[Quarantined]) -> Table:
    table = Table("source", "where", "reason", "head", "first seen")
    for r in records:
        # Text, not markup: a record's head is raw input and may hold "[...]".
        seen = r.at.strftime("%Y-%m-%d %H:%M:%S UTC") if r.at else ""
        table.add_row(Text(r.source), Text(r.where), Text(r.reason), Text(r.head), Text(seen))
    return table


def _quarantine_total(shown: int, total: int) -> str:
    """The total, and when --limit hides some, how many and how to see them."""
    if total == 0:
        return "0 quarantined record(s): nothing has been set aside"
    if shown < total:
        return f"{shown} of {total} quarantined record(s) shown, newest first; --limit {total} shows all"
    return f"{total} quarantined record(s)"


def _describe_store(config: Config) -> str:
    from monitor.store import describe_store

    return describe_store(config)


if __name__ == "__main__":
    app()
