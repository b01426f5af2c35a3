"""The Store protocol, as every backend must honour it.

Runs against SQLite always. The Elasticsearch backend joins the `store` parametrisation
when it exists and ELASTICSEARCH_URL is set.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import (
    Alert, AlertEvent, AlertEventKind, AlertState, Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel,
    Reading, Severity, UnscoredPost,
)
from monitor.store import RECORD_KINDS, SQLiteStore
from monitor.store.base import UNSCORED, CaseQuery, InvalidQuery, MentionQuery, MentionSort
from monitor.triage import InvalidTransition, StateConflict, apply_event, set_state

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend(request, tmp_path):
    if request.param == "elasticsearch":
        if not os.environ.get("ELASTICSEARCH_URL"):
            pytest.skip("ELASTICSEARCH_URL is not set: no Elasticsearch server on this machine")
        from monitor.store.elasticsearch import ElasticsearchStore

        # A fresh prefix per test: its own templates, policy and indices, deleted afterwards.
        store = ElasticsearchStore.from_env(index_prefix=f"earshot-test-{uuid.uuid4().hex[:12]}")
        yield store
        store.delete_everything()
        store.close()
        return
    store = SQLiteStore(tmp_path / "store.db")
    yield store
    store.close()


def mention(native_id: str, minutes: int = 0, likes: int = 0, **extra) -> Mention:
    return Mention(
        id=Mention.make_id("x", native_id), source="x", native_id=native_id, url=f"https://x.com/a/{native_id}",
        author_handle="ana", author_followers=10, text=f"post {native_id}", created_at=T0 + timedelta(minutes=minutes),
        brand="Acme", query="acme", engagement=Engagement(likes=likes), **extra,
    )


def snapshot(mention_id: str, minutes: int, likes: int) -> EngagementSnapshot:
    return EngagementSnapshot(mention_id=mention_id, observed_at=T0 + timedelta(minutes=minutes),
                              engagement=Engagement(likes=likes))


def alert(mention_id: str, severity: Severity, minutes: int = 0) -> Alert:
    return Alert(id=Alert.make_id(mention_id, severity), mention_id=mention_id, brand="Acme", severity=severity,
                 created_at=T0 + timedelta(minutes=minutes), reason="because", velocity_per_min=5, baseline_per_min=1)


def test_re_ingesting_a_mention_never_duplicates_it_and_keeps_its_sentiment(backend):
    backend.ingest([mention("1")], [])
    backend.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.8, model="m"))])
    result = backend.ingest([mention("1", likes=50)], [])
    assert (result.new_mentions, result.updated_mentions) == (0, 1)
    assert backend.count_mentions() == 1
    stored = backend.get_mention("x:1")
    assert stored.engagement.likes == 50
    assert stored.sentiment.label == SentimentLabel.negative


def test_snapshots_are_append_only_and_deduplicated(backend):
    backend.ingest([mention("1")], [snapshot("x:1", 0, 0), snapshot("x:1", 10, 4)])
    again = backend.ingest([], [snapshot("x:1", 10, 4), snapshot("x:1", 20, 9)])
    assert again.new_snapshots == 1
    assert [s.engagement.likes for s in backend.snapshots_for("x:1")] == [0, 4, 9]
    assert backend.latest_observation() == T0 + timedelta(minutes=20)
    assert [s.observed_at for s in backend.snapshots_since(T0 + timedelta(minutes=10))] == [
        T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)]
    assert backend.get_mention("x:1").engagement.likes == 9  # the mention carries its latest engagement


def test_spread_detection_reads_what_the_snapshots_and_mentions_say(backend):
    """The light reads spread detection uses agree with the whole objects: engagement totals (reposts
    and quotes double, a negative score as 0), brand filter, time bounds, and each post's sign."""
    other = mention("2", 5).model_copy(update={"brand": "Other"})
    review = mention("3", 6, rating=2)  # a 1-2 star review is negative whatever its text says
    backend.ingest([mention("1"), other, review], [
        snapshot("x:1", 0, 0), EngagementSnapshot(mention_id="x:1", observed_at=T0 + timedelta(minutes=10),
                                                  engagement=Engagement(likes=3, reposts=2, quotes=1, replies=4,
                                                                        score=-5)),
        snapshot("x:2", 15, 7), snapshot("x:1", 30, 9)])
    backend.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.8, model="m")),
                            ("x:2", Sentiment(label=SentimentLabel.positive, score=0.8, model="m"))])
    since, until = T0 + timedelta(minutes=5), T0 + timedelta(minutes=15)
    assert backend.engagement_points(since, until) == [(s.mention_id, s.observed_at, s.engagement.total)
                                                       for s in backend.snapshots_since(since, until)]
    assert backend.engagement_points(since, until) == [("x:1", T0 + timedelta(minutes=10), 3 + 2 * 3 + 4),
                                                       ("x:2", T0 + timedelta(minutes=15), 7)]
    assert [p[0] for p in backend.engagement_points(since, brand="Acme")] == ["x:1", "x:1"]
    facts = backend.post_facts(["x:1", "x:2", review.id, "x:missing"])
    assert {k: (f.brand, f.created_at, f.negative) for k, f in facts.items()} == {
        "x:1": ("Acme", T0, True), "x:2": ("Other", T0 + timedelta(minutes=5), False),
        review.id: ("Acme", T0 + timedelta(minutes=6), True)}


