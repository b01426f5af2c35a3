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
from monitor import triage
from monitor.indexing import reindex_sqlite
from monitor.models import (
    Alert, AlertEvent, AlertEventKind, AlertState, Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel,
    Severity,
)
from monitor.store import SQLiteStore
from monitor.store.base import TrendPoint
from monitor.store.elasticsearch import AlertWriteContention, ElasticsearchStore, setup_indices
from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch import templates as t
from monitor.store.elasticsearch.bulk import BulkWriteError, RetryPolicy, bulk_write
from monitor.store.elasticsearch.client import ElasticsearchConfigError, client_for, client_from_url, redacted
from monitor.store.elasticsearch.settings import ElasticsearchStoreSettings as EsSettings
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
    tagged = mention("2", topic="billing", team="Billing care")
    assert docs.mention_from_doc(docs.mention_doc(tagged, T0)) == tagged
    assert "topic" not in docs.refetch_update(tagged)  # a re-fetch keeps the tag
    handled = a.model_copy(update={"state": AlertState.resolved, "assignee": "luis", "first_response_at": T0,
                                   "resolved_at": T0 + timedelta(minutes=90)})
    handled_doc = docs.alert_doc(handled)  # `earshot reindex` copies an alert with its handling times
    assert docs.alert_from_doc(handled_doc) == handled and handled_doc["time_to_resolve_minutes"] == 90
    e = AlertEvent(alert_id=a.id, at=T0 + timedelta(microseconds=3), actor="ana", kind=AlertEventKind.state,
                   from_state=AlertState.open, to_state=AlertState.dismissed, text="spam")
    event_doc = {**docs.event_doc(e, brand="Acme", recorded_at=T0), "seq": 4}
    assert tuple(docs.event_doc(e, brand=None, recorded_at=None)) == docs.EVENT_KEYS  # every key, always
    assert docs.event_from_doc(json.loads(json.dumps(event_doc))) == e
    assert _leaves(event_doc) <= set(t.field_types(t.ALERT_EVENT_PROPERTIES))
    assert docs.snapshot_id(s) == "x:1@2026-01-31T23:30:00.000000Z"
    assert docs.iso(datetime.min.replace(tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"
    assert docs.parse_iso(docs.iso(T0 + timedelta(microseconds=7))) == T0 + timedelta(microseconds=7)
    long_id = "x:" + "9" * 600
    assert docs.safe_id(long_id).startswith("sha256:") and docs.safe_id(long_id) == docs.safe_id(long_id)


def test_every_field_of_the_models_has_a_mapping_so_none_is_dropped_silently():
    """A field added to Mention or Alert must be added to templates.py and docs.py too."""
    mention_fields = set(t.field_types(t.MENTION_PROPERTIES))
    for name in Mention.model_fields:
        assert name in mention_fields or f"{name}.label" in mention_fields or f"{name}.likes" in mention_fields, name
    assert set(docs.mention_doc(mention("1"), T0)) >= set(Mention.model_fields)
    assert set(Alert.model_fields) <= set(t.ALERT_PROPERTIES)
    assert set(EngagementSnapshot.model_fields) <= set(t.SNAPSHOT_PROPERTIES)
    assert set(AlertEvent.model_fields) <= set(t.ALERT_EVENT_PROPERTIES)


def _leaves(doc: dict, prefix: str = "") -> set[str]:
    """Dotted paths of a document's values: what must be a mapped field."""
    out: set[str] = set()
    for key, value in doc.items():
        out |= _leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return out


def _state_change(doc: dict, state: AlertState, at: datetime) -> dict:
    """The partial update of a move stamped by triage's rules, as `update_alert` writes it."""
    alert = docs.alert_from_doc(doc)
    return docs.handling_change(doc, alert.model_copy(update=triage.state_stamps(alert, state, at)), at)


def test_handling_times_are_stamped_when_the_state_changes():
    doc = docs.alert_doc(Alert(id="a", mention_id=None, brand="Acme", severity=Severity.info, created_at=T0, reason="r"))
    ack = _state_change(doc, AlertState.acknowledged, T0 + timedelta(minutes=12))
    assert ack["first_response_at"] == ack["acknowledged_at"] == docs.iso(T0 + timedelta(minutes=12))
    assert ack["time_to_first_response_minutes"] == 12
    doc.update(ack)
    resolved = _state_change(doc, AlertState.resolved, T0 + timedelta(hours=2))
    assert "first_response_at" not in resolved  # the first response happened already
    assert resolved["time_to_resolve_minutes"] == 120
    doc.update(resolved)
    reopened = _state_change(doc, AlertState.open, T0 + timedelta(hours=3))
    assert reopened["resolved_at"] is None and reopened["time_to_resolve_minutes"] is None
    doc.update(reopened)
    dismissed = _state_change(doc, AlertState.dismissed, T0 + timedelta(hours=4))
    assert dismissed["dismissed_at"] == docs.iso(T0 + timedelta(hours=4)) and "resolved_at" not in dismissed
    assert dismissed["state"] == "dismissed" and "acknowledged_at" not in dismissed  # only what changes
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


# -- triage: the audit trail under concurrency --------------------------------------


def _alert(native_id: str = "1", severity: Severity = Severity.warning) -> Alert:
    return Alert(id=f"x:{native_id}:{severity.value}", mention_id=f"x:{native_id}", brand="Acme", severity=severity,
                 created_at=T0, reason="r")


def _moved(alert_id: str, minutes: int, old: AlertState, new: AlertState, actor: str = "ana", **extra) -> AlertEvent:
    return AlertEvent(alert_id=alert_id, at=T0 + timedelta(minutes=minutes), actor=actor, kind=AlertEventKind.state,
                      from_state=old, to_state=new, **extra)


def _note(alert_id: str, minutes: int, text: str, actor: str = "ana") -> AlertEvent:
    return AlertEvent(alert_id=alert_id, at=T0 + timedelta(minutes=minutes), actor=actor, kind=AlertEventKind.note,
                      text=text)


def _race(store, monkeypatch, other_action, times: int = 1) -> list[int]:
    """Make another writer act on the alert right after `store` read it, `times` times."""
    real_get = store._get
    raced: list[int] = []

    def get(index, doc_id):
        found = real_get(index, doc_id)
        if index == store._alerts and len(raced) < times:
            raced.append(1)
            other_action()
        return found

    monkeypatch.setattr(store, "_get", get)
    return raced


def test_two_agents_moving_one_alert_at_once_one_wins_and_the_other_gets_a_state_conflict(store, fake, monkeypatch):
    store.add_alert(_alert())
    other = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)  # the other agent's web worker
    ack = _moved("x:1:warning", 1, AlertState.open, AlertState.acknowledged, actor="ana")
    raced = _race(store, monkeypatch, lambda: other.record_alert_event(ack, triage.apply_event))
    with pytest.raises(triage.StateConflict):  # luis saw it open; ana acknowledged it meanwhile
        store.record_alert_event(_moved("x:1:warning", 1, AlertState.open, AlertState.resolved, actor="luis"),
                                 triage.apply_event)
    assert raced == [1]
    assert store.get_alert("x:1:warning").state == AlertState.acknowledged
    assert [(e.actor, e.to_state) for e in store.alert_events(["x:1:warning"])] == [("ana", AlertState.acknowledged)]
    assert len(fake.indices["test-alert_events"].docs) == 1


def test_a_note_racing_a_state_change_is_applied_after_it_and_both_are_in_the_trail(store, fake, monkeypatch):
    store.add_alert(_alert())
    other = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)
    _race(store, monkeypatch, lambda: other.record_alert_event(
        _moved("x:1:warning", 2, AlertState.open, AlertState.acknowledged), triage.apply_event))
    noted = store.record_alert_event(_note("x:1:warning", 2, "calling them", actor="luis"), triage.apply_event)
    assert noted.state == AlertState.acknowledged and noted.first_response_at == T0 + timedelta(minutes=2)
    trail = store.alert_events(["x:1:warning"])
    assert [e.kind for e in trail] == [AlertEventKind.state, AlertEventKind.note]  # same time: as recorded


