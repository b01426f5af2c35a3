"""The reply desk's promises, on both stores: posted once per post and text, retried only on request.

Through the fake X (tests/replies/test_reply_platforms.py covers every platform's failures).
Both stores run the same checks: the embedded SQLite file and Elasticsearch (the loopback fake
speaking its REST API), because idempotency rests on how a store records an event id once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.models import Alert, AlertEvent, AlertEventKind, AlertKind, AlertState, Severity
from monitor.replies.base import FailureKind
from monitor.replies.desk import (
    AttemptStatus, ReplyError, ReplyInFlight, ReplyUnavailable, _claim, reply_attempts, reply_key,
)
from monitor.replies.saved import saved_replies_for
from monitor.replies.settings import RepliesConfig, SavedReply
from monitor.web.metrics import compute_metrics
from tests.fake_elasticsearch import FakeElasticsearch
from tests.replies.conftest import RAISED_AT, make_scene
from tests.replies.platforms import platform

TEXT = "Hi Ana, we are sorry: the double charge is refunded."


@pytest.fixture(params=["sqlite", "elasticsearch"])
def scene(request, tmp_path):
    with platform("x") as x:
        if request.param == "sqlite":
            yield from make_scene(tmp_path, x)
            return
        from monitor.store.elasticsearch import ElasticsearchStore
        from monitor.store.elasticsearch.client import client_from_url

        with FakeElasticsearch() as server:
            store = ElasticsearchStore(client_from_url(server.url), "replies", retention_days=30)
            try:
                yield from make_scene(tmp_path, x, store)
            finally:
                store.close()


def _native(scene, alert):
    return scene.store.get_mention(alert.mention_id).native_id


def test_an_escalated_post_gets_one_reply_and_every_alert_is_answered(scene):
    alert = scene.post(severities=(Severity.info, Severity.warning, Severity.critical))
    outcome = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
    assert outcome.posted
    members = [scene.store.get_alert(f"{alert.mention_id}:{s}") for s in ("info", "warning", "critical")]
    assert all(a.first_response_at is not None and a.state == AlertState.acknowledged for a in members)
    # Sending it again from another alert of the same post is the same reply: not posted again.
    again = scene.desk.send(scene.store, members[0].id, TEXT, "Eli", scene.clock)
    assert again.already_posted and len(scene.platform.replies(_native(scene, alert))) == 1
    metrics = compute_metrics(scene.store.alert_handling(RAISED_AT - timedelta(days=1), RAISED_AT + timedelta(days=1)),
                              RAISED_AT - timedelta(days=1), RAISED_AT + timedelta(days=1))
    assert metrics.responded == 3 and metrics.median_first_response_minutes is not None


def test_the_attempt_is_in_the_store_before_the_platform_is_called(scene):
    alert = scene.post()
    seen = {}
    real = scene.desk.replier("x")

    class Spy:
        platform, max_chars = "X", 280

        def post(self, target, text, idempotency_key):
            seen["trail"] = [e.kind for e in scene.store.alert_events([alert.id])]
            return real.post(target, text, idempotency_key)

    scene.desk.repliers["x"] = Spy()
    assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
    assert seen["trail"] == [AlertEventKind.reply]


def test_an_attempt_without_an_outcome_is_never_sent_again(scene):
    """A crash between calling the platform and recording the outcome leaves the attempt pending:
    the reply may exist, so the desk refuses to send that text again (the agent checks the post)."""
    alert = scene.post()
    attempt = AlertEvent(id=f"{reply_key(alert.mention_id, TEXT)}-1", alert_id=alert.id, at=RAISED_AT,
                         actor="Dana", kind=AlertEventKind.reply, text=TEXT)
    assert _claim(scene.store, attempt)
    with pytest.raises(ReplyInFlight, match="cannot be posted twice"):
        scene.desk.send(scene.store, alert.id, TEXT, "Eli", scene.clock)
    assert scene.platform.replies(_native(scene, alert)) == [] and scene.platform.fake.posted == []
    assert [a.status for a in reply_attempts(scene.store.alert_events([alert.id]))] == [AttemptStatus.pending]


def test_two_agents_claiming_the_same_attempt_only_one_wins(scene):
    alert = scene.post()
    attempt = AlertEvent(id=f"{reply_key(alert.mention_id, TEXT)}-1", alert_id=alert.id, at=RAISED_AT,
                         actor="Dana", kind=AlertEventKind.reply, text=TEXT)
    twin = attempt.model_copy(update={"actor": "Eli", "at": RAISED_AT + timedelta(milliseconds=3)})
    assert _claim(scene.store, attempt) is True
    assert _claim(scene.store, twin) is False  # recorded already: Eli's click posts nothing
    assert len(scene.store.alert_events([alert.id])) == 1


def test_a_server_error_is_an_unknown_outcome_retried_only_on_request(scene):
    alert = scene.post()
    scene.platform.fake.fail_next(503)
    outcome = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
    assert outcome.failure.kind == FailureKind.unknown and "check the post before retrying" in outcome.attempt.error
    assert scene.platform.replies(_native(scene, alert)) == []
    retried = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)  # the agent asks
    assert retried.posted and len(scene.platform.replies(_native(scene, alert))) == 1


def test_a_different_text_is_a_different_reply(scene):
    alert = scene.post()
    assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
    follow_up = scene.desk.send(scene.store, alert.id, "Update: the refund is on its way.", "Dana", scene.clock)
    assert follow_up.posted and len(scene.platform.replies(_native(scene, alert))) == 2


def test_what_cannot_be_sent_is_refused_before_anything_is_recorded(scene):
    alert = scene.post()
    with pytest.raises(ReplyError, match="needs some text"):
        scene.desk.send(scene.store, alert.id, "  \n ", "Dana", scene.clock)
    with pytest.raises(ReplyError, match="at most 280 characters; this one has 281"):
        scene.desk.send(scene.store, alert.id, "x" * 281, "Dana", scene.clock)
    with pytest.raises(KeyError):
        scene.desk.send(scene.store, "x:404:warning", TEXT, "Dana", scene.clock)
    storm = Alert(id="storm:brisa:1", kind=AlertKind.storm, mention_id=None, brand="Brisa Mobile",
                  severity=Severity.warning, created_at=RAISED_AT, reason="volume spike")
    scene.store.add_alert(storm)
    with pytest.raises(ReplyUnavailable, match="not one post"):
        scene.desk.send(scene.store, storm.id, TEXT, "Dana", scene.clock)
    assert scene.store.alert_events([alert.id, storm.id]) == []


def test_without_credentials_the_reason_names_what_to_set(tmp_path):
    with platform("x") as x:
        x.environ = {"EARSHOT_X_CONSUMER_KEY": "k"}
        for scene in make_scene(tmp_path, x):
            alert = scene.post()
            mention = scene.store.get_mention(alert.mention_id)
            reason = scene.desk.availability(mention).reason
            assert reason == ("no write access to X: set EARSHOT_X_CONSUMER_SECRET, EARSHOT_X_ACCESS_TOKEN, "
                              "EARSHOT_X_ACCESS_TOKEN_SECRET")
            assert "k" not in reason.replace("ACCESS_TOKEN", "").lower().split()  # never a value
            scene.config.replies.platforms["x"] = {"enabled": False}
            assert "turned off" in scene.desk.availability(mention).reason
            rss = mention.model_copy(update={"source": "rss"})
            assert "no reply plugin" in scene.desk.availability(rss).reason


def test_saved_replies_fit_the_posts_language_and_topic_most_specific_first():
    saved = [SavedReply(name="any", text="Hi {author}"),
             SavedReply(name="billing", topic="billing", text="Billing: {author}"),
             SavedReply(name="es", lang="es", text="Hola {author}"),
             SavedReply(name="es billing", lang="es", topic="billing", text="Hola {author}, {brand} te devuelve"),
             SavedReply(name="en outage", lang="en", topic="outage", text="Outage")]
    found = saved_replies_for(saved, lang="es-MX", topic="Billing", values={"author": "ana", "brand": "Brisa"})
    assert [(r.name, r.text) for r in found] == [("es billing", "Hola ana, Brisa te devuelve"), ("es", "Hola ana"),
                                                 ("billing", "Billing: ana"), ("any", "Hi ana")]
    assert [r.text for r in saved_replies_for(saved, lang=None, topic=None, values={})] == ["Hi "]


def test_the_config_refuses_unknown_placeholders_and_platforms():
    with pytest.raises(ValueError, match=r"unknown placeholder\(s\) \{name\}"):
        SavedReply(name="bad", text="Hi {name}")
    with pytest.raises(ValueError, match="no reply platform named 'myspace'"):
        RepliesConfig(platforms={"myspace": {}})
    with pytest.raises(ValueError, match="x: api_base_url"):
        RepliesConfig(platforms={"x": {"api_base_url": "ftp://nope"}})
    with pytest.raises(ValueError, match="unknown credential"):
        RepliesConfig(platforms={"x": {"credentials_env": {"password": "P"}}})
    partial = RepliesConfig(platforms={"x": {"credentials_env": {"access_token": "MY_TOKEN"}}})
    assert partial.platforms["x"]["credentials_env"] == {"access_token": "MY_TOKEN"}


def test_a_link_that_is_not_a_web_address_is_never_shown(scene):
    """A platform (or something posing as it) answering with a `javascript:` link: the post's own is kept."""
    from monitor.replies.base import Posted

    class Odd:
        platform, max_chars = "X", 280

        def post(self, target, text, idempotency_key):
            return Posted("1", "javascript:alert(document.cookie)")

    alert = scene.post()
    scene.desk.repliers["x"] = Odd()
    outcome = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
    assert outcome.attempt.url == scene.store.get_mention(alert.mention_id).url


def test_credentials_from_an_airflow_connection(tmp_path, monkeypatch):
    import json

    with platform("x") as x:
        monkeypatch.setenv("AIRFLOW_CONN_BRISA_X_REPLIES", json.dumps({
            "conn_type": "generic", "login": x.fake.consumer_key, "password": x.fake.consumer_secret,
            "extra": {"access_token": x.fake.access_token, "access_token_secret": x.fake.access_token_secret}}))
        x.environ = {}  # nothing in the environment: the connection has it all
        x.settings = {**x.settings, "airflow_conn_id": "brisa_x_replies"}
        for scene in make_scene(tmp_path, x):
            alert = scene.post()
            assert scene.desk.availability(scene.store.get_mention(alert.mention_id)).can_reply
            assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
            monkeypatch.delenv("AIRFLOW_CONN_BRISA_X_REPLIES")
            scene.desk.repliers.clear()
            reason = scene.desk.availability(scene.store.get_mention(alert.mention_id)).reason
            assert "field 'login' of Airflow connection 'brisa_x_replies'" in reason
