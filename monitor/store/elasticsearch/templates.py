"""Elasticsearch index layout: names, mappings, component/index templates and the ILM policy.

Pure functions returning the JSON bodies, so they can be checked without a server
(tests/test_elasticsearch_store.py) and so the Kibana dashboards can be validated
against the same mappings (tests/test_dashboards.py).

Layout for a prefix `P` (default `earshot`):

| data | indices | why |
|---|---|---|
| mentions | `P-mentions-YYYY.MM`, by the post's `created_at` | time-partitioned, ILM retention |
| engagement snapshots | `P-snapshots-YYYY.MM`, by `observed_at` | time-partitioned, ILM retention |
| alerts | `P-alerts` | small, kept for the care team's history |
| alert deliveries (outbox log) | `P-deliveries` | small |
| source cursors | `P-cursors` | tiny |
| the triage audit trail | `P-alert_events` | append-only, one document per event |

The monthly indices carry the read alias `P-mentions` / `P-snapshots`; Earshot itself
reads through the `P-mentions-*` pattern, which also works before the first index exists.
Mappings are `dynamic: strict`: a field the code does not know is a bug, and fails loudly
with the document id instead of silently growing the mapping.

Adding an index is one more `IndexKind` in `KINDS`. Adding a field: put it in the
properties here and bump `SCHEMA_VERSION`; `setup_indices` then adds it to the indices
that already exist (mappings only grow), and a store that finds an older version set up
runs it on start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# 2: mentions.topic/team, alert handling times from the triage trail, alerts.last_event, alert_events.
# 4: mentions.engagement_known/refers_to/author_verified/nsfw/removed/removed_at (tombstones), erasures.
# 5: mentions.noise (copies and spam, monitor/noise).
# 6: per-language text fields (text_lang.*, title_lang.*), ECS `@timestamp` on mentions, snapshots, alerts;
#    mentions.author_url (a clickable link in Kibana).
SCHEMA_VERSION = 6
MANAGED_BY = "earshot"
TEMPLATE_PRIORITY = 200  # above Elasticsearch's built-in templates (100), which never match ours anyway

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
DATE: dict[str, Any] = {"type": "date"}  # strict_date_optional_time||epoch_millis; microseconds kept in _source


def text_with_keyword(ignore_above: int = 1024) -> dict[str, Any]:
    """Full-text search on the field, and exact values (tables, top-N) on `<field>.keyword`."""
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": ignore_above}}}


# The languages the sentiment model is evaluated on (sentiment/langid.py), each with Elasticsearch's
# built-in analyzer for it: stop words and a stemmer, so "factura" finds "facturas" and "refund"
# finds "refunded". A post's text is indexed under its own language only (`text_lang.<code>`),
# chosen by `Mention.lang`, next to the default `text` field (standard analyzer) every post has.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "en": "english",
    "es": "spanish",
    "id": "indonesian",
    "pt": "portuguese",
    "fr": "french",
    "de": "german",
    "it": "italian",
    "ar": "arabic",
    "hi": "hindi",
}


def language_fields() -> dict[str, Any]:
    """`<field>_lang`: one text sub-field per supported language, each with its built-in analyzer."""
    return {"properties": {code: {"type": "text", "analyzer": analyzer}
                           for code, analyzer in LANGUAGE_ANALYZERS.items()}}


def language_code(lang: str | None) -> str | None:
    """The supported language of a post (`pt-BR` -> `pt`), or None: then only the default field has it."""
    if not lang:
        return None
    code = lang.split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGE_ANALYZERS else None


ENGAGEMENT: dict[str, Any] = {
    "properties": {
        "likes": {"type": "long"},
        "reposts": {"type": "long"},
        "replies": {"type": "long"},
        "quotes": {"type": "long"},
        "score": {"type": "long"},
        # Engagement.total, stored so dashboards can chart it without scripts.
        "total": {"type": "long"},
    }
}

MENTION_PROPERTIES: dict[str, Any] = {
    # ECS: the post's time, what Kibana's time picker and Discover use without setup.
    "@timestamp": DATE,
    "id": KEYWORD,
    "source": KEYWORD,
    "native_id": KEYWORD,
    "url": {"type": "keyword", "ignore_above": 2048},
    "author_handle": KEYWORD,
    "author_url": {"type": "keyword", "ignore_above": 2048},  # the author's profile, where the platform has one
    "author_followers": {"type": "long"},
    "text": text_with_keyword(),
    "title": text_with_keyword(),
    "text_lang": language_fields(),  # the text again, under the post's language only (stemmed)
    "title_lang": language_fields(),
    "lang": KEYWORD,
    "created_at": DATE,
    "brand": KEYWORD,
    "query": KEYWORD,
    "engagement": ENGAGEMENT,
    # When `engagement` was observed (the newest snapshot applied); None = as fetched.
    "engagement_observed_at": DATE,
    "rating": {"type": "byte"},
    "app_version": KEYWORD,  # app-store reviews: the release the reviewer ran
    "sentiment": {
        "properties": {
            "label": KEYWORD,
            "score": {"type": "float"},
            "model": KEYWORD,
        }
    },
    "first_seen_at": DATE,
    # What a negative post is about, and the team that owns that topic (monitor/topics.py).
    "topic": KEYWORD,
    "team": KEYWORD,
    # How noise handling judged the post (monitor/noise): a copy of which first post, its LSH band
    # keys and MinHash signature (the near-duplicate index), and its spam score and reasons.
    "noise": {
        "properties": {
            "judged_at": DATE,
            "duplicate_of": KEYWORD,
            "bands": KEYWORD,
            "signature": {"type": "binary"},
            "spam_score": {"type": "float"},
            "spam_reasons": KEYWORD,
            "spam": {"type": "boolean"},
            "not_spam": {"type": "boolean"},  # a person's verdict; re-judging never writes it
        }
    },
    # What the platforms say beyond the text (issue 17), and tombstones: a removed post keeps its
    # counts and triage history, its text, author and URL are purged (monitor/removals.py).
    "engagement_known": {"type": "boolean"},
    "refers_to": KEYWORD,
    "author_verified": {"type": "boolean"},
    "nsfw": {"type": "boolean"},
    "removed": KEYWORD,
    "removed_at": DATE,
}

# The erasure audit log: one document per purge or `earshot forget`, kept like the triage trail.
ERASURE_PROPERTIES: dict[str, Any] = {
    "id": KEYWORD,
    "at": DATE,
    "actor": KEYWORD,
    "action": KEYWORD,  # removed / retention / forget
    "subject": KEYWORD,  # the author (source:handle), the cutoff, or the source of the removals
    "reason": text_with_keyword(),
    "mentions": {"type": "long"},
    "snapshots": {"type": "long"},
}

SNAPSHOT_PROPERTIES: dict[str, Any] = {
    "@timestamp": DATE,  # ECS: when the engagement was observed
    "mention_id": KEYWORD,
    "observed_at": DATE,
    "engagement": ENGAGEMENT,
    # Copied from the mention when it is known, so velocity can be charted per brand/source.
    "brand": KEYWORD,
    "source": KEYWORD,
}

ALERT_PROPERTIES: dict[str, Any] = {
    "@timestamp": DATE,  # ECS: when the alert was raised
    "id": KEYWORD,
    "kind": KEYWORD,
    "mention_id": KEYWORD,
    "brand": KEYWORD,
    "severity": KEYWORD,
    "created_at": DATE,
    "reason": text_with_keyword(),
    "velocity_per_min": {"type": "double"},
    "baseline_per_min": {"type": "double"},
    "state": KEYWORD,
    "topic": KEYWORD,
    "team": KEYWORD,
    "assignee": KEYWORD,
    # Care-team handling (monitor/triage.py stamps it), kept so Kibana can chart time to
    # first response and to resolve.
    "updated_at": DATE,
    "first_response_at": DATE,  # first triage action of any kind: state change, assignment or note
    "acknowledged_at": DATE,  # first acknowledgement
    "resolved_at": DATE,  # cleared when reopened
    "dismissed_at": DATE,  # cleared when reopened
    "time_to_first_response_minutes": {"type": "double"},
    "time_to_resolve_minutes": {"type": "double"},
    # Channels that have the alert: the outbox is "alerts whose delivered_to lacks the channel".
    "delivered_to": KEYWORD,
    # The last triage event applied, written in the same single-document update that applies
    # it: the commit point of `record_alert_event`. Copied to `alert_events` right after; kept
    # here so an event is never lost if the writer stops in between. Stored, not indexed.
    "last_event": {"type": "object", "enabled": False},
}

ALERT_EVENT_PROPERTIES: dict[str, Any] = {
    "id": KEYWORD,
    "alert_id": KEYWORD,
    # Nanosecond dates: the trail is ordered by `at` at the precision it was given in.
    "at": {"type": "date_nanos"},
    "actor": KEYWORD,
    "kind": KEYWORD,  # state, assignment, note
    "from_state": KEYWORD,
    "to_state": KEYWORD,
    "assignee": KEYWORD,
    "text": text_with_keyword(),  # the note, or the reason for a state change
    # Order of recording among events with the same `at`: the alerts index's `_seq_no` of the
    # update that applied the event (one shard, so one total order, like SQLite's rowid).
    "seq": {"type": "long"},
    "recorded_at": DATE,  # the store's clock when it was recorded
    "brand": KEYWORD,  # the alert's, for filtering in Kibana
}

DELIVERY_PROPERTIES: dict[str, Any] = {
    "alert_id": KEYWORD,
    "channel": KEYWORD,
    "delivered_at": DATE,
}

CLAIM_PROPERTIES: dict[str, Any] = {
    "alert_id": KEYWORD,
    "channel": KEYWORD,
    "owner": KEYWORD,
    "expires_at": DATE,
}

QUARANTINE_PROPERTIES: dict[str, Any] = {
    "source": KEYWORD,
    "where": KEYWORD,
    "reason": text_with_keyword(),
    # The start of an unusable record, for an operator to read: never searched.
    "head": {"type": "keyword", "index": False, "doc_values": False},
    "at": DATE,
}

CURSOR_PROPERTIES: dict[str, Any] = {
    "key": KEYWORD,
    # Opaque to Earshot (page tokens can be long): stored, never searched.
    "value": {"type": "keyword", "index": False, "doc_values": False},
    "updated_at": DATE,
}


@dataclass(frozen=True)
class IndexKind:
    """One kind of document and how it is stored."""

    name: str  # mentions, snapshots, alerts, ...
    properties: dict[str, Any]
    time_field: str | None = None  # set: monthly indices by this field, with the ILM policy
    description: str = ""

    @property
    def partitioned(self) -> bool:
        return self.time_field is not None


KINDS: tuple[IndexKind, ...] = (
    IndexKind("mentions", MENTION_PROPERTIES, "created_at", "Posts and reviews, one document per mention id."),
    IndexKind("snapshots", SNAPSHOT_PROPERTIES, "observed_at", "Engagement of a mention at one moment."),
    IndexKind("alerts", ALERT_PROPERTIES, None, "Alerts and their handling by the care team."),
    IndexKind("deliveries", DELIVERY_PROPERTIES, None, "Which channel received which alert, and when."),
    IndexKind("delivery_claims", CLAIM_PROPERTIES, None, "Which sender is sending which alert to which channel."),
    IndexKind("quarantine", QUARANTINE_PROPERTIES, None, "Records that could not be normalised or stored."),
    IndexKind("cursors", CURSOR_PROPERTIES, None, "Where each source resumes."),
    IndexKind("alert_events", ALERT_EVENT_PROPERTIES, None, "The triage audit trail: append-only, one per action."),
    IndexKind("erasures", ERASURE_PROPERTIES, None, "Erasures: purges, retention and right-to-erasure requests."),
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}


@dataclass(frozen=True)
class IndexNames:
    """Every name Earshot uses in a cluster, derived from one prefix."""

    prefix: str = "earshot"

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)

    @property
    def policy(self) -> str:
        return f"{self.prefix}-retention"

    @property
    def settings_component(self) -> str:
        return f"{self.prefix}-settings"

    def mappings_component(self, kind: str) -> str:
        return f"{self.prefix}-{kind}-mappings"

    def template(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def alias(self, kind: str) -> str:
        """The read alias of a partitioned kind (also the index name of an unpartitioned one)."""
        return f"{self.prefix}-{kind}"

    def pattern(self, kind: str) -> str:
        """What to read: all monthly indices of a partitioned kind, or the one index of another."""
        return f"{self.prefix}-{kind}-*" if KINDS_BY_NAME[kind].partitioned else self.alias(kind)

    def index(self, kind: str, when: datetime | None = None) -> str:
        """The concrete index a document goes to: a pure function of the document's time.

        Routing by the document's own time (not by write time, as rollover does) is what
        makes re-runs idempotent: the same mention always lands in the same index, so its
        deterministic `_id` is unique there.
        """
        if not KINDS_BY_NAME[kind].partitioned:
            return self.alias(kind)
        if when is None:
            raise ValueError(f"{kind} indices are monthly: a time is needed")
        return f"{self.prefix}-{kind}-{when.astimezone(UTC):%Y.%m}"

    @property
    def managed_indices(self) -> list[str]:
        """Patterns of every index Earshot owns under this prefix (for teardown)."""
        return [self.pattern(kind.name) for kind in KINDS]


def validate_prefix(prefix: str) -> str:
    """Index names must be lowercase and cannot start with -, _ or +; we also keep them short and plain."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,47}", prefix):
        raise ValueError(
            f"index prefix {prefix!r}: use 1-48 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )
    return prefix


def month_start(when: datetime) -> datetime:
    when = when.astimezone(UTC)
    return datetime(when.year, when.month, 1, tzinfo=UTC)


def next_month_start(when: datetime) -> datetime:
    start = month_start(when)
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)


