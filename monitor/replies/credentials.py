"""A platform's reply credentials, from environment variables or an Airflow connection.

Like the sources' (monitor/sources/credentials.py): never from the config file, and never
into a message. What is missing is named by the variable or field to set, so the inbox can
say why a reply button is disabled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.replies.settings import ReplySettings
from monitor.sources.credentials import _from_airflow


@dataclass(frozen=True)
class Credentials:
    values: dict[str, str]  # by credential name ("access_token"...), only those found
    missing: list[str]  # where to set each one that was not found

    @property
    def complete(self) -> bool:
        return not self.missing


def find_credentials(settings: ReplySettings, environ: Mapping[str, str] | None = None) -> Credentials:
    """Each credential `settings` names: its environment variable, else its Airflow connection field."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, variable in settings.credentials_env.items():
        value = env.get(variable) or ""
        field = settings.conn_fields.get(name)
        if not value and settings.airflow_conn_id and field:
            value = _from_airflow(settings.airflow_conn_id, field) or ""
        if value:
            values[name] = value
        elif settings.airflow_conn_id and field:
            missing.append(f"{variable} (or field {field!r} of Airflow connection {settings.airflow_conn_id!r})")
        else:
            missing.append(variable)
    return Credentials(values, missing)
