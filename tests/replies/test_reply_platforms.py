"""Replying on each platform through its fake: posted once, and every failure shown, never retried alone.

For each platform (X, Reddit, Mastodon, Bluesky, Google Play, App Store) the fake accepts a
reply exactly as the platform does (payload, auth, errors), and the desk posts through the real
client (tweepy, praw, Mastodon.py, atproto, httpx). The parametrised ids make the table the
issue asks for: `pytest tests/replies/test_reply_platforms.py -v`.
"""

from __future__ import annotations

import pytest

from monitor.models import AlertEventKind, AlertState
from monitor.replies.base import FailureKind
from monitor.replies.desk import AttemptStatus
from tests.replies.conftest import make_scene
from tests.replies.platforms import FACTORIES, platform

PLATFORMS = sorted(FACTORIES)
REPLY = "Hi Ana, sorry about the double charge: we have refunded it. DM us if anything else is wrong."


@pytest.fixture(params=PLATFORMS)
def scene(request, tmp_path):
    with platform(request.param) as p:
        yield from make_scene(tmp_path, p)


def _events(scene, alert):
    return scene.store.alert_events([alert.id])


def test_success_posts_once_and_is_the_first_response(scene):
    alert = scene.post()
    outcome = scene.desk.send(scene.store, alert.id, REPLY, "Dana", scene.clock)
    assert outcome.posted and outcome.failure is None
    assert outcome.attempt.url and outcome.attempt.url.startswith("https://")
    assert scene.platform.replies(_native(scene, alert)) == [REPLY]
    stored = scene.store.get_alert(alert.id)
    assert stored.first_response_at is not None and stored.state == AlertState.acknowledged
    kinds = [e.kind for e in _events(scene, alert)]
    assert kinds == [AlertEventKind.reply, AlertEventKind.reply_posted]
    assert _events(scene, alert)[1].text == outcome.attempt.url  # the link, in the audit trail
    # The same text again (a double click, a second agent): nothing is sent, the first reply is shown.
    again = scene.desk.send(scene.store, alert.id, "  " + REPLY + "\n", "Eli", scene.clock)
    assert again.already_posted and again.attempt.url == outcome.attempt.url
    assert scene.platform.replies(_native(scene, alert)) == [REPLY]


def test_rate_limit_is_shown_and_retried_only_on_request(scene):
    alert = scene.post()
    scene.platform.rate_limit()
    outcome = scene.desk.send(scene.store, alert.id, REPLY, "Dana", scene.clock)
    assert not outcome.posted and outcome.failure.kind == FailureKind.rate_limited
    assert "rate limited" in outcome.attempt.error
    assert scene.platform.replies(_native(scene, alert)) == []
    stored = scene.store.get_alert(alert.id)
    assert stored.first_response_at is None and stored.state == AlertState.open  # the customer saw nothing
    # The agent asks again: a second attempt, which posts.
    retry = scene.desk.send(scene.store, alert.id, REPLY, "Dana", scene.clock)
    assert retry.posted and retry.attempt.id.endswith("-2")
    assert scene.platform.replies(_native(scene, alert)) == [REPLY]


def test_deleted_original_is_shown(scene):
    alert = scene.post()
    scene.platform.delete(_native(scene, alert))
    outcome = scene.desk.send(scene.store, alert.id, REPLY, "Dana", scene.clock)
    assert outcome.failure is not None and outcome.failure.kind == FailureKind.deleted, outcome.failure
    assert outcome.attempt.status == AttemptStatus.failed
    assert "deleted" in outcome.attempt.error
    assert [e.kind for e in _events(scene, alert)] == [AlertEventKind.reply, AlertEventKind.reply_failed]


def test_permission_refused_is_shown(scene):
    alert = scene.post()
    scene.platform.forbid(_native(scene, alert))
    outcome = scene.desk.send(scene.store, alert.id, REPLY, "Dana", scene.clock)
    assert outcome.failure is not None and outcome.failure.kind == FailureKind.forbidden, outcome.failure
    assert "permission" in outcome.attempt.error
    assert scene.platform.replies(_native(scene, alert)) == []
    assert scene.store.get_alert(alert.id).first_response_at is None


def _native(scene, alert) -> str:
    return scene.store.get_mention(alert.mention_id).native_id
