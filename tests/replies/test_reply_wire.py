"""What each platform's fake received: the payload, the auth and the reply refs its API reference
documents, sent by the real client. And wrong credentials are a permission failure, never a crash."""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime

import httpx
import pytest

from monitor.replies.base import FailureKind
from monitor.replies.desk import ReplyUnavailable
from tests.replies.conftest import make_scene
from tests.replies.platforms import FACTORIES, platform
from tests.sources.fakes._keys import p256_pair, rsa_pair
from tests.sources.fakes.bluesky_api import Post

TEXT = "Hi Ana, we have refunded the double charge."


@pytest.fixture
def open_scene(tmp_path):
    """Opens a platform's scene (store, desk) for the test; closed when the test ends."""
    with ExitStack() as stack:
        yield lambda p: stack.enter_context(contextmanager(make_scene)(tmp_path, p))


def test_x_posts_a_reply_with_user_context_and_refuses_the_app_token(open_scene):
    with platform("x") as p:
        scene = open_scene(p)
        alert = scene.post()
        native = scene.store.get_mention(alert.mention_id).native_id
        assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
        assert p.fake.posted == [{"text": TEXT, "reply": {"in_reply_to_tweet_id": native}}]
        # The source's app-only bearer token cannot post: X's own 403.
        refused = httpx.post(p.fake.base_url + "/2/tweets", json={"text": "hi", "reply": {"in_reply_to_tweet_id": native}},
                             headers={"Authorization": f"Bearer {p.fake.token}"})
        assert refused.status_code == 403 and refused.json()["title"] == "Unsupported Authentication"


def test_reddit_comments_as_the_account_on_a_post_or_a_comment(open_scene):
    with platform("reddit") as p:
        scene = open_scene(p)
        alert = scene.post()
        fullname = scene.store.get_mention(alert.mention_id).native_id
        assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
        sent = p.fake.replied[0]
        assert sent["thing_id"] == fullname and sent["text"] == TEXT and sent["api_type"] == "json"
        comment = p.fake.comment("c0ment1", "Brisa Mobile support never answers", datetime.now(UTC),
                                 link_id=fullname)
        outcome = scene.desk.send(scene.store, _mention_alert(scene, "reddit", comment.fullname, comment.body).id,
                                  TEXT, "Dana", scene.clock)
        assert outcome.posted and "/comments/" in outcome.attempt.url
        assert [c.body for c in p.fake.replies_to("t1_c0ment1")] == [TEXT]


def test_mastodon_sends_the_attempt_as_its_idempotency_key(open_scene):
    with platform("mastodon") as p:
        scene = open_scene(p)
        alert = scene.post()
        outcome = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
        assert outcome.posted and outcome.attempt.url.startswith("https://fake.social/@brisa_care/")
        assert list(p.fake._idempotent) == [outcome.attempt.id]
        status = p.fake.replies_to(scene.store.get_mention(alert.mention_id).native_id)[0]
        assert p.fake._status_json(status)["in_reply_to_id"] == scene.store.get_mention(alert.mention_id).native_id


def test_bluesky_reply_refs_name_the_parent_and_the_threads_root(open_scene):
    with platform("bluesky") as p:
        scene = open_scene(p)
        alert = scene.post()
        rkey = scene.store.get_mention(alert.mention_id).native_id
        assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
        parent = p.fake.find(rkey)
        ref = {"uri": parent.uri, "cid": "bafyreib2rxk3rh6kzwq" + rkey.lower().rjust(20, "a")[:20]}
        assert _refs(p.fake.created[0]["reply"]) == {"root": ref, "parent": ref}
        assert p.fake.created[0]["$type"] == "app.bsky.feed.post" and p.fake.created[0]["text"] == TEXT
        # A reply in a thread: its parent is the post, its root the thread's first post.
        inner = Post("3kinner00001", parent.author, "still broken", parent.created_at, parent.indexed_at,
                     reply={"root": ref, "parent": ref})
        p.fake.publish(inner)
        url = f"https://bsky.app/profile/{parent.author.did}/post/{inner.rkey}"
        assert scene.desk.send(scene.store, _mention_alert(scene, "bluesky", inner.rkey, inner.text, url).id,
                               TEXT, "Dana", scene.clock).posted
        refs = _refs(p.fake.created[1]["reply"])
        assert refs["root"] == ref and refs["parent"]["uri"] == inner.uri