def test_an_alert_that_keeps_changing_is_a_triage_conflict_not_a_server_error(store, fake, monkeypatch):
    store.add_alert(_alert())
    other = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)
    count = iter(range(100))
    _race(store, monkeypatch, lambda: triage.record(other, _note("x:1:warning", 1, f"n{next(count)}")), times=100)
    monkeypatch.setattr("monitor.store.elasticsearch.alerts.time.sleep", lambda _: None)
    with pytest.raises(AlertWriteContention):
        store.record_alert_event(_note("x:1:warning", 1, "mine"), triage.apply_event)
    with pytest.raises(triage.TriageError) as info:  # what the web layer answers with 409
        triage.record(store, _note("x:1:warning", 1, "mine"))
    assert isinstance(info.value.__cause__, AlertWriteContention)
    assert "mine" not in [e.text for e in store.alert_events(["x:1:warning"])]


def test_an_event_applied_but_not_yet_copied_to_the_trail_index_is_not_lost(store, fake, monkeypatch):
    store.add_alert(_alert())
    real_append = store._append_event

    def dies_copying(event_id):
        def append(body, seq):
            if body["id"] == event_id:
                raise ConnectionError("killed")
            real_append(body, seq)
        return append

    ack = _moved("x:1:warning", 1, AlertState.open, AlertState.acknowledged)
    monkeypatch.setattr(store, "_append_event", dies_copying(ack.id))
    with pytest.raises(ConnectionError):  # the writer dies between applying the event and copying it
        store.record_alert_event(ack, triage.apply_event)
    monkeypatch.setattr(store, "_append_event", real_append)
    assert store.get_alert("x:1:warning").state == AlertState.acknowledged  # applied: the alert is the commit
    assert fake.indices["test-alert_events"].docs == {}
    assert [e.id for e in store.alert_events(["x:1:warning"])] == [ack.id]  # read from the alert meanwhile
    assert store.record_alert_event(ack, triage.apply_event).state == AlertState.acknowledged  # a retry: copies it
    assert list(fake.indices["test-alert_events"].docs) == [ack.id]
    note = _note("x:1:warning", 2, "second")
    monkeypatch.setattr(store, "_append_event", dies_copying(note.id))
    with pytest.raises(ConnectionError):
        store.record_alert_event(note, triage.apply_event)
    monkeypatch.setattr(store, "_append_event", real_append)
    resolve = _moved("x:1:warning", 3, AlertState.acknowledged, AlertState.resolved)
    assert [e.id for e in store.alert_events(["x:1:warning"])] == [ack.id, note.id]
    store.record_alert_event(resolve, triage.apply_event)  # copies the note before replacing it in the alert
    assert set(fake.indices["test-alert_events"].docs) == {ack.id, note.id, resolve.id}
    assert [e.id for e in store.alert_events(["x:1:warning"])] == [ack.id, note.id, resolve.id]


