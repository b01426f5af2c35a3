"""Airflow hooks for Earshot's connection types (monitor/airflow_provider.py): what the form saves, read back.

One small class per type, as Airflow's providers manager expects (`conn_type`,
`default_conn_name`, `hook_name`); the form itself is declared in the provider info.
Imported by Airflow only, when it resolves a connection type to its hook.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, Connection

from monitor.airflow_provider import ConnectionType, find_type


class EarshotHook(BaseHook):
    """Reads an Earshot connection; `get_conn` returns it (Earshot's sources and channels read its fields)."""

    conn_name_attr = "earshot_conn_id"
    kind: ConnectionType

    def __init__(self, earshot_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earshot_conn_id = earshot_conn_id or self.default_conn_name

    def get_conn(self) -> Connection:
        return self.get_connection(self.earshot_conn_id)

    def test_connection(self) -> tuple[bool, str]:
        """Filled where the form asks: Airflow's "Test" button checks this, not the platform."""
        conn = self.get_conn()
        missing = [label for name, label in self.kind.labels.items()
                   if "optional" not in label and not getattr(conn, name, None)]
        if missing:
            return False, f"missing: {', '.join(missing)}"
        return True, "all fields the Earshot source needs are filled"


def _kind(conn_type: str) -> ConnectionType:
    kind = find_type(conn_type)
    assert kind is not None, conn_type
    return kind


def _hook(kind: ConnectionType) -> type[EarshotHook]:
    return type(kind.hook_class.rsplit(".", 1)[1], (EarshotHook,), {
        "conn_type": kind.conn_type, "default_conn_name": kind.default_conn_id, "hook_name": kind.hook_name,
        "kind": kind, "__doc__": f"{kind.hook_name}: the connection `{kind.config_key}` reads.",
        "__module__": __name__,
    })


EarshotXHook = _hook(_kind("earshot_x"))
EarshotRedditHook = _hook(_kind("earshot_reddit"))
EarshotBlueskyHook = _hook(_kind("earshot_bluesky"))
EarshotMastodonHook = _hook(_kind("earshot_mastodon"))
EarshotAppstoreHook = _hook(_kind("earshot_appstore"))
EarshotGoogleplayHook = _hook(_kind("earshot_googleplay"))
EarshotSlackHook = _hook(_kind("earshot_slack"))
EarshotTeamsHook = _hook(_kind("earshot_teams"))

__all__ = ["EarshotAppstoreHook", "EarshotBlueskyHook", "EarshotGoogleplayHook", "EarshotHook", "EarshotMastodonHook",
           "EarshotRedditHook", "EarshotSlackHook", "EarshotTeamsHook", "EarshotXHook"]