def origination_millis(when: datetime) -> int:
    """ILM's origination date for the monthly index holding `when`: the end of that month.

    ILM counts an index's age from this date, so `delete.min_age = N days` removes a month
    once its newest possible document is N days old — retention by the posts' own dates.
    """
    return int(next_month_start(when).timestamp() * 1000)


def _meta(description: str) -> dict[str, Any]:
    return {"managed_by": MANAGED_BY, "schema_version": SCHEMA_VERSION, "description": description}


def ilm_policy(retention_days: int | None) -> dict[str, Any]:
    """The lifecycle of monthly indices: hot while written, deleted `retention_days` after the month ends.

    No rollover action: indices are cut by document time (see `IndexNames.index`), and no
    read-only/shrink phase, because a late update (a sentiment score, an engagement
    refresh) may still reach an older month.
    """
    phases: dict[str, Any] = {"hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}}}
    if retention_days is not None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1 (or None to keep everything)")
        phases["delete"] = {"min_age": f"{retention_days}d", "actions": {"delete": {}}}
    return {"_meta": _meta("Earshot mentions and snapshots retention"), "phases": phases}


def settings_component() -> dict[str, Any]:
    """Settings shared by every Earshot index.

    One shard: a brand's month of mentions is small. `auto_expand_replicas` gives a replica
    when the cluster has a second node and none (green health) on a single-node install.
    """
    return {
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": "1s",
                }
            }
        },
        "_meta": _meta("Earshot index settings"),
    }