def test_the_trail_index_is_append_only_and_ordered_by_the_update_that_applied_each_event(store, fake):
    store.add_alert(_alert())
    store.add_alert(_alert(severity=Severity.critical))
    store.mark_delivered("x:1:critical", "slack")  # other writes to the alerts index move its _seq_no too
    first = store.record_alert_event(_note("x:1:critical", 5, "a"), triage.apply_event)
    store.record_alert_event(_note("x:1:warning", 5, "b"), triage.apply_event)
    assert first.first_response_at == T0 + timedelta(minutes=5)
    docs_ = sorted(fake.indices["test-alert_events"].docs.values(), key=lambda d: d.source["seq"])
    assert [d.source["text"] for d in docs_] == ["a", "b"] and all(d.version == 1 for d in docs_)
    assert {d.source["brand"] for d in docs_} == {"Acme"}
    writes = [r for r in fake.requests if "/test-alert_events/" in r["path"] and r["method"] in ("PUT", "POST")]
    assert writes and all("/_create/" in r["path"] for r in writes)  # never index, update or delete


def test_topic_tags_and_sentiments_survive_a_conflicting_writer(store, fake):
    store.ingest([mention("1")], [])
    store.set_topics([("x:1", "billing", "Billing care"), ("x:404", "outage", None)])  # unknown ids are skipped
    store.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.5, model="m"))])
    stored = store.get_mention("x:1")
    assert (stored.topic, stored.team, stored.sentiment.label) == ("billing", "Billing care", SentimentLabel.negative)
    updates = [line["update"] for request in fake.bulk_requests() for line in request if "update" in line]
    assert updates and all(u["retry_on_conflict"] >= 1 for u in updates)


# -- setup, reindex ----------------------------------------------------------------


def test_index_setup_is_idempotent(fake):
    client = client_from_url(fake.url)
    first = setup_indices(client, t.IndexNames("s"), 90)
    templates = json.dumps(fake.index_templates, sort_keys=True)
    second = setup_indices(client, t.IndexNames("s"), 90)
    assert first.indices_created == ["s-alerts", "s-deliveries", "s-delivery_claims", "s-quarantine", "s-cursors",
                                     "s-alert_events", "s-erasures"]
    assert second.indices_created == []
    assert json.dumps(fake.index_templates, sort_keys=True) == templates
    assert set(fake.component_templates) == {"s-settings", *(f"s-{k.name}-mappings" for k in t.KINDS)}
    assert fake.component_templates["s-mentions-mappings"]["template"]["mappings"]["dynamic"] == "strict"