def test_a_post_twice_in_one_batch_is_one_mention_updated_by_its_second_copy(backend):
    result = backend.ingest([mention("1", likes=1), mention("2"), mention("1", likes=7)], [])
    assert result.new_mentions == 2
    assert backend.count_mentions() == 2
    assert backend.get_mention("x:1").engagement.likes == 7


def test_an_edit_in_the_same_batch_as_its_post_is_the_text_stored(backend):
    edited = mention("1").model_copy(update={"text": "post 1, edited"})
    backend.ingest([mention("1"), edited], [])
    assert backend.get_mention("x:1").text == "post 1, edited"
    assert [m.id for m in backend.unscored_mentions(limit=10)] == ["x:1"]


def test_a_batch_of_snapshots_counts_only_new_readings_and_keeps_the_latest_engagement(backend):
    backend.ingest([mention("1"), mention("2")], [snapshot("x:1", 30, 5)])
    result = backend.ingest([], [snapshot("x:1", 30, 5), snapshot("x:1", 10, 1), snapshot("x:2", 20, 8),
                                 snapshot("x:2", 5, 2), snapshot("x:1", 20, 3)])
    assert result.new_snapshots == 4  # the reading at 30 min was already stored
    assert backend.get_mention("x:1").engagement.likes == 5  # older readings arriving late change nothing
    assert backend.get_mention("x:2").engagement.likes == 8  # the latest of the batch, whatever its place in it


def test_the_totals_follow_every_way_rows_arrive_and_leave(backend):
    """`count_mentions` and `count_snapshots` are the totals every page shows, kept as rows come and
    go rather than counted: right after new rows, re-fetched posts and readings already stored, a
    batch redone row by row around a row that cannot be stored, an import over stored rows, a purge."""
    def totals() -> tuple[int, int]:
        return backend.count_mentions(), backend.count_snapshots()

    days = 60 * 24
    backend.ingest([mention("1"), mention("2")], [snapshot("x:1", 0, 0), snapshot("x:2", 0, 0)])
    assert totals() == (2, 2)
    backend.ingest([mention("1", likes=3), mention("3", 10 * days)],
                   [snapshot("x:1", 0, 0), snapshot("x:1", 10, 3), snapshot("x:3", 10 * days, 1)])
    assert totals() == (3, 4)
    poison = mention("4").model_copy(update={"text": "broken \ud800 text"})  # a lone surrogate: set aside
    backend.ingest([poison, mention("5", 10 * days)], [snapshot("x:4", 5, 1), snapshot("x:5", 10 * days, 2)])
    assert totals() == (4, 5)
    for kind in RECORD_KINDS:  # every row replaced by itself: nothing more, nothing less
        assert backend.import_records(kind, backend.export_records(kind).records()).failures == []
    assert totals() == (4, 5)
    with tempfile.TemporaryDirectory() as tmp:
        other = SQLiteStore(Path(tmp) / "other.db")
        try:
            other.ingest([mention("1", likes=8), mention("6", 10 * days)],
                         [snapshot("x:1", 10, 3), snapshot("x:6", 10 * days, 1)])
            for kind in RECORD_KINDS:
                assert backend.import_records(kind, other.export_records(kind).records()).failures == []
        finally:
            other.close()
    assert totals() == (5, 6)
    purged, deleted = backend.purge_older_than(T0 + timedelta(days=1))  # x:1 and x:2, with their 3 readings
    assert (purged, deleted) == (2, 3)
    assert totals() == (3, 3)


def test_a_batch_and_its_cursor_are_stored_together(backend):
    backend.ingest([mention("1")], [], cursor_key="source:x", cursor="42")
    assert backend.get_cursor("source:x") == "42"
    with pytest.raises(Exception):
        backend.ingest([mention("2"), "not a mention"], [], cursor_key="source:x", cursor="43")  # type: ignore[list-item]
    assert backend.get_cursor("source:x") == "42"
    assert backend.count_mentions() == 1


def test_unscored_mentions_are_the_ones_without_sentiment(backend):
    backend.ingest([mention("1"), mention("2", minutes=1)], [])
    backend.set_sentiments([("x:1", Sentiment(label=SentimentLabel.positive, score=0.7, model="m"))])
    assert [m.id for m in backend.unscored_mentions()] == ["x:2"]


