"""Deletions, suspensions, retention and the right to erasure (issue 17), in both stores.

SQLite always; Elasticsearch against the fake server (tests/fake_elasticsearch.py), or a real
one when ELASTICSEARCH_URL is set (tests/test_store_conformance.py runs the protocol there).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli import app as cli
from monitor.config import parse_config
from monitor.models import Alert, AlertEvent, AlertEventKind, AlertState, Engagement, EngagementSnapshot, Mention
from monitor.models import Severity
from monitor.pipeline import cursor_key, ingest
from monitor.removals import apply_removals, forget_author, purge_expired
from monitor.sources.base import Batch, Removal
from monitor.store import SQLiteStore
from monitor.store.base import REMOVED_AUTHOR, MentionQuery
from monitor.store.elasticsearch import ElasticsearchStore
from monitor.store.elasticsearch import templates as t
from monitor.store.elasticsearch.bulk import RetryPolicy
from monitor.store.elasticsearch.client import client_from_url
from monitor.triage import apply_event
from tests.fake_elasticsearch import FakeElasticsearch
from tests.sources.harness_x import XHarness

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
FAST = RetryPolicy(max_retries=3, initial_backoff=0.001, max_backoff=0.01)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request, tmp_path: Path) -> Iterator:
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "earshot.db")
        yield s
        s.close()
        return
    with FakeElasticsearch() as server:
        s = ElasticsearchStore(client_from_url(server.url), "test", retention_days=30,
                               retry=FAST)
        yield s
        s.close()


def mention(native_id: str, *, author: str = "ana", days_ago: float = 0, source: str = "x") -> Mention:
    return Mention(id=Mention.make_id(source, native_id), source=source, native_id=native_id,
                   url=f"https://x.com/{author}/status/{native_id}", author_handle=author, author_followers=10,
                   text=f"acme charged me twice {native_id}", created_at=NOW - timedelta(days=days_ago),
                   brand="Acme", query="acme", engagement=Engagement(likes=3))


def snap(mention_id: str, days_ago: float, likes: int) -> EngagementSnapshot:
    return EngagementSnapshot(mention_id=mention_id, observed_at=NOW - timedelta(days=days_ago),
                              engagement=Engagement(likes=likes))


def alert_on(store, mention_id: str) -> Alert:
    alert = Alert(id=Alert.make_id(mention_id, Severity.warning), mention_id=mention_id, brand="Acme",
                  severity=Severity.warning, created_at=NOW, reason="x post by @ana (10 followers) spreading")
    store.add_alert(alert)
    event = AlertEvent(alert_id=alert.id, at=NOW, actor="Dana", kind=AlertEventKind.state,
                       from_state=AlertState.open, to_state=AlertState.acknowledged)
    store.record_alert_event(event, apply_event)
    return alert


def test_a_tombstone_purges_text_author_and_url_and_keeps_counts_and_triage(store):
    store.ingest([mention("1"), mention("2")], [snap("x:1", 0, 3)])
    alert = alert_on(store, "x:1")
    assert apply_removals(store, [Removal("x:1", "deleted"), Removal("x:404", "deleted")], NOW) == 1
    gone = store.get_mention("x:1")
    assert (gone.text, gone.title, gone.author_handle, gone.url) == ("", None, REMOVED_AUTHOR, "")
    assert (gone.removed, gone.removed_at) == ("deleted", NOW)
    assert gone.brand == "Acme" and gone.engagement.likes == 3
    assert store.count_mentions() == 2 and len(store.snapshots_for("x:1")) == 1
    assert store.get_alert(alert.id).state == AlertState.acknowledged
    assert "@ana" not in store.get_alert(alert.id).reason
    assert [e.kind for e in store.alert_events([alert.id])] == [AlertEventKind.state]
    assert [m.id for m in store.search_mentions(MentionQuery(text="charged")).mentions] == ["x:2"]
    (entry,) = store.erasures()
    assert (entry.action, entry.subject, entry.mentions) == ("removed", "x", 1)
    assert "charged" not in entry.reason  # the log records the fact, never the erased data


def test_a_late_copy_of_a_removed_post_never_brings_it_back(store):
    store.ingest([mention("1")], [])
    store.tombstone([("x:1", "suspended")], NOW)
    store.ingest([mention("1")], [])
    assert store.get_mention("x:1").text == "" and store.get_mention("x:1").removed == "suspended"
    assert apply_removals(store, [Removal("x:1", "deleted")], NOW) == 0  # already a tombstone


def test_retention_deletes_old_posts_and_keeps_alerted_ones_as_tombstones(store):
    store.ingest([mention("old"), mention("alerted", days_ago=40), mention("new", days_ago=1)],
                 [snap("x:old", 0, 1), snap("x:alerted", 40, 1), snap("x:new", 1, 1)])
    store.ingest([mention("old", days_ago=0)], [])  # (created now: kept)
    store.ingest([mention("ancient", days_ago=50)], [snap("x:ancient", 50, 2)])
    alert_on(store, "x:alerted")
    mentions, snapshots = purge_expired(store, 30, NOW)
    assert (mentions, snapshots) == (2, 2)
    assert store.get_mention("x:ancient") is None
    assert store.get_mention("x:alerted").removed == "retention"
    assert store.get_mention("x:new").text.startswith("acme") and store.count_mentions() == 3
    assert store.snapshots_for("x:alerted") == [] and len(store.snapshots_for("x:new")) == 1
    assert [e.action for e in store.erasures()] == ["retention"]
    assert purge_expired(store, None, NOW) == (0, 0)


def test_forget_erases_one_authors_posts_with_an_audit_entry(store):
    store.ingest([mention("1", author="Ana"), mention("2", author="bob"), mention("t3_a", author="ana",
                                                                                  source="reddit")], [])
    entry = forget_author(store, "@ana", NOW, actor="dpo@acme", reason="ticket 4711")
    assert entry.mentions == 2 and entry.subject == "*:ana"
    assert store.get_mention("x:1").removed == "forgotten" and store.get_mention("reddit:t3_a").removed
    assert store.get_mention("x:2").author_handle == "bob"
    assert store.mention_ids_by_author("ana") == []
    (logged,) = store.erasures()
    assert (logged.action, logged.actor, logged.reason, logged.mentions) == ("forget", "dpo@acme", "ticket 4711", 2)


def test_the_elasticsearch_templates_delete_by_ilm_after_retention_days():
    policy = t.ilm_policy(30)
    assert policy["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}
    assert {"removed", "removed_at", "nsfw", "engagement_known"} <= set(t.MENTION_PROPERTIES)
    assert "erasures" in t.KINDS_BY_NAME


def test_earshot_forget_from_the_command_line(tmp_path: Path):
    config = tmp_path / "earshot.yaml"
    config.write_text(yaml.safe_dump({"brands": [{"name": "Acme", "queries": ["acme"]}],
                                      "sources": {"replay": {"path": "none.jsonl"}}}))
    store = SQLiteStore(tmp_path / "earshot.db")
    store.ingest([mention("1", author="ana"), mention("2", author="bob")], [])
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["forget", "@ana", "--yes", "--actor", "dpo", "--reason", "ticket 9",
                                 "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "Erased 1 post(s) by @ana" in result.output
    log = runner.invoke(cli, ["erasures", "-c", str(config)])
    assert "forget" in log.output and "ticket 9" in log.output
    empty = runner.invoke(cli, ["forget", "  ", "--yes", "-c", str(config)])
    assert empty.exit_code == 2 and "handle" in empty.output
    store = SQLiteStore(tmp_path / "earshot.db")
    assert store.get_mention("x:1").removed == "forgotten" and store.get_mention("x:2").removed is None
    store.close()


def test_the_pipeline_tombstones_a_post_x_reports_deleted(tmp_path: Path):
    harness = XHarness()
    harness.start(tmp_path)
    try:
        now = datetime.now(UTC)
        harness.publish("1001", "acme lost my parcel", now - timedelta(minutes=5))
        harness.publish("1002", "acme support is great", now - timedelta(minutes=4))
        config = parse_config({"brands": [{"name": "Acme", "queries": ["acme"]}], "sources": {"x": {}}})
        store = SQLiteStore(tmp_path / "earshot.db")
        source = harness.source()
        ingest(config, store, "x", source=source)
        harness.fake.delete("1001")
        ingest(config, store, "x", source=source)
        assert store.get_mention("x:1001").removed == "deleted" and store.get_mention("x:1001").text == ""
        assert store.get_mention("x:1002").removed is None
        store.close()
    finally:
        harness.stop()


class Deleting:
    """First poll: a post. Second poll: a new post, and word that the first was deleted."""

    name = "x"

    def fetch(self, brands, cursor):
        if cursor is None:
            return Batch(mentions=[mention("1")], cursor="after-1")
        return Batch(mentions=[mention("2")], removals=[Removal("x:1", "deleted")], cursor="after-2")

    def refresh(self, mentions):
        return []


def test_a_run_killed_before_it_applied_a_batchs_removals_applies_them_when_it_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The batch's cursor moves only once its removals are applied: else the next run reads on
    # past them, and the deleted post stays readable for ever.
    config = parse_config({"brands": [{"name": "Acme", "queries": ["acme"]}], "sources": {"x": {}}})
    store = SQLiteStore(tmp_path / "earshot.db")
    ingest(config, store, "x", source=Deleting())

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # or the power going: after the batch was stored, before its removals

    monkeypatch.setattr("monitor.pipeline.apply_removals", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(config, store, "x", source=Deleting())
    assert store.get_mention("x:2") is not None and store.get_cursor(cursor_key("x")) == "after-1"
    monkeypatch.undo()
    stats = ingest(config, store, "x", source=Deleting())
    assert stats.removed == 1 and store.get_mention("x:1").removed == "deleted"
    assert store.get_cursor(cursor_key("x")) == "after-2"
    assert store.count_mentions() == 2 and len(store.erasures()) == 1
    store.close()


def test_an_edit_replaces_the_text_and_is_scored_afresh_and_unknown_counts_keep_the_known(store):
    from monitor.models import Sentiment, SentimentLabel

    store.ingest([mention("1")], [])
    store.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.8, model="m"))])
    edited = mention("1").model_copy(update={"text": "acme refunded me after all",
                                             "engagement": Engagement(), "engagement_known": False})
    store.ingest([edited], [])
    stored = store.get_mention("x:1")
    assert stored.text == "acme refunded me after all" and stored.sentiment is None
    assert [m.id for m in store.unscored_mentions()] == ["x:1"]
    assert stored.engagement.likes == 3 and stored.engagement_known is True  # unknown never replaces known
    assert [m.id for m in store.search_mentions(MentionQuery(text="refunded")).mentions] == ["x:1"]