def test_reindex_copies_a_sqlite_store_and_running_it_twice_changes_nothing(tmp_path, store):
    sqlite = SQLiteStore(tmp_path / "e.db")
    snaps = [EngagementSnapshot(mention_id="x:1", observed_at=T0 + timedelta(minutes=m), engagement=Engagement(likes=m)) for m in (0, 5)]
    sqlite.ingest([mention("1"), mention("2", minutes=45)], snaps, cursor_key="source:x", cursor="c1")
    sqlite.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.9, model="m"))])
    sqlite.set_topics([("x:1", "billing", "Billing care")])
    sqlite.add_alert(Alert(id="x:1:info", mention_id="x:1", brand="Acme", severity=Severity.info, created_at=T0, reason="r"))
    sqlite.mark_delivered("x:1:info", "slack")
    trail = [
        _note("x:1:info", 3, "looking"),
        _moved("x:1:info", 3, AlertState.open, AlertState.acknowledged),  # same time: recorded after the note
        AlertEvent(alert_id="x:1:info", at=T0 + timedelta(minutes=4), actor="ana", kind=AlertEventKind.assignment,
                   assignee="Billing care"),
        _moved("x:1:info", 30, AlertState.acknowledged, AlertState.resolved, text="refunded"),
    ]
    for e in trail:
        sqlite.record_alert_event(e, triage.apply_event)
    ticks: dict[str, list] = {}
    report = reindex_sqlite(tmp_path / "e.db", store, lambda label: lambda done, total: ticks.setdefault(label, []).append((done, total)))
    assert report.ok and report.copied == {
        "mentions": 2, "snapshots": 2, "alerts": 1, "deliveries": 1, "cursors": 1, "alert_events": 4}
    assert ticks["copy mentions"][-1] == (2, 2) and ticks["copy alert_events"][-1] == (4, 4)
    ids = ["x:1", "x:2"]
    assert store.get_mentions(ids) == sqlite.get_mentions(ids) and store.get_mention("x:1").topic == "billing"
    assert store.get_alert("x:1:info") == sqlite.get_alert("x:1:info")  # state, assignee and handling times
    assert store.alert_events(["x:1:info"]) == sqlite.alert_events(["x:1:info"]) == trail
    assert store.alerts_created(T0, T0 + timedelta(hours=1)) == sqlite.alerts_created(T0, T0 + timedelta(hours=1))
    assert store.snapshots_for("x:1") == sqlite.snapshots_for("x:1")
    assert store.get_cursor("source:x") == "c1"
    assert store.undelivered_alerts("slack") == [] and len(store.undelivered_alerts("email")) == 1
    assert store.trend() == sqlite.trend() and store.trend(brand="Acme") == sqlite.trend(brand="Acme")
    assert store.recent_mentions("x", T0) == sqlite.recent_mentions("x", T0)
    again = reindex_sqlite(tmp_path / "e.db", store)
    assert again.ok and again.copied["alert_events"] == 4  # already there: left as they were
    assert (store.count_mentions(), store.count_snapshots()) == (2, 2)
    assert store.alert_events(["x:1:info"]) == trail
    # The store carries on from the copy: the next action applies to the copied state.
    reopened = store.record_alert_event(_moved("x:1:info", 60, AlertState.resolved, AlertState.open), triage.apply_event)
    assert reopened.resolved_at is None and reopened.acknowledged_at == T0 + timedelta(minutes=3)
    with pytest.raises(FileNotFoundError):
        reindex_sqlite(tmp_path / "missing.db", store)