def test_unscored_posts_are_the_unscored_mentions_as_scoring_reads_them(backend):
    backend.ingest([mention("1"), mention("2", minutes=2, title="Bill", lang="es", rating=2), mention("3", minutes=1)],
                   [])
    backend.set_sentiments([("x:1", Sentiment(label=SentimentLabel.positive, score=0.7, model="m"))])
    expected = [UnscoredPost.of(m) for m in backend.unscored_mentions()]
    assert expected == [UnscoredPost("x:3", "post 3"), UnscoredPost("x:2", "post 2", "Bill", "es", 2)]
    assert backend.unscored_posts() == expected and backend.unscored_posts(limit=1) == expected[:1]


def test_unscored_posts_of_a_scoring_chunk_are_its_brands_in_its_span(backend):
    backend.ingest([mention("1"), mention("2", minutes=5), mention("3", minutes=10),
                    mention("4", minutes=5).model_copy(update={"brand": "Other"})], [])
    ids = lambda **where: [p.id for p in backend.unscored_posts(**where)]  # noqa: E731
    assert ids(brand="Acme") == ["x:1", "x:2", "x:3"] and ids(brand="Other") == ["x:4"]
    assert ids(brand="Acme", since=T0 + timedelta(minutes=5)) == ["x:2", "x:3"]  # at or after
    assert ids(brand="Acme", until=T0 + timedelta(minutes=5)) == ["x:1"]  # before
    assert ids(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=10)) in (["x:2", "x:4"], ["x:4", "x:2"])


def test_readings_of_posts_are_their_snapshots_counts(backend):
    backend.ingest([mention("1"), mention("2")], [snapshot("x:1", 9, 4), snapshot("x:1", 3, 1), snapshot("x:2", 5, 2)])
    expected = {mid: [Reading.of(s) for s in snaps] for mid, snaps in backend.snapshots_of(["x:1", "x:2"]).items()}
    assert backend.readings_of(["x:1", "x:2", "x:3"]) == expected
    assert [r.likes for r in expected["x:1"]] == [1, 4] and [r.likes for r in expected["x:2"]] == [2]


def test_a_brands_noise_task_reads_its_brands_unjudged_posts_and_newest_mark(backend):
    from monitor.noise.marks import NoiseMark

    backend.ingest([mention("1"), mention("2", minutes=5), mention("3", minutes=10),
                    mention("4", minutes=7).model_copy(update={"brand": "Other"})], [])
    judged = mention("2", minutes=5)
    backend.set_noise([NoiseMark(mention_id=judged.id, brand="Acme", author_handle="ana", author_followers=10,
                                 created_at=judged.created_at, duplicate_of=None, bands=(), signature=b"")])
    ids = lambda **where: [p.id for p in backend.unjudged_posts(**where)]  # noqa: E731
    assert ids(brand="Acme") == ["x:1", "x:3"] and ids(brand="Other") == ["x:4"]
    assert ids(brand="Acme", since=T0 + timedelta(minutes=1)) == ["x:3"] and ids() == ["x:1", "x:4", "x:3"]
    assert backend.newest_judged("Acme") == judged.created_at and backend.newest_judged("Other") is None


def test_an_alert_is_stored_once_and_its_state_changes(backend):
    backend.ingest([mention("1")], [])
    assert backend.add_alert(alert("x:1", Severity.warning)) is True
    assert backend.add_alert(alert("x:1", Severity.warning)) is False
    assert backend.add_alert(alert("x:1", Severity.critical, minutes=5)) is True
    assert [a.severity for a in backend.alerts()] == [Severity.critical, Severity.warning]
    set_state(backend, "x:1:warning", AlertState.acknowledged, T0)
    assert [a.id for a in backend.alerts([AlertState.open])] == ["x:1:critical"]
    assert {a.id for a in backend.alerts_for(["x:1"])} == {"x:1:warning", "x:1:critical"}
    with pytest.raises(KeyError):
        set_state(backend, "nope", AlertState.resolved, T0)


def test_the_outbox_holds_each_alert_until_a_channel_has_it(backend):
    backend.add_alert(alert("x:1", Severity.info))
    backend.add_alert(alert("x:2", Severity.info, minutes=1))
    assert [a.id for a in backend.undelivered_alerts("slack")] == ["x:1:info", "x:2:info"]
    backend.mark_delivered("x:1:info", "slack")
    backend.mark_delivered("x:1:info", "slack")
    assert [a.id for a in backend.undelivered_alerts("slack")] == ["x:2:info"]
    assert len(backend.undelivered_alerts("email")) == 2


def test_trend_counts_mentions_per_hour_source_and_label(backend):
    backend.ingest([mention("1"), mention("2", minutes=5), mention("3", minutes=70)], [])
    backend.set_sentiments([("x:1", Sentiment(label=SentimentLabel.negative, score=-0.5, model="m"))])
    points = {(p.bucket.hour, p.label): p.count for p in backend.trend()}
    assert points == {(10, "negative"): 1, (10, "unscored"): 1, (11, "unscored"): 1}


