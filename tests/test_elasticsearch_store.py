"""The Elasticsearch store without an Elasticsearch server.

Two layers: the pure builders (templates, ILM policy, queries, document shapes) checked
as JSON, and the store driven through the real `elasticsearch` client against a loopback
HTTP server speaking the ES REST API (tests/fake_elasticsearch.py): bulk per-item errors
and retries, the source cursor left behind on a failed batch, client credentials from
the environment or an Airflow connection, `index setup` and `reindex`. The Store
conformance suite runs against that fake here, and against a real cluster in
tests/test_store_conformance.py when ELASTICSEARCH_URL is set.
"""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta

import pytest

import tests.test_store_conformance as conformance
from monitor.indexing import reindex_sqlite
from monitor.models import Alert, AlertState, Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel, Severity
from monitor.store import SQLiteStore
from monitor.store import es_docs as docs
from monitor.store import es_queries as q
from monitor.store import es_templates as t
from monitor.store.base import TrendPoint
from monitor.store.elasticsearch import ElasticsearchStore, setup_indices
from monitor.store.es_bulk import BulkWriteError, RetryPolicy, bulk_write
from monitor.store.es_client import ElasticsearchConfigError, EsSettings, client_for, client_from_url, redacted
from tests.fake_elasticsearch import FakeElasticsearch

T0 = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
FAST = RetryPolicy(max_retries=3, initial_backoff=0.001, max_backoff=0.01)


@pytest.fixture
def fake():
    with FakeElasticsearch() as server:
        yield server


@pytest.fixture
def store(fake):
    s = ElasticsearchStore(client_from_url(fake.url), "test", retention_days=30, retry=FAST)
    yield s
    s.close()


def mention(native_id: str, minutes: int = 0, **extra) -> Mention:
    return Mention(
        id=f"x:{native_id}", source="x", native_id=native_id, url=f"https://x.com/a/{native_id}", author_handle="ana",
        text=f"post {native_id}", created_at=T0 + timedelta(minutes=minutes), brand="Acme", query="acme", **extra,
    )


# -- templates and policies (pure) ------------------------------------------------


def test_every_mapping_is_strict_and_every_text_field_has_a_keyword_sub_field():
    for kind in t.KINDS:
        body = t.mappings(kind.name)
        assert body["dynamic"] == "strict"
        types = t.field_types(body["properties"])
        for path, type_ in types.items():
            if type_ == "text":
                assert types[f"{path}.keyword"] == "keyword", path
        if kind.time_field:
            assert types[kind.time_field] == "date"
    mentions = t.field_types(t.MENTION_PROPERTIES)
    assert mentions["text"] == "text" and mentions["created_at"] == "date" and mentions["engagement.total"] == "long"
    assert {"acknowledged_at", "resolved_at", "time_to_first_response_minutes", "time_to_resolve_minutes"} <= set(
        t.field_types(t.ALERT_PROPERTIES)
    )


def test_index_templates_compose_settings_and_mappings_and_attach_retention_to_monthly_indices():
    names = t.IndexNames("brisa")
    mentions = t.index_template(names, "mentions")
    assert mentions["index_patterns"] == ["brisa-mentions-*"]
    assert mentions["composed_of"] == ["brisa-settings", "brisa-mentions-mappings"]
    assert mentions["template"]["settings"]["index"]["lifecycle"]["name"] == "brisa-retention"
    assert mentions["template"]["aliases"] == {"brisa-mentions": {}}
    assert mentions["priority"] > 100
    alerts = t.index_template(names, "alerts")
    assert alerts["index_patterns"] == ["brisa-alerts"] and alerts["template"] == {}
    json.dumps([t.index_template(names, k.name) for k in t.KINDS])  # plain JSON all the way


def test_ilm_policy_deletes_a_month_retention_days_after_it_ends():
    policy = t.ilm_policy(90)
    assert policy["phases"]["delete"] == {"min_age": "90d", "actions": {"delete": {}}}
    assert "rollover" not in json.dumps(policy)  # indices are cut by document time, not write time
    assert "delete" not in t.ilm_policy(None)["phases"]
    with pytest.raises(ValueError):
        t.ilm_policy(0)
    # January's index ages from Feb 1st, when its newest possible post was written.
    assert t.origination_millis(T0) == int(datetime(2026, 2, 1, tzinfo=UTC).timestamp() * 1000)
    assert t.origination_millis(datetime(2026, 12, 5, tzinfo=UTC)) == int(datetime(2027, 1, 1, tzinfo=UTC).timestamp() * 1000)