def mappings(kind: str) -> dict[str, Any]:
    spec = KINDS_BY_NAME[kind]
    return {
        "dynamic": "strict",
        "_meta": {"managed_by": MANAGED_BY, "schema_version": SCHEMA_VERSION, "kind": kind},
        "properties": spec.properties,
    }


def mappings_component(kind: str) -> dict[str, Any]:
    return {"template": {"mappings": mappings(kind)}, "_meta": _meta(KINDS_BY_NAME[kind].description)}


def index_template(names: IndexNames, kind: str) -> dict[str, Any]:
    """The composable index template for one kind: settings + mappings components, plus ILM and alias if monthly."""
    spec = KINDS_BY_NAME[kind]
    template: dict[str, Any] = {}
    if spec.partitioned:
        template["settings"] = {"index": {"lifecycle": {"name": names.policy}}}
        template["aliases"] = {names.alias(kind): {}}
    return {
        "index_patterns": [names.pattern(kind)],
        "composed_of": [names.settings_component, names.mappings_component(kind)],
        "priority": TEMPLATE_PRIORITY,
        "template": template,
        "_meta": _meta(spec.description),
    }


def monthly_index_settings(when: datetime) -> dict[str, Any]:
    """Settings given when the store creates a monthly index (the template supplies the rest)."""
    return {"index": {"lifecycle": {"origination_date": origination_millis(when)}}}


def field_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten mapping properties to {"dotted.path": type}, multi-fields included (`text.keyword`).

    What Kibana calls a field; the dashboards test checks every field a visualization uses
    is one of these.
    """
    out: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            out.update(field_types(spec["properties"], f"{path}."))
            continue
        out[path] = spec["type"]
        for sub, sub_spec in spec.get("fields", {}).items():
            out[f"{path}.{sub}"] = sub_spec["type"]
    return out