# -- triage: topics, the audit trail and handling times ------------------------------


def event(alert_id: str, minutes: int, kind: AlertEventKind, actor: str = "ana", **fields) -> AlertEvent:
    return AlertEvent(alert_id=alert_id, at=T0 + timedelta(minutes=minutes), actor=actor, kind=kind, **fields)


def moved(alert_id: str, minutes: int, old: AlertState, new: AlertState, **fields) -> AlertEvent:
    return event(alert_id, minutes, AlertEventKind.state, from_state=old, to_state=new, **fields)


def test_topics_are_set_on_mentions_and_survive_a_re_fetch(backend):
    backend.ingest([mention("1"), mention("2")], [])
    backend.set_topics([("x:1", "billing", "Billing care"), ("x:2", "outage", None)])
    backend.ingest([mention("1", likes=3)], [])
    found = backend.get_mentions(["x:1", "x:2"])
    assert (found["x:1"].topic, found["x:1"].team) == ("billing", "Billing care")
    assert (found["x:2"].topic, found["x:2"].team) == ("outage", None)
    assert found["x:1"].engagement.likes == 3


def test_alert_events_apply_and_stamp_the_handling_times(backend):
    backend.add_alert(alert("x:1", Severity.warning))
    note = backend.record_alert_event(event("x:1:warning", 3, AlertEventKind.note, text="looking"), apply_event)
    assert note.state == AlertState.open and note.first_response_at == T0 + timedelta(minutes=3)
    acked = backend.record_alert_event(moved("x:1:warning", 5, AlertState.open, AlertState.acknowledged), apply_event)
    assert acked.state == AlertState.acknowledged and acked.acknowledged_at == T0 + timedelta(minutes=5)
    assert acked.first_response_at == T0 + timedelta(minutes=3)  # the note was the first response
    assigned = backend.record_alert_event(event("x:1:warning", 6, AlertEventKind.assignment, assignee="Billing care"),
                                          apply_event)
    assert assigned.assignee == "Billing care"
    resolved = backend.record_alert_event(moved("x:1:warning", 30, AlertState.acknowledged, AlertState.resolved,
                                                text="refunded"), apply_event)
    assert resolved.resolved_at == T0 + timedelta(minutes=30)
    reopened = backend.record_alert_event(moved("x:1:warning", 40, AlertState.resolved, AlertState.open), apply_event)
    assert reopened.state == AlertState.open and reopened.resolved_at is None
    assert reopened.acknowledged_at == T0 + timedelta(minutes=5) and reopened.assignee == "Billing care"
    dismissed = backend.record_alert_event(moved("x:1:warning", 41, AlertState.open, AlertState.dismissed,
                                                 text="duplicate"), apply_event)
    assert dismissed.dismissed_at == T0 + timedelta(minutes=41) and dismissed.resolved_at is None
    stored = backend.get_alert("x:1:warning")
    assert stored == dismissed
    trail = backend.alert_events(["x:1:warning"])
    assert [(e.kind, e.to_state, e.text) for e in trail] == [
        (AlertEventKind.note, None, "looking"),
        (AlertEventKind.state, AlertState.acknowledged, None),
        (AlertEventKind.assignment, None, None),
        (AlertEventKind.state, AlertState.resolved, "refunded"),
        (AlertEventKind.state, AlertState.open, None),
        (AlertEventKind.state, AlertState.dismissed, "duplicate"),
    ]
    assert all(e.actor == "ana" for e in trail) and trail[2].assignee == "Billing care"


def test_a_stale_or_invalid_state_event_changes_nothing(backend):
    backend.add_alert(alert("x:1", Severity.warning))
    backend.record_alert_event(moved("x:1:warning", 1, AlertState.open, AlertState.acknowledged, actor="ana"),
                               apply_event)
    with pytest.raises(StateConflict):  # luis clicked on a page that still showed it open
        backend.record_alert_event(moved("x:1:warning", 2, AlertState.open, AlertState.resolved, actor="luis"),
                                   apply_event)
    with pytest.raises(InvalidTransition):
        backend.record_alert_event(moved("x:1:warning", 3, AlertState.acknowledged, AlertState.open), apply_event)
    with pytest.raises(KeyError):
        backend.record_alert_event(event("nope", 1, AlertEventKind.note, text="x"), apply_event)
    assert backend.get_alert("x:1:warning").state == AlertState.acknowledged
    assert [e.actor for e in backend.alert_events(["x:1:warning"])] == ["ana"]