def test_google_play_replies_with_a_token_from_the_service_account_key(open_scene):
    with platform("googleplay") as p:
        scene = open_scene(p)
        alert = scene.post()
        review = scene.store.get_mention(alert.mention_id).native_id
        outcome = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
        assert outcome.posted and outcome.attempt.url == scene.store.get_mention(alert.mention_id).url
        calls = [r for r in p.fake.requests if r["method"] == "POST" and r["path"] != "/_/PlayStoreUi/data/batchexecute"]
        assert [c["path"] for c in calls] == [
            "/token", f"/androidpublisher/v3/applications/com.brisamobile.app/reviews/{review.replace(':', '%3A')}:reply"]
        assert json.loads(calls[1]["body"]) == {"replyText": TEXT}


def test_app_store_posts_a_json_api_response_with_an_es256_token(open_scene):
    with platform("appstore") as p:
        scene = open_scene(p)
        alert = scene.post()
        review = scene.store.get_mention(alert.mention_id).native_id
        assert scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock).posted
        resource = p.fake.responses[review]
        assert resource["attributes"]["responseBody"] == TEXT and resource["attributes"]["state"] == "PENDING_PUBLISH"
        assert resource["relationships"]["review"]["data"] == {"type": "customerReviews", "id": review}


WRONG = {
    "x": {"EARSHOT_X_CONSUMER_SECRET": "not-the-secret"},
    "reddit": {"EARSHOT_REDDIT_PASSWORD": "not-the-password"},
    "mastodon": {"EARSHOT_MASTODON_REPLY_TOKEN": "not-the-token"},
    "bluesky": {"EARSHOT_BLUESKY_APP_PASSWORD": "not-the-password"},
    "googleplay": "another service account key",
    "appstore": {"EARSHOT_APPSTORE_PRIVATE_KEY": p256_pair()[0]},
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_wrong_credentials_are_a_permission_failure(open_scene, name):
    with platform(name) as p:
        if name == "googleplay":
            key = json.loads(p.environ["EARSHOT_GOOGLEPLAY_SERVICE_ACCOUNT_JSON"])
            key["private_key"] = rsa_pair()[0]
            p.environ["EARSHOT_GOOGLEPLAY_SERVICE_ACCOUNT_JSON"] = json.dumps(key)
        else:
            p.environ.update(WRONG[name])
        scene = open_scene(p)
        alert = scene.post()
        outcome = scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
        assert outcome.failure is not None and outcome.failure.kind == FailureKind.forbidden, outcome.failure
        for secret in WRONG[name].values() if isinstance(WRONG[name], dict) else ():
            assert secret not in outcome.attempt.error  # a credential is never repeated


def _refs(reply):
    """The strong refs of a record's reply, without the `$type` the SDK adds."""
    return {k: {f: v[f] for f in ("uri", "cid")} for k, v in reply.items() if k in ("root", "parent")}


def _mention_alert(scene, source, native_id, text, url=None):
    from monitor.models import Alert, Mention, Severity

    mention = Mention(id=Mention.make_id(source, native_id), source=source, native_id=native_id,
                      url=url or f"https://www.reddit.com/r/acmefans/comments/x/post/{native_id}/",
                      author_handle="ana", text=text, created_at=datetime(2031, 3, 9, tzinfo=UTC),
                      brand="Brisa Mobile", query="brisa")
    scene.store.ingest([mention], [])
    alert = Alert(id=f"{mention.id}:warning", mention_id=mention.id, brand="Brisa Mobile", severity=Severity.warning,
                  created_at=datetime(2031, 3, 9, 9, 10, tzinfo=UTC), reason="spreading")
    scene.store.add_alert(alert)
    return alert


def test_an_app_store_key_pasted_on_one_line_works(open_scene):
    with platform("appstore") as p:
        p.environ["EARSHOT_APPSTORE_PRIVATE_KEY"] = p.environ["EARSHOT_APPSTORE_PRIVATE_KEY"].replace("\n", "\\n")
        scene = open_scene(p)
        assert scene.desk.send(scene.store, scene.post().id, TEXT, "Dana", scene.clock).posted


def test_a_google_key_that_is_not_a_key_disables_replies_with_a_reason(open_scene):
    with platform("googleplay") as p:
        p.environ["EARSHOT_GOOGLEPLAY_SERVICE_ACCOUNT_JSON"] = "/path/to/key.json"
        scene = open_scene(p)
        alert = scene.post()
        with pytest.raises(ReplyUnavailable, match="not a service account key"):
            scene.desk.send(scene.store, alert.id, TEXT, "Dana", scene.clock)
        assert scene.store.alert_events([alert.id]) == []