def test_documents_are_routed_to_the_month_of_their_own_time():
    names = t.IndexNames()
    assert names.index("mentions", T0) == "earshot-mentions-2026.01"
    assert names.index("mentions", T0 + timedelta(hours=1)) == "earshot-mentions-2026.02"
    assert names.index("alerts") == "earshot-alerts"
    assert names.pattern("snapshots") == "earshot-snapshots-*"
    with pytest.raises(ValueError):
        names.index("mentions")
    for bad in ("Earshot", "-x", "a b", "x" * 60, ""):
        with pytest.raises(ValueError):
            t.IndexNames(bad)


# -- queries and documents (pure) -------------------------------------------------


def test_trend_is_a_composite_date_histogram_and_terms_aggregation_and_pages():
    sources = q.trend_aggregation(page_size=2)["trend"]["composite"]["sources"]
    assert sources[0]["hour"]["date_histogram"] == {"field": "created_at", "fixed_interval": "1h", "time_zone": "UTC"}
    assert [next(iter(s)) for s in sources] == ["hour", "brand", "source", "label"]
    assert sources[2]["source"]["terms"]["field"] == "source"
    assert sources[3]["label"]["terms"] == {"field": "sentiment.label", "missing_bucket": True}
    assert q.trend_query(None) == {"match_all": {}}
    assert q.trend_query(T0, "Acme") == {"bool": {"filter": [
        {"range": {"created_at": {"gte": "2026-01-31T23:30:00.000000Z"}}}, {"term": {"brand": "Acme"}}]}}
    hour = int(T0.replace(minute=0).timestamp() * 1000)
    key = {"hour": hour, "brand": "Acme", "source": "x"}
    response = {"aggregations": {"trend": {"after_key": {**key, "label": None}, "buckets": [
        {"key": {**key, "label": "negative"}, "doc_count": 2},
        {"key": {**key, "label": None}, "doc_count": 1},
    ]}}}
    points, after = q.parse_trend(response)
    bucket = T0.replace(minute=0)
    assert points == [TrendPoint(bucket, "x", "negative", 2, "Acme"), TrendPoint(bucket, "x", "unscored", 1, "Acme")]
    assert after == {**key, "label": None}
    assert q.parse_trend({"aggregations": {"trend": {"buckets": []}}}) == ([], None)


def test_queries_for_the_outbox_and_the_unscored():
    assert q.unscored() == {"bool": {"must_not": [{"exists": {"field": "sentiment.label"}}]}}
    assert q.not_delivered_to("slack") == {"bool": {"must_not": [{"term": {"delivered_to": "slack"}}]}}
    assert q.alerts_in_states(["open"]) == {"terms": {"state": ["open"]}}
    assert q.alerts_in_states(None) == {"match_all": {}}