def test_recording_the_same_event_twice_stores_it_once(backend):
    backend.add_alert(alert("x:1", Severity.info))
    first = moved("x:1:info", 1, AlertState.open, AlertState.acknowledged)
    backend.record_alert_event(first, apply_event)
    assert backend.record_alert_event(first, apply_event).state == AlertState.acknowledged  # a retry, not a conflict
    assert [e.id for e in backend.alert_events(["x:1:info"])] == [first.id]


def test_alert_events_of_several_alerts_come_oldest_first(backend):
    backend.add_alert(alert("x:1", Severity.warning))
    backend.add_alert(alert("x:1", Severity.critical, minutes=2))
    backend.record_alert_event(event("x:1:critical", 9, AlertEventKind.note, text="later"), apply_event)
    backend.record_alert_event(event("x:1:warning", 4, AlertEventKind.note, text="earlier"), apply_event)
    backend.record_alert_event(event("x:1:warning", 9, AlertEventKind.note, text="same time, recorded last"),
                               apply_event)
    texts = [e.text for e in backend.alert_events(["x:1:critical", "x:1:warning"])]
    assert texts == ["earlier", "later", "same time, recorded last"]
    assert backend.alert_events(["x:1:critical"])[0].alert_id == "x:1:critical"
    assert backend.alert_events([]) == []


def test_set_alert_state_stamps_handling_times_too(backend):
    backend.add_alert(alert("x:1", Severity.info))
    acked = set_state(backend, "x:1:info", AlertState.acknowledged, T0 + timedelta(minutes=1))
    assert acked.acknowledged_at == T0 + timedelta(minutes=1) and acked.first_response_at == acked.acknowledged_at
    resolved = set_state(backend, "x:1:info", AlertState.resolved, T0 + timedelta(minutes=2))
    assert resolved.resolved_at is not None and resolved.acknowledged_at == acked.acknowledged_at
    assert set_state(backend, "x:1:info", AlertState.open, T0 + timedelta(minutes=3)).resolved_at is None
    assert backend.get_alert("x:1:info").acknowledged_at == T0 + timedelta(minutes=1)
    assert backend.alert_events(["x:1:info"]) == []  # not an audited action


def test_what_a_store_exports_another_imports_and_importing_it_again_changes_nothing(backend):
    backend.ingest([mention("1"), mention("2", minutes=5)], [snapshot("x:1", 0, 0), snapshot("x:1", 10, 4)],
                   cursor_key="source:x", cursor="c1")
    backend.set_topics([("x:1", "billing", "Billing care")])
    backend.add_alert(alert("x:1", Severity.warning))
    backend.mark_delivered("x:1:warning", "slack")
    trail = [event("x:1:warning", 3, AlertEventKind.note, text="looking"),
             moved("x:1:warning", 3, AlertState.open, AlertState.acknowledged)]  # same time: recorded after the note
    for e in trail:
        backend.record_alert_event(e, apply_event)
    with tempfile.TemporaryDirectory() as tmp:
        copy = SQLiteStore(Path(tmp) / "copy.db")
        try:
            for kind in RECORD_KINDS:
                export = backend.export_records(kind, page_size=1)
                result = copy.import_records(kind, export.records())
                assert (result.stored, result.failures) == (export.total, []), kind
            ids = ["x:1", "x:2"]
            assert copy.get_mentions(ids) == backend.get_mentions(ids) and copy.get_mention("x:1").topic == "billing"
            assert copy.snapshots_for("x:1") == backend.snapshots_for("x:1")
            assert copy.get_alert("x:1:warning") == backend.get_alert("x:1:warning")  # with its handling
            assert copy.alert_events(["x:1:warning"]) == trail
            assert copy.get_cursor("source:x") == "c1" and copy.undelivered_alerts("slack") == []
            for kind in RECORD_KINDS:  # and back: everything is there already
                assert backend.import_records(kind, copy.export_records(kind).records()).failures == []
            assert (backend.count_mentions(), backend.count_snapshots()) == (2, 2)
            assert backend.alert_events(["x:1:warning"]) == trail
            assert backend.get_alert("x:1:warning") == copy.get_alert("x:1:warning")
            assert backend.get_mentions(ids) == copy.get_mentions(ids)
        finally:
            copy.close()


def test_alerts_created_in_a_window(backend):
    for native_id, minutes in (("1", 0), ("2", 59), ("3", 60), ("4", 120)):
        backend.add_alert(alert(f"x:{native_id}", Severity.info, minutes=minutes))
    found = backend.alerts_created(T0 + timedelta(minutes=1), T0 + timedelta(minutes=120))
    assert [a.id for a in found] == ["x:2:info", "x:3:info"]
    set_state(backend, "x:3:info", AlertState.resolved, T0 + timedelta(minutes=90))
    handling = backend.alert_handling(T0 + timedelta(minutes=1), T0 + timedelta(minutes=120))
    assert sorted((h.created_at, h.state, h.first_response_at, h.resolved_at) for h in handling) == [
        (T0 + timedelta(minutes=59), AlertState.open, None, None),
        (T0 + timedelta(minutes=60), AlertState.resolved, T0 + timedelta(minutes=90), T0 + timedelta(minutes=90))]