def test_reindex_reads_a_file_written_before_topics_and_the_audit_trail(tmp_path, store):
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.db")  # the first release's schema: no topic/team, kind, handling, trail
    old.executescript("""
        CREATE TABLE mentions (id TEXT PRIMARY KEY, source TEXT, native_id TEXT, url TEXT, author_handle TEXT,
            author_followers INTEGER, text TEXT, title TEXT, lang TEXT, created_at TEXT, brand TEXT, query TEXT,
            engagement TEXT, rating INTEGER, sentiment_label TEXT, sentiment_score REAL, sentiment_model TEXT,
            first_seen_at TEXT);
        CREATE TABLE snapshots (mention_id TEXT, observed_at TEXT, engagement TEXT, PRIMARY KEY (mention_id, observed_at));
        CREATE TABLE cursors (key TEXT PRIMARY KEY, value TEXT, updated_at TEXT);
        CREATE TABLE alerts (id TEXT PRIMARY KEY, mention_id TEXT, brand TEXT, severity TEXT, created_at TEXT,
            reason TEXT, velocity_per_min REAL, baseline_per_min REAL, state TEXT);
        CREATE TABLE deliveries (alert_id TEXT, channel TEXT, delivered_at TEXT, PRIMARY KEY (alert_id, channel));
        INSERT INTO mentions VALUES ('x:1', 'x', '1', 'https://x.com/a/1', 'ana', 0, 'post 1', NULL, NULL,
            '2026-01-31T23:30:00.000000Z', 'Acme', 'acme', '{"likes": 1}', NULL, NULL, NULL, NULL,
            '2026-01-31T23:31:00.000000Z');
        INSERT INTO alerts VALUES ('x:1:info', 'x:1', 'Acme', 'info', '2026-01-31T23:40:00.000000Z', 'r', 1, 0.5,
            'acknowledged');
    """)
    old.close()
    report = reindex_sqlite(tmp_path / "old.db", store)
    assert report.ok and report.copied == {
        "mentions": 1, "snapshots": 0, "alerts": 1, "deliveries": 0, "cursors": 0, "alert_events": 0}
    assert store.get_mention("x:1").topic is None and store.get_mention("x:1").engagement.likes == 1
    copied = store.get_alert("x:1:info")
    assert copied.kind == "spread" and copied.state == AlertState.acknowledged and copied.first_response_at is None


def test_a_cluster_set_up_by_an_older_earshot_is_brought_up_to_date_when_the_store_starts(fake):
    client = client_from_url(fake.url)
    setup_indices(client, t.IndexNames("u"), 30)
    old = ElasticsearchStore(client, "u", retry=FAST)
    old.ingest([mention("1")], [])
    old.add_alert(_alert())
    # Wind the cluster back to schema version 1: no topic/team, no last_event, no trail index or template.
    for index in fake.indices.values():
        for name in ("topic", "team", "last_event"):
            index.properties.pop(name, None)
    del fake.indices["u-alert_events"]
    del fake.index_templates["u-alert_events"]
    for template in fake.index_templates.values():
        template["_meta"]["schema_version"] = 1
    with pytest.raises(BulkWriteError, match="strict_dynamic_mapping_exception"):
        old.set_topics([("x:1", "billing", None)])  # what an upgrade without the migration would hit

    store = ElasticsearchStore(client_from_url(fake.url), "u", retry=FAST)  # a new version starting
    assert fake.index_templates["u-mentions"]["_meta"]["schema_version"] == t.SCHEMA_VERSION
    assert "topic" in fake.indices["u-mentions-2026.01"].properties  # the existing month got the new fields
    assert "last_event" in fake.indices["u-alerts"].properties and "u-alert_events" in fake.indices
    store.set_topics([("x:1", "billing", None)])
    store.record_alert_event(_note("x:1:warning", 1, "on it"), triage.apply_event)
    assert store.get_mention("x:1").topic == "billing" and len(store.alert_events(["x:1:warning"])) == 1
    report = store.setup()  # and again: nothing changes
    assert report.indices_created == [] and "u-mentions-*" in report.mappings_updated
    with pytest.raises(Exception, match="cannot be changed"):  # a type change would be refused, not applied
        client.indices.put_mapping(index="u-alerts", properties={"state": {"type": "long"}})


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
    from monitor.store.elasticsearch.client import describe

    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    settings = EsSettings(url_env="ES_URL", airflow_conn_id="nowhere")
    with pytest.raises(ElasticsearchConfigError, match=r"set \$ES_URL, or define the Airflow connection 'nowhere'"):
        client_for(settings, environ={})
    assert describe(settings) == "elasticsearch, indices earshot-*, URL from $ES_URL (in Airflow: connection 'nowhere')"


# -- the protocol's delivery claims and quarantine, on the fake server ---------------------


def test_delivery_claims_and_quarantine_follow_the_store_protocol(store):
    from tests import test_store_conformance as conformance

    conformance.check_a_delivery_is_claimed_by_one_sender_until_its_lease_lapses(store)
    conformance.check_bad_records_are_quarantined_once_and_the_rest_of_the_batch_commits(store)


def test_a_released_delivery_claim_can_be_taken_at_once(store):
    from tests import test_store_conformance as conformance

    conformance.check_a_released_claim_can_be_taken_at_once(store)
