"""Building the Elasticsearch client from Earshot's config, the environment or an Airflow connection.

Secrets never come from the config file: it names the environment variables that hold
the URL, the API key or the password (`store.elasticsearch.*_env`), or an Airflow
connection id. Inside an Airflow task (where Airflow exports `AIRFLOW_CTX_DAG_ID`) a
configured connection wins, through the `apache-airflow-providers-elasticsearch` hook,
imported only then; elsewhere (`earshot serve`, the CLI) the environment variables are
used, falling back to the connection when they are unset. Nothing here logs a URL,
user or key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitor.store.elasticsearch.settings import ElasticsearchSettings, ElasticsearchStoreSettings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

# The client's own retries, for whole requests (a node restarting, a full queue).
RETRY_OPTIONS: dict[str, Any] = {
    "max_retries": 3,
    "retry_on_status": (429, 502, 503, 504),
    "retry_on_timeout": True,
    "request_timeout": 30,
}


class ElasticsearchConfigError(ValueError):
    """The Elasticsearch store cannot be reached as configured; the message names what to set."""


def in_airflow_task(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get("AIRFLOW_CTX_DAG_ID"))


def redacted(url: str) -> str:
    """scheme://host:port only: safe to show in a message."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _required(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name)
    if not value:
        raise ElasticsearchConfigError(f"store.elasticsearch: {what} is read from ${name}, which is not set")
    return value


def client_from_url(
    url: str,
    *,
    api_key: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
) -> Elasticsearch:
    from elasticsearch import Elasticsearch

    from monitor.store.elasticsearch.compat import VersionedNode

    # The compatibility header follows the server's version (8.x or 9.x): see compat.py.
    kwargs: dict[str, Any] = dict(RETRY_OPTIONS, node_class=VersionedNode)
    if api_key:
        kwargs["api_key"] = api_key
    elif basic_auth:
        kwargs["basic_auth"] = basic_auth
    if url.startswith("https://"):
        kwargs["verify_certs"] = verify_certs
        if ca_certs:
            kwargs["ca_certs"] = ca_certs
        if not verify_certs:
            kwargs["ssl_show_warn"] = False
    return Elasticsearch(url, **kwargs)


def client_from_airflow(conn_id: str) -> Elasticsearch:
    """The official client, built by the provider's hook from an Airflow connection.

    The connection's host/port/schema/login/password make the URL and basic auth; its
    extras (for example `{"ca_certs": "/certs/ca.crt"}` or `{"api_key": "..."}`) are passed
    to the client as they are.
    """
    try:
        from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchSQLHook
    except ImportError:
        raise ElasticsearchConfigError(
            f"store.elasticsearch.airflow_conn_id is {conn_id!r} but apache-airflow-providers-elasticsearch"
            " is not installed"
        ) from None
    from elastic_transport import Urllib3HttpNode

    from monitor.store.elasticsearch.compat import VersionedNode

    hook = ElasticsearchSQLHook(elasticsearch_conn_id=conn_id)
    es = hook.get_conn().es.options(**RETRY_OPTIONS)
    for node in es.transport.node_pool.all():  # the hook builds its own client: make its nodes follow the server
        if type(node) is Urllib3HttpNode:
            node.__class__ = VersionedNode
    return es


def client_for(
    settings: ElasticsearchSettings, base_dir: Path | None = None, environ: Mapping[str, str] = os.environ
) -> Elasticsearch:
    """The client the settings describe; see the module docstring for which source wins."""
    if settings.airflow_conn_id and in_airflow_task(environ):
        return client_from_airflow(settings.airflow_conn_id)
    if settings.airflow_conn_id and not environ.get(settings.url_env):
        try:  # outside Airflow the connection can still come from $AIRFLOW_CONN_<ID> or Airflow's DB
            return client_from_airflow(settings.airflow_conn_id)
        except Exception as exc:  # the provider raises AirflowNotFoundException, among others
            raise ElasticsearchConfigError(
                f"store.elasticsearch: set ${settings.url_env}, or define the Airflow connection"
                f" {settings.airflow_conn_id!r} ({type(exc).__name__})"
            ) from None
    url = _required(environ, settings.url_env, "the Elasticsearch URL")
    api_key = _required(environ, settings.api_key_env, "the API key") if settings.api_key_env else None
    basic_auth = None
    if settings.username and not api_key:
        if not settings.password_env:
            raise ElasticsearchConfigError("store.elasticsearch: username is set; name its password_env too")
        basic_auth = (settings.username, _required(environ, settings.password_env, "the password"))
    ca_certs = None
    if settings.ca_certs is not None:
        path = settings.ca_certs
        ca_certs = str(path if path.is_absolute() or base_dir is None else base_dir / path)
    return client_from_url(
        url, api_key=api_key, basic_auth=basic_auth, ca_certs=ca_certs, verify_certs=settings.verify_certs
    )


def describe(settings: ElasticsearchSettings) -> str:
    """One line for `earshot check-config` / `earshot run`: where the data goes, no secret."""
    source = f"URL from ${settings.url_env}"
    if settings.airflow_conn_id:
        source += f" (in Airflow: connection {settings.airflow_conn_id!r})"
    return f"elasticsearch, indices {settings.index_prefix}-*, {source}"


def client_from_env(environ: Mapping[str, str] = os.environ) -> Elasticsearch:
    """For tests and one-off scripts: $ELASTICSEARCH_URL (credentials may be in it), plus
    optional $ELASTICSEARCH_API_KEY and $ELASTICSEARCH_CA_CERTS."""
    settings = ElasticsearchStoreSettings(
        api_key_env="ELASTICSEARCH_API_KEY" if environ.get("ELASTICSEARCH_API_KEY") else None,
        ca_certs=Path(environ["ELASTICSEARCH_CA_CERTS"]) if environ.get("ELASTICSEARCH_CA_CERTS") else None,
    )
    return client_for(settings, environ=environ)