# -- finding mentions -------------------------------------------------------------------


def post(native_id: str, text: str, minutes: int, likes: int = 0, **extra) -> Mention:
    fields = {"brand": "Acme", "source": "x", "lang": "es", **extra}
    source = fields.pop("source")
    return Mention(
        id=Mention.make_id(source, native_id), source=source, native_id=native_id,
        url=f"https://example.com/{native_id}", author_handle="ana", text=text,
        created_at=T0 + timedelta(minutes=minutes), query="acme", engagement=Engagement(likes=likes), **fields,
    )


def found(backend, **query) -> list[str]:
    """The ids of every mention the query finds, following the cursor page by page."""
    ids: list[str] = []
    cursor = None
    while True:
        page = backend.search_mentions(MentionQuery(cursor=cursor, **query))
        ids += [m.id for m in page.mentions]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def with_posts(backend) -> None:
    backend.ingest([
        post("1", "La factura llegó doble este mes", 1, likes=5, topic="billing"),
        post("2", "Otra FACTURA mal, me cobraron dos veces", 2, likes=40, topic="billing"),
        post("3", "Facturación caída desde ayer", 3, likes=1, lang="es", brand="Other"),
        post("4", "Billing page is down again, double charge", 4, likes=12, lang="en", source="reddit"),
        post("5", "tagihan saya dobel bulan ini", 5, likes=0, lang="id"),
        post("6", "Love the new plan", 6, likes=3, lang="en", title="Great factura support"),
    ], [])
    negative = Sentiment(label=SentimentLabel.negative, score=-0.8, model="m")
    backend.set_sentiments([("x:1", negative), ("x:2", negative), ("reddit:4", negative),
                            ("x:6", Sentiment(label=SentimentLabel.positive, score=0.9, model="m"))])


def test_a_search_finds_words_in_any_case_phrases_prefixes_and_excludes_words(backend):
    with_posts(backend)
    assert found(backend, text="factura") == ["x:6", "x:2", "x:1"]  # newest first; the title counts too
    assert found(backend, text="FACTURA cobraron") == ["x:2"]  # every word must appear
    assert found(backend, text='"factura llegó"') == ["x:1"]
    assert found(backend, text='"llegó factura"') == []  # a phrase is in its order
    assert found(backend, text="factur*") == ["x:6", "x:3", "x:2", "x:1"]
    assert found(backend, text="factura -doble") == ["x:6", "x:2"]
    assert found(backend, text="double charge") == ["reddit:4"]
    assert found(backend, text='(factura) :* ^ "') == found(backend, text="factura")  # syntax is punctuation
    assert found(backend, text="factura NOT") == []  # and operators are words like any other
    assert found(backend, text="inexistente") == []
    with pytest.raises(InvalidQuery):
        backend.search_mentions(MentionQuery(text="-factura"))  # nothing to look for


def test_a_search_filters_by_brand_source_language_sentiment_topic_time_and_engagement(backend):
    with_posts(backend)
    assert found(backend, brands=("Other",)) == ["x:3"]
    assert found(backend, sources=("reddit",)) == ["reddit:4"]
    assert found(backend, langs=("en", "id")) == ["x:6", "x:5", "reddit:4"]
    assert found(backend, sentiments=("negative",)) == ["reddit:4", "x:2", "x:1"]
    assert found(backend, sentiments=(UNSCORED,)) == ["x:5", "x:3"]
    assert found(backend, sentiments=("positive", UNSCORED)) == ["x:6", "x:5", "x:3"]
    assert found(backend, topics=("billing",)) == ["x:2", "x:1"]
    assert found(backend, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)) == ["x:3", "x:2"]
    assert found(backend, since=T0 + timedelta(minutes=2, milliseconds=1)) == ["x:6", "x:5", "reddit:4", "x:3"]
    assert found(backend, min_engagement=5) == ["reddit:4", "x:2", "x:1"]
    assert found(backend, text="factura", topics=("billing",), min_engagement=10, brands=("Acme",)) == ["x:2"]


def test_a_search_sorts_by_time_or_engagement_and_pages_never_repeat_or_skip(backend):
    with_posts(backend)
    newest = found(backend, limit=2)
    assert newest == ["x:6", "x:5", "reddit:4", "x:3", "x:2", "x:1"]
    assert found(backend, sort=MentionSort.oldest, limit=4) == newest[::-1]
    assert found(backend, sort=MentionSort.engagement, limit=1) == ["x:2", "reddit:4", "x:1", "x:6", "x:3", "x:5"]
    assert found(backend, text="factur*", sort=MentionSort.engagement, limit=3) == ["x:2", "x:1", "x:6", "x:3"]
    first = backend.search_mentions(MentionQuery(limit=3))
    backend.ingest([post("7", "una factura nueva", 7)], [])  # stored between two pages
    rest = backend.search_mentions(MentionQuery(limit=10, cursor=first.next_cursor))
    assert [m.id for m in first.mentions + rest.mentions] == newest and rest.next_cursor is None
    assert backend.search_mentions(MentionQuery(limit=7)).next_cursor is None  # exactly the last page


