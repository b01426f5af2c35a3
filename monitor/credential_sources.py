"""Where each source's credentials will come from: said plainly, for `earshot check-config`.

A source reads each secret from its environment variable, else from its Airflow connection
(`airflow_conn_id`; monitor/sources/credentials.py). Knowing which one wins, before the
first run, saves the hour spent wondering why a rotated token is not picked up.
"""

from __future__ import annotations

import os

from monitor.airflow_provider import for_config_key
from monitor.config import SourceSettings


def describe(name: str, settings: SourceSettings, environ: dict[str, str] | None = None) -> list[str]:
    """One line per credential: the variable (set or not) and the connection field standing in for it."""
    environ = dict(os.environ) if environ is None else environ
    kind = for_config_key(f"sources.{name}")
    field_of = {env: field for field, env in (kind.env.items() if kind else [])}
    lines = []
    for variable in settings.credentials_env:
        state = "set" if environ.get(variable) else "not set"
        line = f"${variable} ({state})"
        conn_field = field_of.get(variable)
        if settings.airflow_conn_id:
            what = f"field {conn_field!r}" if conn_field else f"extra {variable!r}"
            line += f", else Airflow connection {settings.airflow_conn_id!r} ({what})"
            if environ.get(variable):
                line += " - the variable wins"
        elif kind is not None:
            line += f"; in Airflow, set sources.{name}.airflow_conn_id to an {kind.hook_name!r} connection"
        lines.append(line)
    if not settings.credentials_env:
        lines.append("no credential needed")
        if settings.airflow_conn_id and kind is not None and kind.settings:
            lines[-1] += (f"; Airflow connection {settings.airflow_conn_id!r} sets "
                          + ", ".join(kind.settings.values()))
    return lines
