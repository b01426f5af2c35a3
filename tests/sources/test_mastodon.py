"""Mastodon: the real Mastodon.py against a loopback fake instance (REST JSON, Link and rate-limit headers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import parse_config
from monitor.sources import SourceError, create_source
from monitor.sources.mastodon.source import TOKEN_ENV, MastodonSettings, MastodonSource, html_to_text
from monitor.store import SQLiteStore
from tests.sources.fakes.mastodon_api import Account, FakeMastodon, Status, to_html
from tests.sources.harness import BRAND, ingest, stored_cursor
from tests.sources.sleeps import Sleeps

TOKEN = "tok-4f9a7c1e2b"
BRANDS = [BRAND]
ANA = Account("7", "ana", followers=1200)
BEN = Account("8", "ben", followers=3, domain="other.example")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon(token=TOKEN, page_size=3)
    server.start()
    yield server
    server.stop()


def make_source(fake: FakeMastodon, sleeps: Sleeps | None = None, token: str = TOKEN,
                **overrides: Any) -> MastodonSource:
    settings = MastodonSettings(**{"api_base_url": fake.url, "page_size": 3, "backoff_seconds": 0.5, "retries": 3,
                                   **overrides})
    return MastodonSource(settings, token, sleep=sleeps if sleeps is not None else Sleeps())




def publish(fake: FakeMastodon, n: int, text: str = "acme post {i}", first: int = 100) -> list[str]:
    ids = [str(first + i) for i in range(n)]
    for i, status_id in enumerate(ids):
        fake.publish(Status(status_id, ANA, text.format(i=i), T0 + timedelta(minutes=i)))
    return ids


# --- mapping ---------------------------------------------------------------------------------


def test_html_content_becomes_plain_text() -> None:
    html = ('<p>Hey <span class="h-card"><a href="https://x.social/@acme" class="u-url mention">@<span>acme</span>'
            '</a></span> &amp; co,<br />why &quot;pending&quot;?</p><p>See <a href="https://status.acme.test/x">'
            '<span class="invisible">https://</span><span class="ellipsis">status.acme.test/</span>'
            '<span class="invisible">x</span></a> <a href="https://x.social/tags/fail" class="mention hashtag" '
            'rel="tag">#<span>fail</span></a></p>')
    assert html_to_text(html) == 'Hey @acme & co,\nwhy "pending"?\n\nSee https://status.acme.test/x #fail'
    assert html_to_text(to_html("a < b\n\nc")) == "a < b\n\nc"


def test_a_status_maps_counts_author_followers_warning_and_link(fake: FakeMastodon) -> None:
    fake.publish(Status("900", BEN, "Acme billing is broken #acme", T0, favourites=12, reblogs=5, replies=2,
                        language="de", spoiler="billing rant"))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.id, m.native_id, m.brand, m.query) == ("mastodon:900", "900", "Acme", "acme")
    assert (m.engagement.likes, m.engagement.reposts, m.engagement.replies) == (12, 5, 2)
    assert (m.author_handle, m.author_followers, m.lang, m.title) == ("ben@other.example", 3, "de", "billing rant")
    assert m.text == "Acme billing is broken #acme" and m.created_at == T0
    assert m.url.endswith("/@ben/900")


def test_a_status_whose_account_is_gone_is_still_a_mention(fake: FakeMastodon) -> None:
    fake.publish(Status("1", None, "acme lost my order", T0, language=None))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.author_handle, m.author_followers, m.lang) == ("[deleted]", 0, None)


def test_exclusions_and_unrelated_posts_are_not_mentions(fake: FakeMastodon) -> None:
    fake.publish(Status("1", ANA, "acme is hiring", T0))
    fake.publish(Status("2", ANA, "#acme great support", T0))
    assert [m.native_id for m in make_source(fake).fetch(BRANDS, None).mentions] == ["2"]


def test_hashtag_timelines_are_followed_even_without_search(fake: FakeMastodon) -> None:
    fake.publish(Status("1", ANA, "love #Acme", T0))
    fake.publish(Status("2", ANA, "acme without a tag", T0))
    batch = make_source(fake, hashtags=["#acme"], search=False).fetch(BRANDS, None)
    assert [m.native_id for m in batch.mentions] == ["1"]
    assert fake.paths("/api/v2/search") == [] and fake.paths("/api/v1/timelines/tag/acme")


def test_create_source_reads_the_token_from_the_environment(fake: FakeMastodon, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config({"brands": [BRANDS[0].model_dump()], "sources": {"mastodon": {"api_base_url": fake.url}}})
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SourceError, match=TOKEN_ENV):
        create_source("mastodon", cfg)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    source = create_source("mastodon", cfg)
    assert TOKEN not in repr(source)
    publish(fake, 1)
    assert len(source.fetch(BRANDS, None).mentions) == 1


# --- pagination and cursors ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["search", "hashtag"])
def test_a_backlog_is_read_over_several_batches_without_gaps(fake: FakeMastodon, store: SQLiteStore, mode: str) -> None:
    settings = {"search": False, "hashtags": ["acme"]} if mode == "hashtag" else {}
    publish(fake, 2)
    ingest(make_source(fake, **settings), store)
    ids = publish(fake, 10, text="#acme news {i}", first=200)
    first = make_source(fake, pages_per_fetch=2, **settings).fetch(BRANDS, stored_cursor(store, "mastodon"))
    assert len(first.mentions) == 6 and not first.exhausted
    assert ingest(make_source(fake, pages_per_fetch=2, **settings), store).new_mentions == 10
    assert set(store.get_mentions(f"mastodon:{i}" for i in ids)) == {f"mastodon:{i}" for i in ids}


def test_later_runs_ask_only_for_posts_newer_than_the_cursor(fake: FakeMastodon, store: SQLiteStore) -> None:
    publish(fake, 4, text="#acme {i}")
    source_settings = {"hashtags": ["acme"]}
    ingest(make_source(fake, **source_settings), store)
    assert ingest(make_source(fake, **source_settings), store).new_mentions == 0
    tag_calls = [q for p, q in fake.requests if p.startswith("/api/v1/timelines/tag/")]
    search_calls = [q for p, q in fake.requests if p == "/api/v2/search"]
    assert tag_calls[-1]["since_id"] == ["103"] and search_calls[-1]["min_id"] == ["103"]
    fake.publish(Status("104", ANA, "#acme late", T0 + timedelta(hours=1)))
    stats = ingest(make_source(fake, **source_settings), store)
    assert (stats.new_mentions, stats.updated_mentions, store.count_mentions()) == (1, 0, 5)


# --- failures ----------------------------------------------------------------------------------


def test_a_429_waits_until_the_rate_limit_reset_then_resumes(fake: FakeMastodon) -> None:
    publish(fake, 2)
    sleeps = Sleeps()
    source = make_source(fake, sleeps)
    source.fetch(BRANDS, None)
    fake.fail_next(429)
    publish(fake, 1, first=300)
    assert len(source.fetch(BRANDS, None).mentions) == 3
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2.0


def test_a_rejected_token_names_the_environment_variable_and_never_the_token(fake: FakeMastodon) -> None:
    wrong = "tok-wrong-777"
    with pytest.raises(SourceError) as raised:
        make_source(fake, token=wrong).fetch(BRANDS, None)
    message = str(raised.value)
    assert TOKEN_ENV in message and "HTTP 401" in message and wrong not in message


def test_a_403_is_a_credentials_error_too(fake: FakeMastodon) -> None:
    fake.fail_next(403)
    with pytest.raises(SourceError, match=rf"HTTP 403.*{TOKEN_ENV}"):
        make_source(fake).fetch(BRANDS, None)


def test_an_outage_raises_after_backing_off_and_stores_nothing(fake: FakeMastodon, store: SQLiteStore) -> None:
    publish(fake, 2)
    ingest(make_source(fake), store)
    before = stored_cursor(store, "mastodon")
    publish(fake, 5, first=200)
    fake.fail_next(503, times=100)
    sleeps = Sleeps()
    with pytest.raises(SourceError, match=r"mastodon: the instance is failing \(HTTP 503\); gave up after 3"):
        ingest(make_source(fake, sleeps), store)
    assert sleeps == [0.5, 1.0]
    assert (store.count_mentions(), stored_cursor(store, "mastodon")) == (2, before)


@pytest.mark.parametrize("kind", ["truncated", "shape", "html"])
def test_a_broken_reply_is_a_problem_and_is_read_again(fake: FakeMastodon, store: SQLiteStore, kind: str) -> None:
    publish(fake, 2)
    source = make_source(fake)
    source.fetch(BRANDS, None)  # the instance version is read: the next reply is the search
    fake.break_next_payload(kind)
    stats = ingest(source, store)
    assert store.count_mentions() == 0 and stats.problems[0].where == "mastodon q:acme -hiring"
    ingest(source, store)
    assert store.count_mentions() == 2


def test_a_broken_instance_reply_is_a_problem_for_a_fresh_source(fake: FakeMastodon) -> None:
    fake.break_next_payload()
    batch = make_source(fake).fetch(BRANDS, None)
    assert batch.problems and batch.mentions == []


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_uses_the_batch_endpoint_on_mastodon_4_3(fake: FakeMastodon) -> None:
    ids = publish(fake, 25)
    mentions = make_source(fake, pages_per_fetch=20, backfill_pages=20).fetch(BRANDS, None).mentions
    assert len(mentions) == 25
    fake.status(ids[3]).favourites = 42
    fake.delete(ids[4])
    snaps = {s.mention_id: s.engagement.likes for s in make_source(fake).refresh(mentions)}
    batches = [q["id[]"] for p, q in fake.requests if p == "/api/v1/statuses"]
    assert [len(b) for b in batches] == [20, 5]
    assert len(snaps) == 24 and snaps[f"mastodon:{ids[3]}"] == 42


def test_refresh_fetches_one_by_one_on_older_instances(fake: FakeMastodon) -> None:
    fake.version = "4.2.10"
    ids = publish(fake, 3)
    mentions = make_source(fake).fetch(BRANDS, None).mentions
    fake.status(ids[0]).reblogs = 9
    fake.delete(ids[1])
    snaps = {s.mention_id: s.engagement for s in make_source(fake).refresh(mentions)}
    assert len(fake.paths("/api/v1/statuses/")) == 3, "one GET /api/v1/statuses/:id per post"
    assert "/api/v1/statuses" not in fake.paths(), "no batch endpoint before 4.3"
    assert set(snaps) == {f"mastodon:{ids[0]}", f"mastodon:{ids[2]}"} and snaps[f"mastodon:{ids[0]}"].reposts == 9


def test_a_boolean_query_is_searched_per_alternative_with_its_exclusions(fake: FakeMastodon) -> None:
    from monitor.config import BrandConfig

    brand = BrandConfig(name="Acme", query="(acme OR acmecorp) NOT (hiring OR giveaway)")
    fake.publish(Status("100", ANA, "acme is down", T0))
    fake.publish(Status("101", ANA, "acmecorp giveaway now", T0 + timedelta(minutes=1)))
    fake.publish(Status("102", ANA, "#Acme outage", T0 + timedelta(minutes=2)))
    batch = make_source(fake).fetch([brand], None)
    assert sorted(m.native_id for m in batch.mentions) == ["100", "102"]
    sent = {params["q"][0] for path, params in fake.requests if path == "/api/v2/search"}
    assert sent == {"acme -hiring -giveaway", "acmecorp -hiring -giveaway"}