def test_a_cursor_that_is_not_the_stores_own_is_refused(backend):
    with_posts(backend)
    cursor = backend.search_mentions(MentionQuery(limit=1)).next_cursor
    for bad in ("nonsense", "W10", cursor + "x"):
        with pytest.raises(InvalidQuery):
            backend.search_mentions(MentionQuery(cursor=bad))
    with pytest.raises(InvalidQuery):
        backend.search_mentions(MentionQuery(cursor=cursor, sort=MentionSort.engagement))  # another order's
    with pytest.raises(InvalidQuery):
        backend.alert_cases(CaseQuery(cursor=cursor))


# -- the inbox: alerts as cases, totals, sparklines -----------------------------------------


def case_alert(mention_id: str | None, severity: Severity, minutes: int, brand: str = "Acme", **extra) -> Alert:
    alert_id = Alert.make_id(mention_id, severity) if mention_id else f"storm:{brand}:{minutes}"
    return Alert(id=alert_id, kind="spread" if mention_id else "storm", mention_id=mention_id, brand=brand,
                 severity=severity, created_at=T0 + timedelta(minutes=minutes), reason="because", **extra)


def with_cases(backend) -> None:
    """Post 1 escalated (warning, then critical, acknowledged); post 2 is an open info; post 3 an
    acknowledged warning assigned to Billing care; a storm alert; post 4's alert is resolved."""
    backend.ingest([post("1", "a", 1), post("2", "b", 2), post("3", "c", 3), post("4", "d", 4)], [])
    backend.set_topics([("x:2", "billing", "Billing care")])
    for a in (case_alert("x:1", Severity.warning, 10), case_alert("x:1", Severity.critical, 20),
              case_alert("x:2", Severity.info, 30), case_alert("x:3", Severity.warning, 40, topic="outage"),
              case_alert(None, Severity.warning, 50, brand="Other"), case_alert("x:4", Severity.info, 60)):
        backend.add_alert(a)
    set_state(backend, "x:1:critical", AlertState.acknowledged, T0)
    set_state(backend, "x:3:warning", AlertState.acknowledged, T0)
    set_state(backend, "x:4:info", AlertState.resolved, T0)
    backend.update_alert("x:3:warning", lambda a: a.model_copy(update={"assignee": "Billing care"}))


def cases(backend, **query) -> list[str]:
    """The primaries of every case the query selects, page after page."""
    ids: list[str] = []
    cursor = None
    while True:
        page = backend.alert_cases(CaseQuery(cursor=cursor, **query))
        ids += [a.id for a in page.primaries]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def test_the_inbox_lists_one_case_per_post_open_first_then_most_severe_and_newest(backend):
    with_cases(backend)
    # Post 1 is open (its warning still is) and its primary is the critical; the storm is a case of its own.
    expected = ["x:1:critical", "storm:Other:50", "x:2:info", "x:3:warning"]
    assert cases(backend) == expected
    assert cases(backend, limit=1) == expected
    page = backend.alert_cases(CaseQuery(limit=2))
    assert page.counts == {AlertState.open: 3, AlertState.acknowledged: 1, AlertState.resolved: 0,
                           AlertState.dismissed: 0}
    assert [a.state for a in page.primaries] == [AlertState.acknowledged, AlertState.open]  # the alerts' own
    assert cases(backend, case_state=AlertState.acknowledged) == ["x:3:warning"]
    assert cases(backend, case_state=AlertState.open, limit=2) == expected[:3]
    assert cases(backend, states=(AlertState.resolved,)) == ["x:4:info"]
    assert backend.alert_cases(CaseQuery(limit=0)).counts[AlertState.open] == 3


def test_inbox_filters_apply_to_each_cases_primary_alert(backend):
    with_cases(backend)
    assert cases(backend, severity=Severity.critical) == ["x:1:critical"]
    assert cases(backend, severity=Severity.warning) == ["storm:Other:50", "x:3:warning"]  # not post 1's warning
    assert cases(backend, brand="other") == ["storm:Other:50"]  # any case
    assert cases(backend, topic="BILLING") == ["x:2:info"]  # the post's topic, for an alert without its own
    assert cases(backend, topic="outage") == ["x:3:warning"]
    assert cases(backend, team="billing care") == ["x:2:info"]
    assert cases(backend, assignee="billing CARE") == ["x:3:warning"]
    assert cases(backend, unassigned=True) == ["x:1:critical", "storm:Other:50", "x:2:info"]
    filtered = backend.alert_cases(CaseQuery(severity=Severity.warning))
    assert filtered.counts[AlertState.open] == 1 and filtered.counts[AlertState.acknowledged] == 1


