"""Where a source's secrets come from: environment variables or an Airflow connection.

Never from the config file, and never into a log line or an error message: errors name
the variable or connection to fix, not its value.
"""

from __future__ import annotations

import os

from monitor.config import SourceSettings
from monitor.sources.base import PermanentSourceError


def credential(settings: SourceSettings, env_name: str, conn_field: str | None = None, *, source: str) -> str:
    """The secret held by `env_name`, else the field `conn_field` of the settings' Airflow connection.

    `conn_field` is a Connection attribute ("password", "login", "host") or an `extra` key.
    """
    value = os.environ.get(env_name)
    if value:
        return value
    if settings.airflow_conn_id and conn_field:
        value = from_airflow(settings.airflow_conn_id, conn_field)
        if value:
            return value
    where = f"environment variable {env_name}"
    if settings.airflow_conn_id:
        where += f" or field {conn_field!r} of Airflow connection {settings.airflow_conn_id!r}"
    raise PermanentSourceError(f"sources.{source}: no credential found: set the {where}")


_ATTRIBUTES = ("host", "login", "password", "schema", "port")


def from_airflow(conn_id: str, field: str) -> str | None:
    """Field `field` (an attribute, else an `extra` key) of Airflow connection `conn_id`; None outside Airflow."""
    try:
        from airflow.sdk import Connection
    except ImportError:  # Airflow is optional outside DAG runs
        return None
    try:
        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - a missing connection is reported by the caller
        return None
    value = getattr(conn, field, None) if field in _ATTRIBUTES else None
    if value is None:
        extra = conn.extra_dejson or {}
        # The connection form saves its extra fields by name; older forms prefixed them.
        value = extra.get(field) or extra.get(f"extra__{conn.conn_type}__{field}")
    return str(value) if value else None
