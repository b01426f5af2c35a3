"""Google Play: the real google-play-scraper, routed by the source's urllib handler to a loopback fake."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import parse_config
from monitor.models import Mention
from monitor.sources import SourceError, create_source
from monitor.sources.googleplay.source import GooglePlaySettings, GooglePlaySource, review_version
from monitor.store import SQLiteStore
from tests.sources.fakes.googleplay_api import FakeGooglePlay, Review
from tests.sources.harness import BRAND, ingest, stored_cursor
from tests.sources.sleeps import Sleeps

APP = "com.acme.app"
BRANDS = [BRAND]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeGooglePlay]:
    server = FakeGooglePlay(page_size=3)
    server.start()
    yield server
    server.stop()


def make_source(fake: FakeGooglePlay, sleeps: Sleeps | None = None, **overrides: Any) -> GooglePlaySource:
    settings = {"apps": [{"app_id": APP, "brand": "Acme"}], "base_url": fake.url, "page_size": 3,
                "backoff_seconds": 0.5, "retries": 3, **overrides}
    return GooglePlaySource(GooglePlaySettings(**settings), sleep=sleeps if sleeps is not None else Sleeps())





def publish(fake: FakeGooglePlay, n: int, start: datetime = T0, prefix: str = "r") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    for i, review_id in enumerate(ids):
        fake.publish(APP, Review(review_id, f"review {i}", start + timedelta(minutes=i), score=1 + i % 5))
    return ids


# --- mapping ---------------------------------------------------------------------------------


def test_a_review_maps_rating_text_helpful_count_author_and_link(fake: FakeGooglePlay) -> None:
    fake.publish(APP, Review("gp:AOq1", "Crashes on login since the update", T0, score=1, helpful=17,
                             user="Dana", version="4.2.1", reply="Sorry! Fixed in 4.2.2"))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.id, m.source, m.native_id) == ("googleplay:gp:AOq1", "googleplay", "gp:AOq1")
    assert (m.rating, m.text, m.title, m.author_handle) == (1, "Crashes on login since the update", None, "Dana")
    assert m.engagement.likes == 17
    assert (m.brand, m.query, m.lang) == ("Acme", APP, "en")
    assert m.created_at == T0 and m.created_at.tzinfo is not None
    assert m.url == f"https://play.google.com/store/apps/details?id={APP}&hl=en&gl=us&reviewId=gp%3AAOq1"
    if "app_version" in Mention.model_fields:
        assert m.app_version == "4.2.1"  # type: ignore[attr-defined]


def test_the_app_version_comes_from_either_field_the_library_fills() -> None:
    assert review_version({"reviewCreatedVersion": "4.2.1", "appVersion": "4.2.1"}) == "4.2.1"
    assert review_version({"reviewCreatedVersion": None, "appVersion": "3.0"}) == "3.0"
    assert review_version({"reviewCreatedVersion": None, "appVersion": None}) is None


def test_missing_optional_fields_and_a_deleted_reviewer_still_make_a_mention(fake: FakeGooglePlay) -> None:
    fake.publish(APP, Review("r1", None, T0, score=3, helpful=0, user=None, version=None))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.text, m.author_handle, m.rating, m.engagement.likes) == ("", "[deleted]", 3, 0)


def test_reviews_are_not_text_matched_their_app_names_the_brand(fake: FakeGooglePlay) -> None:
    fake.publish(APP, Review("r1", "we are hiring, also the app is slow", T0))  # no "acme", and an exclusion
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.brand, m.query) == ("Acme", APP)


def test_a_malformed_review_is_a_problem_and_the_rest_are_kept(fake: FakeGooglePlay) -> None:
    fake.publish(APP, Review("good", "fine", T0))
    fake.publish(APP, Review("bad", "rated zero", T0 + timedelta(minutes=1), score=0))
    fake.publish(APP, Review("", "no id", T0 + timedelta(minutes=2)))
    batch = make_source(fake).fetch(BRANDS, None)
    assert [m.native_id for m in batch.mentions] == ["good"]
    messages = sorted(p.message for p in batch.problems)  # newest first: the id-less one comes first
    assert messages == ["review bad: score 0 is not a 1-5 rating", "reviewId is missing"]


def test_an_app_whose_brand_is_not_configured_is_reported(fake: FakeGooglePlay) -> None:
    source = make_source(fake, apps=[{"app_id": APP, "brand": "Globex"}])
    batch = source.fetch(BRANDS, None)
    assert batch.mentions == [] and "Globex" in batch.problems[0].message


def test_create_source_reads_the_apps_and_rejects_unknown_keys(fake: FakeGooglePlay) -> None:
    cfg = parse_config({"brands": [BRANDS[0].model_dump()], "sources": {"googleplay": {
        "apps": [{"app_id": APP, "brand": "Acme", "countries": ["us", "gb"], "languages": ["en"]}],
        "base_url": fake.url}}})
    source = create_source("googleplay", cfg)
    assert source.settings.apps[0].countries == ["us", "gb"]
    with pytest.raises(Exception, match=r"apps\.0\.bogus"):
        parse_config({"brands": [BRANDS[0].model_dump()],
                      "sources": {"googleplay": {"apps": [{"app_id": APP, "brand": "Acme", "bogus": 1}]}}})


# --- pagination and cursors ------------------------------------------------------------------


def test_a_long_backlog_is_read_over_several_batches_without_gaps(fake: FakeGooglePlay, store: SQLiteStore) -> None:
    ids = publish(fake, 10)
    source = make_source(fake, pages_per_fetch=2)
    first = source.fetch(BRANDS, None)
    assert len(first.mentions) == 6 and not first.exhausted, "two pages of three, and more ready"
    ingest(make_source(fake, pages_per_fetch=2), store)
    assert set(store.get_mentions(Mention.make_id("googleplay", i) for i in ids)) == {f"googleplay:{i}" for i in ids}
    continued = [r["body"] for r in fake.requests if "%5C%22" in r["body"] and "%2Cnull%2C%5C%22" in r["body"]]
    assert continued, "later pages must be asked with the library's continuation token"


def test_reingesting_adds_nothing_and_new_reviews_arrive_next_run(fake: FakeGooglePlay, store: SQLiteStore) -> None:
    publish(fake, 4)
    assert ingest(make_source(fake), store).new_mentions == 4
    assert ingest(make_source(fake), store).new_mentions == 0
    fake.publish(APP, Review("late", "new one", T0 + timedelta(hours=1)))
    stats = ingest(make_source(fake), store)
    assert (stats.new_mentions, stats.updated_mentions, store.count_mentions()) == (1, 0, 5)


def test_a_review_in_the_same_second_as_the_cursor_is_not_lost(fake: FakeGooglePlay, store: SQLiteStore) -> None:
    fake.publish(APP, Review("a", "first", T0))
    ingest(make_source(fake), store)
    fake.publish(APP, Review("b", "same second, indexed later", T0))
    assert ingest(make_source(fake), store).new_mentions == 1


def test_a_later_scan_stops_at_the_cursor_instead_of_rereading_history(fake: FakeGooglePlay,
                                                                       store: SQLiteStore) -> None:
    publish(fake, 12)
    ingest(make_source(fake), store)
    fake.requests.clear()
    fake.publish(APP, Review("new", "new", T0 + timedelta(hours=2)))
    ingest(make_source(fake), store)
    assert len(fake.requests) == 1, "one page reaches the cursor; older pages are not read again"


def test_each_country_and_language_is_its_own_stream(fake: FakeGooglePlay) -> None:
    publish(fake, 2)
    source = make_source(fake, apps=[{"app_id": APP, "brand": "Acme", "countries": ["us", "br"],
                                      "languages": ["en", "pt"]}])
    batch = source.fetch(BRANDS, None)
    asked = {(r["query"]["gl"][0], r["query"]["hl"][0]) for r in fake.requests}
    assert asked == {("us", "en"), ("us", "pt"), ("br", "en"), ("br", "pt")}
    assert len(batch.mentions) == 2, "the same review seen in four streams is one mention"


# --- failures ----------------------------------------------------------------------------------


def test_a_429_waits_for_retry_after_then_resumes(fake: FakeGooglePlay) -> None:
    publish(fake, 2)
    sleeps = Sleeps()
    fake.fail_next(429)
    batch = make_source(fake, sleeps).fetch(BRANDS, None)
    assert sleeps == [1.0] and len(batch.mentions) == 2


def test_googles_in_band_throttle_is_a_rate_limit_not_a_five_second_library_sleep(fake: FakeGooglePlay) -> None:
    publish(fake, 2)
    sleeps = Sleeps()
    fake.throttle_next()
    batch = make_source(fake, sleeps).fetch(BRANDS, None)
    assert len(sleeps) == 1 and len(batch.mentions) == 2


def test_a_rate_limit_wait_is_capped(fake: FakeGooglePlay) -> None:
    publish(fake, 1)
    sleeps = Sleeps()
    fake.fail_next(429)
    make_source(fake, sleeps, max_rate_limit_wait_seconds=0.25).fetch(BRANDS, None)
    assert sleeps == [0.25]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_raises_at_once_naming_the_setting(fake: FakeGooglePlay, status: int) -> None:
    fake.fail_next(status, times=10)
    with pytest.raises(SourceError, match=rf"googleplay.*HTTP {status}.*base_url"):
        make_source(fake).fetch(BRANDS, None)
    assert len(fake.requests) == 1, "a refusal is not retried"


def test_an_outage_raises_after_backing_off_and_stores_nothing(fake: FakeGooglePlay, store: SQLiteStore) -> None:
    publish(fake, 2)
    ingest(make_source(fake), store)
    before = stored_cursor(store, "googleplay")
    publish(fake, 4, start=T0 + timedelta(hours=1), prefix="n")
    fake.fail_next(503, times=100)
    sleeps = Sleeps()
    fake.requests.clear()
    with pytest.raises(SourceError, match="Google Play is failing \\(HTTP 503\\); gave up after 3 attempts"):
        ingest(make_source(fake, sleeps), store)
    assert sleeps == [0.5, 1.0] and len(fake.requests) == 3, "the library's own 3 retries add no requests"
    assert (store.count_mentions(), stored_cursor(store, "googleplay")) == (2, before)


def test_a_transient_error_mid_scan_is_retried_within_the_library_call(fake: FakeGooglePlay) -> None:
    publish(fake, 5)
    fake.fail_next(502)
    batch = make_source(fake).fetch(BRANDS, None)
    assert len(batch.mentions) == 5 and batch.problems == []


@pytest.mark.parametrize("kind", ["error-envelope", "html", "garbage"])
def test_a_broken_reply_is_a_problem_and_the_page_is_read_again_next_time(fake: FakeGooglePlay, store: SQLiteStore,
                                                                           kind: str) -> None:
    publish(fake, 2)
    fake.break_next_payload(kind)
    stats = ingest(make_source(fake), store)
    assert store.count_mentions() == 0 and "page 1" in stats.problems[0].where
    ingest(make_source(fake), store)
    assert store.count_mentions() == 2


def test_the_installed_urllib_opener_is_restored_even_after_a_failure(fake: FakeGooglePlay) -> None:
    marker = urllib.request.build_opener()
    urllib.request.install_opener(marker)
    try:
        fake.fail_next(500, times=10)
        with pytest.raises(SourceError):
            make_source(fake).fetch(BRANDS, None)
        assert urllib.request._opener is marker
    finally:
        urllib.request.install_opener(None)


def test_importing_the_source_leaves_tls_verification_on() -> None:
    assert ssl._create_default_https_context is not ssl._create_unverified_context


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_reads_current_helpful_counts_from_the_newest_pages(fake: FakeGooglePlay) -> None:
    ids = publish(fake, 4)
    mentions = make_source(fake).fetch(BRANDS, None).mentions
    fake.set_helpful(ids[0], 42)
    snaps = {s.mention_id: s.engagement.likes for s in make_source(fake).refresh(mentions)}
    assert snaps == {f"googleplay:{i}": (42 if i == ids[0] else 0) for i in ids}


def test_refresh_stops_after_refresh_pages(fake: FakeGooglePlay) -> None:
    publish(fake, 9)
    mentions = make_source(fake).fetch(BRANDS, None).mentions
    fake.requests.clear()
    snaps = make_source(fake, refresh_pages=2).refresh(mentions)
    assert len(snaps) == 6 and len(fake.requests) == 2, "only the 6 newest reviews are within two pages"