def test_alerts_are_counted_by_state(backend):
    assert set(backend.count_alerts_by_state().values()) == {0}
    with_cases(backend)
    assert backend.count_alerts_by_state() == {AlertState.open: 3, AlertState.acknowledged: 2,
                                               AlertState.resolved: 1, AlertState.dismissed: 0}


def test_the_snapshots_of_several_mentions_come_in_one_read(backend):
    backend.ingest([mention("1"), mention("2"), mention("3")],
                   [snapshot("x:1", 10, 4), snapshot("x:1", 0, 0), snapshot("x:2", 5, 1)])
    series = backend.snapshots_of(["x:1", "x:2", "x:3", "x:1"])
    assert {k: [s.engagement.likes for s in v] for k, v in series.items()} == {"x:1": [0, 4], "x:2": [1]}
    assert backend.snapshots_of([]) == {}


# -- deliveries: claims, so concurrent senders send each alert to each channel once ----------


def check_a_delivery_is_claimed_by_one_sender_until_its_lease_lapses(backend) -> None:
    backend.add_alert(alert("x:1", Severity.info))
    lease = T0 + timedelta(minutes=10)
    assert backend.claim_delivery("x:1:info", "slack", "run-a", lease, now=T0)
    assert not backend.claim_delivery("x:1:info", "slack", "run-b", lease, now=T0 + timedelta(minutes=5))
    assert backend.claim_delivery("x:1:info", "email", "run-b", lease, now=T0)  # per channel
    assert backend.claim_delivery("x:1:info", "slack", "run-a", lease, now=T0 + timedelta(minutes=1))  # renew
    # run-a crashed: after its lease, a successor takes the delivery over.
    assert backend.claim_delivery("x:1:info", "slack", "run-b", lease + timedelta(minutes=10),
                                  now=lease + timedelta(seconds=1))
    backend.mark_delivered("x:1:info", "slack")
    later = lease + timedelta(hours=1)
    assert not backend.claim_delivery("x:1:info", "slack", "run-c", later, now=later)


def check_a_released_claim_can_be_taken_at_once(backend) -> None:
    backend.add_alert(alert("x:1", Severity.info))
    lease = T0 + timedelta(minutes=10)
    assert backend.claim_delivery("x:1:info", "slack", "run-a", lease, now=T0)
    backend.release_delivery("x:1:info", "slack", "run-b")  # not its claim: nothing happens
    assert not backend.claim_delivery("x:1:info", "slack", "run-c", lease, now=T0)
    backend.release_delivery("x:1:info", "slack", "run-a")
    assert backend.claim_delivery("x:1:info", "slack", "run-c", lease, now=T0)


def check_bad_records_are_quarantined_once_and_the_rest_of_the_batch_commits(backend) -> None:
    from monitor.store.base import Quarantined

    poison = mention("2").model_copy(update={"text": "broken \ud800 text"})  # a lone surrogate
    reported = Quarantined("replay", "scenario.jsonl:17", "not UTF-8", "\\xff\\xfe{")
    result = backend.ingest([mention("1"), poison, mention("3")], [snapshot("x:1", 0, 1), snapshot("x:2", 0, 1)],
                            cursor_key="replay", cursor="18", quarantine=[reported])
    assert (result.new_mentions, result.new_snapshots, result.quarantined) == (2, 1, 2)
    assert backend.get_mention("x:2") is None and backend.count_mentions() == 2
    assert backend.get_cursor("replay") == "18"
    again = backend.ingest([poison], [], cursor_key="replay", cursor="18", quarantine=[reported])
    assert again.quarantined == 0  # a re-run after a crash does not quarantine twice
    assert backend.count_quarantined() == 2
    found = {(q.source, q.where): q for q in backend.quarantined()}
    assert found[("replay", "scenario.jsonl:17")].head == "\\xff\\xfe{"
    assert "cannot be stored" in found[("x", "x:2")].reason
    assert "\\ud800" in found[("x", "x:2")].head
    assert all(q.at is not None for q in found.values())


# The checks are shared with tests/test_elasticsearch_store.py, which runs them on the fake server.
test_a_delivery_is_claimed_by_one_sender_until_its_lease_lapses = \
    check_a_delivery_is_claimed_by_one_sender_until_its_lease_lapses
test_a_released_claim_can_be_taken_at_once = check_a_released_claim_can_be_taken_at_once
test_bad_records_are_quarantined_once_and_the_rest_of_the_batch_commits = \
    check_bad_records_are_quarantined_once_and_the_rest_of_the_batch_commits