def test_documents_round_trip_and_use_only_mapped_fields():
    m = mention("1", rating=2, app_version="5.2.0", sentiment=Sentiment(label=SentimentLabel.negative, score=-0.5, model="m"),
                engagement=Engagement(likes=3, reposts=1))
    doc = docs.mention_doc(m, T0)
    assert doc["engagement"]["total"] == 5
    assert docs.mention_from_doc(json.loads(json.dumps(doc))) == m
    assert _leaves(doc) <= set(t.field_types(t.MENTION_PROPERTIES))
    a = Alert(id="x:1:warning", mention_id="x:1", brand="Acme", severity=Severity.warning, created_at=T0, reason="r")
    alert_doc = docs.alert_doc(a)
    assert docs.alert_from_doc(alert_doc) == a
    assert _leaves(alert_doc) <= set(t.field_types(t.ALERT_PROPERTIES))
    s = EngagementSnapshot(mention_id="x:1", observed_at=T0, engagement=Engagement(likes=1))
    assert docs.snapshot_from_doc(docs.snapshot_doc(s)) == s
    assert docs.snapshot_id(s) == "x:1@2026-01-31T23:30:00.000000Z"
    assert docs.iso(datetime.min.replace(tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"
    assert docs.parse_iso(docs.iso(T0 + timedelta(microseconds=7))) == T0 + timedelta(microseconds=7)
    long_id = "x:" + "9" * 600
    assert docs.safe_id(long_id).startswith("sha256:") and docs.safe_id(long_id) == docs.safe_id(long_id)


def test_every_field_of_the_models_has_a_mapping_so_none_is_dropped_silently():
    """A field added to Mention or Alert must be added to es_templates and es_docs too."""
    mention_fields = set(t.field_types(t.MENTION_PROPERTIES))
    for name in Mention.model_fields:
        assert name in mention_fields or f"{name}.label" in mention_fields or f"{name}.likes" in mention_fields, name
    assert set(docs.mention_doc(mention("1"), T0)) >= set(Mention.model_fields)
    assert set(Alert.model_fields) <= set(t.ALERT_PROPERTIES)
    assert set(EngagementSnapshot.model_fields) <= set(t.SNAPSHOT_PROPERTIES)


def _leaves(doc: dict, prefix: str = "") -> set[str]:
    """Dotted paths of a document's values: what must be a mapped field."""
    out: set[str] = set()
    for key, value in doc.items():
        out |= _leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return out


def test_handling_times_are_stamped_when_the_state_changes():
    doc = docs.alert_doc(Alert(id="a", mention_id=None, brand="Acme", severity=Severity.info, created_at=T0, reason="r"))
    ack = docs.state_change(doc, AlertState.acknowledged, T0 + timedelta(minutes=12))
    assert ack["first_response_at"] == ack["acknowledged_at"] == docs.iso(T0 + timedelta(minutes=12))
    assert ack["time_to_first_response_minutes"] == 12
    doc.update(ack)
    resolved = docs.state_change(doc, AlertState.resolved, T0 + timedelta(hours=2))
    assert "first_response_at" not in resolved  # the first response happened already
    assert resolved["time_to_resolve_minutes"] == 120
    doc.update(resolved)
    reopened = docs.state_change(doc, AlertState.open, T0 + timedelta(hours=3))
    assert reopened["resolved_at"] is None and reopened["time_to_resolve_minutes"] is None
    assert docs.add_delivery({"delivered_to": ["slack"]}, "slack") is None
    assert docs.add_delivery({"delivered_to": ["slack"]}, "email") == {"delivered_to": ["slack", "email"]}


# -- bulk writes against a loopback Elasticsearch -----------------------------------


def _actions(*ids: str) -> list[dict]:
    return [{"_op_type": "index", "_index": "t-cursors", "_id": i, "_source": {"key": i, "value": "v", "updated_at": "2026-01-01T00:00:00Z"}} for i in ids]


def test_transient_bulk_rejections_are_retried_and_only_the_rejected_documents_are_resent(fake):
    client = client_from_url(fake.url)
    fake.fail_bulk_item("b", 429, "es_rejected_execution_exception", "rejected execution of coordinating operation")
    fake.fail_bulk_item("d", 503, "unavailable_shards_exception", "primary shard is not active", times=2)
    outcome = bulk_write(client, _actions("a", "b", "c", "d"), retry=FAST)
    assert sorted(outcome.ids("succeeded")) == ["a", "b", "c", "d"] and not outcome.failed
    sent = [[next(iter(line.values()))["_id"] for line in request] for request in fake.bulk_requests()]
    assert sent == [["a", "b", "c", "d"], ["b", "d"], ["d"]]


def test_a_rejection_that_persists_and_a_mapping_error_are_reported_with_the_document_id(fake):
    client = client_from_url(fake.url)
    fake.fail_bulk_item("b", 503, "unavailable_shards_exception", "primary shard is not active", times=10)
    actions = _actions("a", "b") + [
        {"_op_type": "index", "_index": "t-cursors", "_id": "bad", "_source": {"key": "bad", "value": "v", "colour": "red"}}
    ]
    setup_indices(client, t.IndexNames("t"), 30)
    outcome = bulk_write(client, actions, retry=FAST)
    assert outcome.ids("succeeded") == {"a"}
    failed = {f.doc_id: f for f in outcome.failed}
    assert failed["b"].status == 503 and "after 3 retries" in failed["b"].reason
    assert failed["bad"].status == 400 and failed["bad"].error_type == "strict_dynamic_mapping_exception"
    assert "[colour]" in failed["bad"].reason
    error = BulkWriteError(outcome.failed, "cursors")
    assert "t-cursors/bad" in str(error) and "t-cursors/b" in str(error)


def test_a_batch_with_a_rejected_post_keeps_the_cursor_so_the_batch_is_fetched_again(store, fake):
    store.ingest([mention("1")], [], cursor_key="source:x", cursor="1")
    fake.fail_bulk_item("x:3", 400, "document_parsing_exception", "failed to parse field [text] in document with id 'x:3'")
    with pytest.raises(BulkWriteError, match="x:3"):
        store.ingest([mention("2"), mention("3")], [], cursor_key="source:x", cursor="2")
    assert store.get_cursor("source:x") == "1"
    # The re-fetch stores the whole batch once; the post stored the first time is not duplicated.
    result = store.ingest([mention("2"), mention("3")], [], cursor_key="source:x", cursor="2")
    assert (result.new_mentions, result.updated_mentions) == (1, 1)
    assert store.count_mentions() == 3 and store.get_cursor("source:x") == "2"


def test_a_write_that_lost_a_race_is_retried_on_fresh_data(store, fake, monkeypatch):
    store.ingest([mention("1")], [])
    other = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)  # another process, say the score task
    real_locate = store._locate
    calls = []

    def stale_once(ids):
        found = real_locate(ids)
        calls.append(1)
        if len(calls) == 1:  # the other writer changes the mention just after we read it
            other.set_sentiments([("x:1", Sentiment(label=SentimentLabel.positive, score=0.5, model="m"))])
        return found

    monkeypatch.setattr(store, "_locate", stale_once)
    result = store.ingest([mention("1", engagement=Engagement(likes=7))], [])
    assert result.updated_mentions == 1 and len(calls) == 2
    stored = store.get_mention("x:1")
    assert stored.engagement.likes == 7 and stored.sentiment.label == SentimentLabel.positive


def test_monthly_indices_carry_their_ilm_origination_date_and_the_read_alias(store, fake):
    store.ingest([mention("1"), mention("2", minutes=40)], [])
    assert {"test-mentions-2026.01", "test-mentions-2026.02"} <= set(fake.indices)
    january = fake.indices["test-mentions-2026.01"]
    assert january.settings["index"]["lifecycle"] == {"name": "test-retention", "origination_date": t.origination_millis(T0)}
    assert january.aliases == {"test-mentions": {}}
    assert fake.policies["test-retention"]["policy"]["phases"]["delete"]["min_age"] == "30d"


def test_conformance_suite_runs_against_the_loopback_server(fake):
    cases = [fn for name, fn in inspect.getmembers(conformance, inspect.isfunction) if name.startswith("test_")]
    assert len(cases) >= 7
    for case in cases:
        store = ElasticsearchStore(client_from_url(fake.url), f"c{len(fake.index_templates)}", retry=FAST)
        try:
            case(store)
        finally:
            store.close()


# -- setup, reindex ----------------------------------------------------------------


def test_index_setup_is_idempotent(fake):
    client = client_from_url(fake.url)
    first = setup_indices(client, t.IndexNames("s"), 90)
    templates = json.dumps(fake.index_templates, sort_keys=True)
    second = setup_indices(client, t.IndexNames("s"), 90)
    assert first.indices_created == ["s-alerts", "s-deliveries", "s-cursors"] and second.indices_created == []
    assert json.dumps(fake.index_templates, sort_keys=True) == templates
    assert set(fake.component_templates) == {"s-settings", *(f"s-{k.name}-mappings" for k in t.KINDS)}
    assert fake.component_templates["s-mentions-mappings"]["template"]["mappings"]["dynamic"] == "strict"


def test_reindex_copies_a_sqlite_store_and_running_it_twice_changes_nothing(tmp_path, store):
    sqlite = SQLiteStore(tmp_path / "e.db")
    snaps = [EngagementSnapshot(mention_id="x:1", observed_at=T0 + timedelta(minutes=m), engagement=Engagement(likes=m)) for m in (0, 5)]
    sqlite.ingest([mention("1"), mention("2", minutes=45)], snaps, cursor_key="source:x", cursor="c1")
    sqlite.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.9, model="m"))])
    sqlite.add_alert(Alert(id="x:1:info", mention_id="x:1", brand="Acme", severity=Severity.info, created_at=T0, reason="r"))
    sqlite.mark_delivered("x:1:info", "slack")
    ticks: dict[str, list] = {}
    report = reindex_sqlite(tmp_path / "e.db", store, lambda label: lambda done, total: ticks.setdefault(label, []).append((done, total)))
    assert report.ok and report.copied == {"mentions": 2, "snapshots": 2, "alerts": 1, "deliveries": 1, "cursors": 1}
    assert ticks["copy mentions"][-1] == (2, 2)
    ids = ["x:1", "x:2"]
    assert store.get_mentions(ids) == sqlite.get_mentions(ids)
    assert store.snapshots_for("x:1") == sqlite.snapshots_for("x:1")
    assert store.get_cursor("source:x") == "c1"
    assert store.undelivered_alerts("slack") == [] and len(store.undelivered_alerts("email")) == 1
    assert store.trend() == sqlite.trend() and store.trend(brand="Acme") == sqlite.trend(brand="Acme")
    assert store.recent_mentions("x", T0) == sqlite.recent_mentions("x", T0)
    assert reindex_sqlite(tmp_path / "e.db", store).ok
    assert (store.count_mentions(), store.count_snapshots()) == (2, 2)
    with pytest.raises(FileNotFoundError):
        reindex_sqlite(tmp_path / "missing.db", store)


