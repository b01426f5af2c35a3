"""Each platform's fake, driven the same way by the reply tests: publish a post, break it, read replies.

A `Platform` wraps one fake server from tests/sources/fakes/ with the four things a reply test
needs to arrange (a post to answer, its deletion, a refusal of permission, a rate limit) and one
to check (the replies the fake accepted), plus the environment that gives Earshot write access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.sources.googleplay.source import review_url
from tests.sources.fakes.appstore_api import FakeAppStore
from tests.sources.fakes.appstore_api import Review as StoreReview
from tests.sources.fakes.bluesky_api import Author as BlueskyAuthor
from tests.sources.fakes.bluesky_api import FakeBluesky
from tests.sources.fakes.bluesky_api import Post as BlueskyPost
from tests.sources.fakes.googleplay_api import FakeGooglePlay
from tests.sources.fakes.googleplay_api import Review as PlayReview
from tests.sources.fakes.mastodon_api import Account, FakeMastodon
from tests.sources.fakes.mastodon_api import Status as MastodonStatus
from tests.sources.fakes.reddit_api import FakeReddit, base36
from tests.sources.fakes.x_api import FakeX, snowflake

POSTED_AT = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)  # fixed: nothing here depends on today


@dataclass
class Platform:
    source: str
    fake: Any
    environ: dict[str, str]
    settings: dict[str, Any]
    publish: Callable[[str], tuple[str, str]]  # a text -> (native_id, url) of a new post
    delete: Callable[[str], None]
    forbid: Callable[[str], None]  # the account may not reply to this post
    rate_limit: Callable[[], None]  # the next reply is refused with the platform's rate limit
    replies: Callable[[str], list[str]]  # texts of the replies the platform holds for this post
    extra: dict[str, Any] = field(default_factory=dict)


def _x() -> Iterator[Platform]:
    fake = FakeX()
    fake.start()
    counter = iter(range(1, 10_000))

    def publish(text: str) -> tuple[str, str]:
        native = snowflake(POSTED_AT - timedelta(minutes=5), next(counter))
        fake.publish(native, text, datetime.now(UTC) - timedelta(minutes=5))
        return native, f"https://x.com/ana_sousa/status/{native}"

    env = {"EARSHOT_X_CONSUMER_KEY": fake.consumer_key, "EARSHOT_X_CONSUMER_SECRET": fake.consumer_secret,
           "EARSHOT_X_ACCESS_TOKEN": fake.access_token, "EARSHOT_X_ACCESS_TOKEN_SECRET": fake.access_token_secret}
    try:
        yield Platform("x", fake, env, {"api_base_url": fake.base_url}, publish, fake.delete, fake.restrict_replies,
                       lambda: fake.fail_next(429), lambda n: [t.text for t in fake.replies_to(n)])
    finally:
        fake.stop()


def _reddit() -> Iterator[Platform]:
    fake = FakeReddit()
    fake.start()
    counter = iter(range(1, 10_000))

    def publish(text: str) -> tuple[str, str]:
        thing = fake.submit(base36(10**8 + next(counter)), text, datetime.now(UTC) - timedelta(minutes=5))
        return thing.fullname, f"https://www.reddit.com/r/{thing.subreddit}/comments/{thing.id}/post/"

    env = {"EARSHOT_REDDIT_CLIENT_ID": fake.client_id, "EARSHOT_REDDIT_CLIENT_SECRET": fake.client_secret,
           "EARSHOT_REDDIT_USERNAME": fake.username, "EARSHOT_REDDIT_PASSWORD": fake.password}
    try:
        yield Platform("reddit", fake, env, {"api_base_url": fake.base_url}, publish, fake.remove, fake.lock,
                       lambda: fake.fail_next(429), lambda n: [t.body for t in fake.replies_to(n)])
    finally:
        fake.stop()


def _mastodon() -> Iterator[Platform]:
    fake = FakeMastodon()
    fake.start()
    counter = iter(range(1, 10_000))

    def publish(text: str) -> tuple[str, str]:
        status = MastodonStatus(str(10**16 + next(counter)), Account("77", "ana"), text,
                                datetime.now(UTC) - timedelta(minutes=5))
        fake.publish(status)
        return status.id, f"https://fake.social/@ana/{status.id}"

    try:
        yield Platform("mastodon", fake, {"EARSHOT_MASTODON_REPLY_TOKEN": fake.reply_token},
                       {"api_base_url": fake.base_url}, publish, fake.delete, lambda _: fake.revoke_write_scope(),
                       lambda: fake.fail_next(429), lambda n: [s.text for s in fake.replies_to(n)])
    finally:
        fake.stop()


def _bluesky() -> Iterator[Platform]:
    fake = FakeBluesky()
    fake.start()
    counter = iter(range(1, 10_000))
    ana = BlueskyAuthor("did:plc:ana0000000000000000000000", "ana.bsky.social", "Ana")

    def publish(text: str) -> tuple[str, str]:
        at = datetime.now(UTC) - timedelta(minutes=5)
        post = BlueskyPost(f"3kpost{next(counter):05d}", ana, text, at, at)
        fake.publish(post)
        return post.rkey, f"https://bsky.app/profile/{ana.did}/post/{post.rkey}"

    env = {"EARSHOT_BLUESKY_HANDLE": fake.handle, "EARSHOT_BLUESKY_APP_PASSWORD": fake.password}
    try:
        yield Platform("bluesky", fake, env, {"api_base_url": fake.base_url}, publish, fake.delete,
                       lambda _: fake.revoke_app_password(), lambda: fake.fail_next(429),
                       lambda n: [p.text for p in fake.replies_to(n)])
    finally:
        fake.stop()


def _googleplay() -> Iterator[Platform]:
    fake = FakeGooglePlay()
    fake.start()
    counter = iter(range(1, 10_000))
    app = "com.brisamobile.app"

    def publish(text: str) -> tuple[str, str]:
        review_id = f"gp:AOqpTOH{next(counter):06d}"
        fake.publish(app, PlayReview(review_id, text, datetime.now(UTC) - timedelta(minutes=5), score=1))
        return review_id, review_url(app, review_id, "us", "en")

    try:
        yield Platform("googleplay", fake, {"EARSHOT_GOOGLEPLAY_SERVICE_ACCOUNT_JSON": fake.service_account_json()},
                       {"api_base_url": fake.base_url}, publish, fake.delete, lambda _: fake.revoke_access(app),
                       lambda: fake.fail_next(429), lambda n: [fake.replies[n]] if n in fake.replies else [])
    finally:
        fake.stop()


def _appstore() -> Iterator[Platform]:
    fake = FakeAppStore()
    fake.start()
    counter = iter(range(1, 10_000))

    def publish(text: str) -> tuple[str, str]:
        review_id = str(11_000_000_000 + next(counter))
        fake.publish("1500000001", StoreReview(review_id, text, datetime.now(UTC) - timedelta(minutes=5), rating=1))
        return review_id, f"https://apps.apple.com/us/app/id1500000001?see-all=reviews"

    env = {"EARSHOT_APPSTORE_ISSUER_ID": fake.issuer_id, "EARSHOT_APPSTORE_KEY_ID": fake.key_id,
           "EARSHOT_APPSTORE_PRIVATE_KEY": fake.private_key}
    try:
        yield Platform("appstore", fake, env, {"api_base_url": fake.base_url}, publish, fake.delete,
                       lambda _: fake.revoke_response_access(), lambda: fake.fail_next(429),
                       lambda n: [fake.responses[n]["attributes"]["responseBody"]] if n in fake.responses else [])
    finally:
        fake.stop()


FACTORIES: dict[str, Callable[[], Iterator[Platform]]] = {
    "x": _x, "reddit": _reddit, "mastodon": _mastodon, "bluesky": _bluesky, "googleplay": _googleplay,
    "appstore": _appstore,
}


@contextmanager
def platform(name: str) -> Iterator[Platform]:
    yield from FACTORIES[name]()
