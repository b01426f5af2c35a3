"""`earshot airflow ...`: what a deployment on Airflow needs besides the DAG files.

* `earshot airflow pools` prints the pools the ingest DAGs run in (one per live platform,
  so one platform's rate limit is shared by every run calling it); `--apply` creates them
  with `airflow pools import`, the one command to run after enabling a source.
* `earshot airflow connections` lists Earshot's connection types and which config key
  (and environment variable) each one replaces.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from monitor.config import Config

app = typer.Typer(help="Airflow deployment helpers: pools and connection types.", no_args_is_help=True)
console = Console()


def pools(config: Config, slots: int = 1) -> dict[str, dict[str, object]]:
    """The pools file for `airflow pools import`: one pool per live source enabled in the config."""
    from monitor.airflow_provider import pool_name  # not monitor.orchestration: that imports Airflow

    return {
        pool_name(name): {"slots": slots, "description": f"Earshot: calls to the {name} API (one rate limit)",
                          "include_deferred": False}
        for name in config.live_sources()
    }


@app.command("pools")
def pools_cmd(
    config_path: Annotated[Path | None, typer.Option("--config", "-c", help="Config file.")] = None,
    slots: Annotated[int, typer.Option(min=1, help="Concurrent calls allowed per platform.")] = 1,
    apply: Annotated[bool, typer.Option("--apply", help="Create them now with `airflow pools import`.")] = False,
) -> None:
    """The Airflow pools the ingest DAGs need (JSON for `airflow pools import`), or create them with --apply."""
    from monitor.cli import _load

    spec = pools(_load(config_path), slots)
    if not apply:
        typer.echo(json.dumps(spec, indent=2))
        return
    if not spec:
        console.print("No live source is enabled: no pool needed.")
        return
    airflow = shutil.which("airflow")
    if airflow is None:
        raise typer.BadParameter("the airflow command is not on PATH; run this where Airflow is installed",
                                 param_hint="--apply")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        proc = subprocess.run([airflow, "pools", "import", handle.name], capture_output=True, text=True, check=False)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    if proc.returncode != 0:
        console.print(proc.stderr.strip() or proc.stdout.strip(), soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"Created or updated {len(spec)} pool(s): {', '.join(spec)}")


@app.command("connections")
def connections_cmd() -> None:
    """Earshot's Airflow connection types: the form fields each shows and what they replace."""
    from monitor.airflow_provider import CONNECTION_TYPES, REUSED

    for kind in CONNECTION_TYPES:
        fields = [f"{label}" + (f" (instead of ${kind.env[name]})" if name in kind.env else "")
                  + (f" (sets {kind.settings[name]})" if name in kind.settings else "")
                  for name, label in kind.labels.items()]
        fields += [f"{spec['label']} (sets {name})" for name, spec in kind.extras.items()]
        console.print(f"{kind.conn_type:<20} {kind.hook_name!r} for {kind.config_key}: {'; '.join(fields)}",
                      soft_wrap=True, highlight=False)
    for conn_type, provider, used_by in REUSED:
        console.print(f"{conn_type:<20} from {provider}, for {used_by}", soft_wrap=True, highlight=False)
    console.print("Name the connection in the config: sources.<name>.airflow_conn_id (or a channel's "
                  "airflow_conn_id); its fields are read when the environment variable is not set.", soft_wrap=True)
