"""Setting a cluster up for Earshot: the ILM policy, the templates and the single indices.

Idempotent, and safe to run on every start: PUT replaces a policy or template with the
same body, so running it again changes nothing; after an upgrade it adds the new fields
to the indices that exist (mappings only ever grow). `is_set_up` is how a starting store
decides whether there is anything to do (`earshot index setup` runs it unconditionally).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from monitor.store.elasticsearch.templates import (
    KINDS,
    SCHEMA_VERSION,
    IndexNames,
    ilm_policy,
    index_template,
    mappings,
    mappings_component,
    settings_component,
)

__all__ = ["SetupReport", "create_index", "installed_schema_version", "is_set_up", "setup_indices"]


@dataclass(frozen=True)
class SetupReport:
    policy: str
    component_templates: list[str]
    index_templates: list[str]
    indices_created: list[str]
    mappings_updated: list[str] = field(default_factory=list)  # existing indices given the current mappings

    def lines(self) -> list[str]:
        return [
            f"ILM policy: {self.policy}",
            f"component templates: {', '.join(self.component_templates)}",
            f"index templates: {', '.join(self.index_templates)} (schema version {SCHEMA_VERSION})",
            f"indices created: {', '.join(self.indices_created) or 'none (all existed)'}",
            f"mappings applied to existing indices: {', '.join(self.mappings_updated) or 'none'}",
        ]


def setup_indices(client: Elasticsearch, names: IndexNames, retention_days: int | None) -> SetupReport:
    """Create or update the ILM policy, the templates and the single indices. Idempotent.

    PUT replaces a policy or template with the same body, so running it again changes
    nothing. Running it after an upgrade applies new mappings to the indices created from
    then on, and adds new fields to the indices that exist (mappings only ever grow, so
    this is always allowed): an existing `alerts` index or the current month's mentions
    accept the new fields at once.
    """
    client.ilm.put_lifecycle(name=names.policy, policy=ilm_policy(retention_days))
    components = [names.settings_component]
    client.cluster.put_component_template(name=names.settings_component, **_template_args(settings_component()))
    for kind in KINDS:
        name = names.mappings_component(kind.name)
        client.cluster.put_component_template(name=name, **_template_args(mappings_component(kind.name)))
        components.append(name)
    templates = []
    for kind in KINDS:
        body = index_template(names, kind.name)
        client.indices.put_index_template(
            name=names.template(kind.name),
            index_patterns=body["index_patterns"],
            composed_of=body["composed_of"],
            priority=body["priority"],
            template=body["template"],
            meta=body["_meta"],
        )
        templates.append(names.template(kind.name))
    single = [names.index(kind.name) for kind in KINDS if not kind.partitioned]
    created = [index for index in single if create_index(client, index)]
    updated = []
    for kind in KINDS:
        target = names.pattern(kind.name)
        if target in created:
            continue  # made from the template just now
        body = mappings(kind.name)
        client.indices.put_mapping(
            index=target, properties=body["properties"], dynamic=body["dynamic"], meta=body["_meta"],
            allow_no_indices=True, ignore_unavailable=True,
        )
        updated.append(target)
    return SetupReport(names.policy, components, templates, created, updated)


def _template_args(body: dict[str, Any]) -> dict[str, Any]:
    return {"template": body["template"], "meta": body["_meta"]}


def create_index(client: Elasticsearch, index: str, settings: dict[str, Any] | None = None) -> bool:
    """Create `index` (its template applies); False if it already existed."""
    try:
        client.indices.create(index=index, settings=settings)
    except ApiError as exc:
        if exc.status_code == 400 and error_type(exc) == "resource_already_exists_exception":
            return False
        raise
    return True


def error_type(exc: ApiError) -> str | None:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("type")
    return None


def installed_schema_version(client: Elasticsearch, names: IndexNames) -> int | None:
    """The schema version Earshot's index templates under this prefix were written with
    (the oldest of them); None if any is missing."""
    found = client.options(ignore_status=404).indices.get_index_template(name=f"{names.prefix}-*").body
    templates = {t["name"]: t["index_template"] for t in found.get("index_templates", [])}
    versions = []
    for kind in KINDS:
        template = templates.get(names.template(kind.name))
        if template is None:
            return None
        versions.append(int((template.get("_meta") or {}).get("schema_version", 0)))
    return min(versions)


def is_set_up(client: Elasticsearch, names: IndexNames) -> bool:
    """Set up, and for this version of Earshot (or a newer one): nothing for `setup_indices` to do."""
    version = installed_schema_version(client, names)
    return version is not None and version >= SCHEMA_VERSION
