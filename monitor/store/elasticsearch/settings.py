"""`store.elasticsearch`: where the Elasticsearch store is and how long it keeps data.

Pydantic only, so the store registry (and a config being validated) can name these settings
without importing the Elasticsearch client. Credentials are never values here: `url_env`,
`api_key_env` and `password_env` name environment variables; inside Airflow tasks
`airflow_conn_id` names a connection (apache-airflow-providers-elasticsearch), used
instead of the URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

INDEX_PREFIX_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"  # lowercase, no leading -_+, short (templates.validate_prefix)


def _env_name(value: object) -> object:
    # The message never echoes the value: someone may have pasted the secret itself here.
    if isinstance(value, str) and not (value.isascii() and value.isidentifier()):
        raise ValueError("must be the NAME of an environment variable (like ELASTICSEARCH_URL), not its value")
    return value


EnvName = Annotated[str, BeforeValidator(_env_name)]


class ElasticsearchSettings(Protocol):
    """What the client and the store read: this module's model, or the config's own copy of it."""

    url_env: str
    api_key_env: str | None
    username: str | None
    password_env: str | None
    index_prefix: str
    retention_days: int | None
    airflow_conn_id: str | None
    ca_certs: Path | None
    verify_certs: bool


class ElasticsearchStoreSettings(BaseModel):
    """The settings model of the `elasticsearch` store (its registry descriptor names it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_env: EnvName = "ELASTICSEARCH_URL"  # the URL may carry user:password; it is never logged
    api_key_env: EnvName | None = None
    username: str | None = None
    password_env: EnvName | None = None
    index_prefix: str = Field("earshot", pattern=INDEX_PREFIX_PATTERN)
    retention_days: int | None = Field(365, ge=1)  # mentions and snapshots, by post date; None keeps all
    airflow_conn_id: str | None = None
    ca_certs: Path | None = None  # CA bundle for an https URL; relative to the config file
    verify_certs: bool = True

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> ElasticsearchStoreSettings:
        if self.username and not self.password_env:
            raise ValueError("username needs password_env (the variable that holds the password)")
        if self.api_key_env and self.username:
            raise ValueError("use api_key_env or username + password_env, not both")
        return self