# -- clients: credentials from the environment or an Airflow connection --------------


def test_credentials_come_from_the_environment_variables_the_settings_name(fake):
    env = {"ES_URL": fake.url, "ES_KEY": "a2V5OnNlY3JldA=="}
    client_for(EsSettings(url_env="ES_URL", api_key_env="ES_KEY"), environ=env).count(index="none-*")
    assert fake.requests[-1]["headers"]["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    env = {"ES_URL": fake.url, "ES_PASSWORD": "pw"}
    client_for(EsSettings(url_env="ES_URL", username="earshot", password_env="ES_PASSWORD"), environ=env).count(index="none-*")
    assert fake.requests[-1]["headers"]["authorization"].startswith("Basic ")


def test_a_missing_variable_is_named_and_no_secret_is_echoed():
    with pytest.raises(ElasticsearchConfigError, match=r"\$ES_URL"):
        client_for(EsSettings(url_env="ES_URL"), environ={})
    with pytest.raises(ElasticsearchConfigError, match=r"\$ES_PASSWORD") as info:
        client_for(EsSettings(url_env="ES_URL", username="u", password_env="ES_PASSWORD"), environ={"ES_URL": "http://u:hunter2@h:9200"})
    assert "hunter2" not in str(info.value)
    assert redacted("https://elastic:hunter2@es.example:9243/path") == "https://es.example:9243"


def test_inside_an_airflow_task_the_client_comes_from_the_airflow_connection(fake, monkeypatch):
    host, port = fake.server.server_address[:2]
    monkeypatch.setenv("AIRFLOW_CONN_EARSHOT_ES", json.dumps(
        {"conn_type": "elasticsearch", "host": host, "port": port, "schema": "http", "login": "earshot", "password": "pw"}
    ))
    environ = {"AIRFLOW_CTX_DAG_ID": "earshot_process", "ELASTICSEARCH_URL": "http://elsewhere.invalid:9200"}
    client = client_for(EsSettings(airflow_conn_id="earshot_es"), environ=environ)  # not the URL: the connection
    store = ElasticsearchStore(client, "af", retry=FAST)
    store.ingest([mention("1")], [])
    assert store.count_mentions() == 1
    assert all(r["headers"]["authorization"].startswith("Basic ") for r in fake.requests)


def test_the_init_service_sets_the_kibana_password_and_a_least_privilege_earshot_user(fake):
    from monitor.indexing import WRITER_ROLE, bootstrap_security_from_env

    env = {"ELASTICSEARCH_URL": fake.url, "ELASTIC_PASSWORD": "el", "KIBANA_PASSWORD": "kb", "EARSHOT_ES_PASSWORD": "ea"}
    bootstrap_security_from_env(env)
    bootstrap_security_from_env(env)  # idempotent: the init service runs at every `up`
    assert fake.security["password/kibana_system"] == {"password": "kb"}
    assert fake.security["user/earshot"]["roles"] == [WRITER_ROLE]
    role = fake.security[f"role/{WRITER_ROLE}"]
    assert role["indices"] == [{"names": ["earshot-*"], "privileges": ["manage", "read", "write", "view_index_metadata"]}]
    assert "all" not in role["cluster"] and "manage" not in role["cluster"]
    with pytest.raises(SystemExit, match="EARSHOT_ES_PASSWORD"):
        bootstrap_security_from_env({k: v for k, v in env.items() if k != "EARSHOT_ES_PASSWORD"})


def test_outside_airflow_a_missing_url_and_an_undefined_connection_is_one_clear_error(monkeypatch):
    from monitor.store.es_client import describe

    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    settings = EsSettings(url_env="ES_URL", airflow_conn_id="nowhere")
    with pytest.raises(ElasticsearchConfigError, match=r"set \$ES_URL, or define the Airflow connection 'nowhere'"):
        client_for(settings, environ={})
    assert describe(settings) == "elasticsearch, indices earshot-*, URL from $ES_URL (in Airflow: connection 'nowhere')"
