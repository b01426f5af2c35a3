"""Elasticsearch serving a brand manager: stemmed search per language, ECS time, 8.x and 9.x, no refresh per write.

Every test runs against a real server when ELASTICSEARCH_URL is set, and against the fake
(tests/fake_elasticsearch.py) otherwise; the fake refuses what the real server refuses, so
the tests that check refusals run against the fake only (they need a given server version).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from monitor.models import Mention, UnscoredPost
from monitor.store.base import MentionQuery
from monitor.store.elasticsearch import ElasticsearchStore
from monitor.store.elasticsearch import templates as t
from monitor.store.elasticsearch.bulk import RetryPolicy
from monitor.store.elasticsearch.client import client_from_url
from tests.fake_elasticsearch import FakeElasticsearch

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
FAST = RetryPolicy(max_retries=2, initial_backoff=0.001, max_backoff=0.01)
REAL = os.environ.get("ELASTICSEARCH_URL")


@pytest.fixture(params=["9.1.0", "8.17.0"] if not REAL else ["real"])
def server(request):
    """A server URL: the real one, or the fake speaking Elasticsearch 9 and then 8."""
    if REAL:
        yield REAL
        return
    with FakeElasticsearch(version=request.param) as fake:
        yield fake.url


@pytest.fixture
def store(server):
    prefix = f"t{uuid.uuid4().hex[:8]}" if REAL else "test"
    s = ElasticsearchStore(client_from_url(server), prefix, retention_days=None, retry=FAST)
    yield s
    if REAL:
        s.delete_everything()
    s.close()


def post(native_id: str, text: str, lang: str | None, minutes: int = 0, title: str | None = None) -> Mention:
    return Mention(id=f"x:{native_id}", source="x", native_id=native_id, url=f"https://x.com/a/status/{native_id}",
                   author_handle="ana", text=text, title=title, lang=lang, created_at=T0 + timedelta(minutes=minutes),
                   brand="Acme", query="acme")


def found(store, text: str) -> list[str]:
    return sorted(m.id for m in store.search_mentions(MentionQuery(text=text, limit=50)).mentions)


# -- search by meaning, in the post's language ----------------------------------------------


def test_a_search_finds_stemmed_forms_in_each_posts_language(store):
    store.ingest([
        post("1", "Me llegaron dos facturas este mes", "es"),
        post("2", "They refunded me twice, finally", "en", 1),
        post("3", "Pembayaran gagal terus sejak kemarin", "id", 2),
        post("4", "facturas facturas", None, 3),  # language unknown: only the default field, exact words
    ], [])
    assert found(store, "factura") == ["x:1"]  # Spanish: factura -> factur <- facturas
    assert found(store, "refund") == ["x:2"]  # English: refund <- refunded
    assert found(store, "bayar") == ["x:3"]  # Indonesian: pembayaran -> bayar
    assert found(store, "facturas") == ["x:1", "x:4"]  # the exact word still finds any post
    assert found(store, "refunds -twice") == []


def test_a_language_detected_after_ingest_enables_its_stemming(store):
    store.ingest([post("1", "Otra vez las facturas duplicadas", None)], [])
    assert found(store, "factura") == []
    store.set_languages([("x:1", "es")])
    assert found(store, "factura") == ["x:1"]


def test_analyze_shows_the_index_templates_analyzers_at_work(store):
    store.ingest([post("1", "factura", "es")], [])
    index = store.names.index("mentions", T0)
    client = store.client

    def tokens(field: str, text: str) -> list[str]:
        return [tok["token"] for tok in client.indices.analyze(index=index, field=field, text=text)["tokens"]]

    assert tokens("text_lang.es", "factura") == tokens("text_lang.es", "facturas")
    assert tokens("text_lang.en", "refund") == tokens("text_lang.en", "refunded") == tokens("text_lang.en", "refunds")
    assert tokens("text", "facturas") == ["facturas"]  # the default field does not stem
    assert set(t.LANGUAGE_ANALYZERS) >= {"en", "es", "id"}


def test_every_supported_language_maps_to_a_built_in_analyzer():
    from sentiment.langid import DEFAULT_LANGUAGES

    assert set(DEFAULT_LANGUAGES) <= set(t.LANGUAGE_ANALYZERS)
    props = t.MENTION_PROPERTIES["text_lang"]["properties"]
    assert {code: spec["analyzer"] for code, spec in props.items()} == t.LANGUAGE_ANALYZERS
    assert t.language_code("pt-BR") == "pt" and t.language_code("xx") is None and t.language_code(None) is None


# -- Kibana-ready documents --------------------------------------------------------------------


def test_documents_carry_an_ecs_timestamp(store):
    store.ingest([post("1", "hola", "es", minutes=7)], [])
    doc = store.client.get(index=store.names.index("mentions", T0), id="x:1")["_source"]
    assert doc["@timestamp"] == doc["created_at"] == "2026-03-10T09:07:00.000000Z"
    assert doc["text_lang"] == {"es": "hola"}
    mappings = t.field_types(t.MENTION_PROPERTIES)
    assert mappings["@timestamp"] == "date"
    assert t.field_types(t.ALERT_PROPERTIES)["@timestamp"] == t.field_types(t.SNAPSHOT_PROPERTIES)["@timestamp"]


# -- no refresh per write ----------------------------------------------------------------------


def test_a_batch_is_searchable_for_the_next_step_without_a_forced_refresh(server):
    if REAL:
        pytest.skip("counts the fake's refreshes")
    with FakeElasticsearch() as fake:
        store = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)
        before = len(fake.requests)
        for batch in range(3):
            store.ingest([post(f"{batch}-{i}", f"texto {i}", "es", i) for i in range(50)], [], "source:x", f"c{batch}")
        sent = fake.requests[before:]
        assert not any(r["params"].get("refresh") not in (None, "false") for r in sent)  # no refresh per write
        assert not any(r["path"].endswith("/_refresh") for r in sent)
        assert store.get_cursor("source:x") == "c2"  # read back by id: real-time
        assert len(store.unscored_mentions(limit=1000)) == 150  # the next step finds all three batches...
        assert sum(r["path"].endswith("/_refresh") for r in fake.requests[before:]) == 1  # ...after one refresh
        assert store.unscored_posts(limit=1000) == [UnscoredPost.of(m) for m in store.unscored_mentions(limit=1000)]
        store.set_sentiments([])
        store.close()


def test_scoring_reads_pending_posts_as_the_few_fields_it_needs():
    with FakeElasticsearch() as fake:
        store = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)
        review = post("2", "no funciona", "es", 1, title="Fatal").model_copy(update={"rating": 1})
        store.ingest([post("1", "hola", None), review], [])
        assert store.unscored_posts() == [UnscoredPost("x:1", "hola"), UnscoredPost("x:2", "no funciona", "Fatal", "es", 1)]
        assert store.unscored_posts() == [UnscoredPost.of(m) for m in store.unscored_mentions()]
        store.ingest([post("3", "hola", "es", 1).model_copy(update={"brand": "Other"})], [])
        chunk = dict(brand="Acme", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
        assert [p.id for p in store.unscored_posts(**chunk)] == ["x:2"]  # a scoring chunk: brand, span
        assert [p.id for p in store.unscored_posts(brand="Acme", until=T0 + timedelta(minutes=1))] == ["x:1"]
        store.close()


def test_closing_the_store_hands_its_writes_to_the_next_process():
    with FakeElasticsearch(clock=lambda: 0.0) as fake:  # no scheduled refresh ever happens here
        writer = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)
        writer.ingest([post("1", "hola", "es")], [])
        writer.close()  # an Airflow task ends
        reader = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)  # the next task
        assert [m.id for m in reader.unscored_mentions()] == ["x:1"]
        reader.close()


def test_the_fake_is_near_real_time_like_the_server():
    clock = [0.0]
    with FakeElasticsearch(clock=lambda: clock[0]) as fake:
        client = client_from_url(fake.url)
        client.index(index="plain", id="1", document={"a": 1})
        assert client.get(index="plain", id="1")["found"]  # GET is real-time
        assert client.count(index="plain")["count"] == 0  # search is not, until a refresh
        clock[0] += 1.5  # the index's refresh interval passes
        assert client.count(index="plain")["count"] == 1
        client.index(index="plain", id="2", document={"a": 2}, refresh="wait_for")
        assert client.count(index="plain")["count"] == 2


# -- what the real server refuses, the fake refuses ----------------------------------------------


def test_an_8x_server_refuses_the_9x_compatibility_header_and_the_store_adapts():
    with FakeElasticsearch(version="8.17.0") as fake:
        with pytest.raises(BadRequestError) as refused:
            Elasticsearch(fake.url).search(index="*", allow_no_indices=True)
        assert refused.value.meta.status == 400
        assert "media_type_header_exception" in str(refused.value.body)
        start = len(fake.requests)
        store = ElasticsearchStore(client_from_url(fake.url), "test", retry=FAST)
        store.ingest([post("1", "facturas", "es")], [])
        assert found(store, "factura") == ["x:1"]
        accepts = {r["headers"].get("accept") for r in fake.requests[start:] if r["path"] != "/"}
        assert accepts <= {"application/vnd.elasticsearch+json; compatible-with=8", None}
        store.close()


def test_the_version_is_learnt_from_a_refusal_when_get_root_is_forbidden():
    with FakeElasticsearch(version="8.15.0") as fake:
        real_route = fake.route

        def no_root(method, parts, params, raw):
            if not parts:
                from tests.fake_elasticsearch import EsError
                raise EsError(403, "security_exception", "action [cluster:monitor/main] is unauthorized")
            return real_route(method, parts, params, raw)

        fake.route = no_root
        client = client_from_url(fake.url)
        assert client.count(index="*", allow_no_indices=True)["count"] == 0


def test_unknown_parameters_and_bad_refresh_values_are_refused():
    with FakeElasticsearch() as fake:
        client = client_from_url(fake.url)
        with pytest.raises(BadRequestError, match="unrecognized parameter"):
            client.perform_request("GET", "/x/_search", params={"sizee": "1"}, headers={"accept": "application/json"})
        with pytest.raises(BadRequestError, match="Unknown value for refresh"):
            client.index(index="x", id="1", document={}, refresh="yes")


def test_strict_mappings_and_unknown_analyzers_are_refused(store):
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception|mapping set to strict"):
        store.client.index(index=store.names.index("alerts"), id="z", document={"no_such_field": 1})
    if REAL:
        return
    with pytest.raises(BadRequestError, match="analyzer \\[klingon\\]"):
        store.client.indices.create(index="other", mappings={"properties": {"t": {"type": "text",
                                                                                  "analyzer": "klingon"}}})


@pytest.mark.parametrize(("source", "handle", "url"), [
    ("x", "ana_sousa", "https://x.com/ana_sousa"),
    ("reddit", "u_ana", "https://www.reddit.com/user/u_ana"),
    ("bluesky", "ana.bsky.social", "https://bsky.app/profile/ana.bsky.social"),
    ("mastodon", "ana@mastodon.social", "https://mastodon.social/@ana"),
    ("appstore", "Ana S.", None),  # reviewers have no profile page
])
def test_the_author_link_kibana_renders_is_the_platforms_profile(source, handle, url):
    from monitor.store.elasticsearch.docs import author_url

    mention = post("1", "hola", "es").model_copy(update={"source": source, "author_handle": handle})
    assert author_url(mention) == url
