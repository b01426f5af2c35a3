"""App Store: the source's httpx client against a loopback fake of Apple's customer-reviews feed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitor import pipeline
from monitor.config import parse_config
from monitor.models import Mention
from monitor.sources import SourceError
from monitor.sources.appstore.source import AppStoreSettings, AppStoreSource, StoreApp, entry_to_mention, is_app_entry
from monitor.store import SQLiteStore
from tests.sources.fakes.appstore_api import FakeAppStore, Review
from tests.sources.harness import BRAND, ingest, stored_cursor
from tests.sources.sleeps import Sleeps

APP = "284882215"
BRANDS = [BRAND]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeAppStore]:
    server = FakeAppStore(page_size=3)
    server.start()
    yield server
    server.stop()


def make_source(fake: FakeAppStore, sleeps: Sleeps | None = None, **overrides: Any) -> AppStoreSource:
    settings = {"apps": [{"app_id": APP, "brand": "Acme"}], "base_url": fake.url, "backoff_seconds": 0.5,
                "retries": 3, **overrides}
    return AppStoreSource(AppStoreSettings(**settings), sleep=sleeps if sleeps is not None else Sleeps())




def publish(fake: FakeAppStore, n: int, start: datetime = T0, first_id: int = 9000, country: str = "us") -> list[str]:
    ids = [str(first_id + i) for i in range(n)]
    for i, review_id in enumerate(ids):
        fake.publish(APP, Review(review_id, f"review {i}", start + timedelta(minutes=i), rating=1 + i % 5), country)
    return ids


# --- mapping ---------------------------------------------------------------------------------


def test_a_review_maps_rating_title_text_votes_author_version_and_time(fake: FakeAppStore) -> None:
    fake.publish(APP, Review("11223344", "Lost my data after 4.2", T0, rating=1, title="Terrible update",
                             author="dana_k", version="4.2.0", votes=9, helpful=7))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.id, m.native_id, m.rating, m.title, m.text) == ("appstore:11223344", "11223344", 1, "Terrible update",
                                                             "Lost my data after 4.2")
    assert (m.author_handle, m.engagement.likes, m.brand, m.query) == ("dana_k", 9, "Acme", APP)
    assert m.created_at == T0, "Cupertino offsets are converted to UTC"
    assert m.url.startswith("https://itunes.apple.com/us/review?id=")
    if "app_version" in Mention.model_fields:
        assert m.app_version == "4.2.0"  # type: ignore[attr-defined]


def test_missing_version_title_and_author_still_make_a_mention(fake: FakeAppStore) -> None:
    fake.publish(APP, Review("1", "meh", T0, rating=3, title=None, author=None, version=None))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.title, m.author_handle, m.rating) == (None, "[deleted]", 3)


def test_the_apps_own_entry_is_skipped_and_a_lone_entry_object_is_read(fake: FakeAppStore) -> None:
    fake.app_entry = False
    fake.publish(APP, Review("1", "only one", T0))  # the feed then gives `entry` as an object, not a list
    assert [m.native_id for m in make_source(fake).fetch(BRANDS, None).mentions] == ["1"]
    fake.app_entry = True
    assert is_app_entry({"im:name": {"label": "Acme"}, "id": {"label": "https://apps.apple.com/us/app/id1"}})
    assert [m.native_id for m in make_source(fake).fetch(BRANDS, None).mentions] == ["1"]


def test_content_given_as_text_and_html_variants_uses_the_text() -> None:
    entry = {"id": {"label": "7"}, "im:rating": {"label": "4"}, "updated": {"label": "2026-03-01T05:00:00-07:00"},
             "content": [{"label": "plain words", "attributes": {"type": "text"}},
                         {"label": "<p>plain words</p>", "attributes": {"type": "html"}}]}
    m = entry_to_mention(entry, StoreApp(app_id=APP, brand="Acme"), "gb")
    assert (m.text, m.created_at) == ("plain words", T0)
    assert m.url == f"https://apps.apple.com/gb/app/id{APP}?see-all=reviews", "no link: the app's reviews page"


def test_a_malformed_entry_is_a_problem_and_the_rest_are_kept(fake: FakeAppStore) -> None:
    fake.publish(APP, Review("1", "good", T0))
    fake.publish(APP, Review("2", "bad rating", T0 + timedelta(minutes=1), rating=9))
    batch = make_source(fake).fetch(BRANDS, None)
    assert [m.native_id for m in batch.mentions] == ["1"]
    assert [p.message for p in batch.problems] == ["review 2: rating 9 is not 1-5"]


def test_the_app_id_must_be_apples_numeric_id() -> None:
    with pytest.raises(Exception, match="app_id"):
        parse_config({"brands": [BRANDS[0].model_dump()],
                      "sources": {"appstore": {"apps": [{"app_id": "com.acme.app", "brand": "Acme"}]}}})


# --- pagination and cursors ------------------------------------------------------------------


def test_pages_are_read_over_several_batches_and_all_stored_once(fake: FakeAppStore, store: SQLiteStore) -> None:
    ids = publish(fake, 10)
    first = make_source(fake, pages_per_fetch=2).fetch(BRANDS, None)
    assert len(first.mentions) == 6 and not first.exhausted
    stats = ingest(make_source(fake, pages_per_fetch=2), store)
    assert stats.new_mentions == 10 and set(store.get_mentions(f"appstore:{i}" for i in ids)) == {
        f"appstore:{i}" for i in ids}


def test_the_feed_stops_at_ten_pages(fake: FakeAppStore) -> None:
    publish(fake, 40)  # 13+ pages' worth; Apple serves ten
    batch = make_source(fake, pages_per_fetch=10).fetch(BRANDS, None)
    assert len(batch.mentions) == 30 and batch.exhausted
    assert max(int(p.split("page=")[1].split("/")[0]) for p in fake.requests) == 10


def test_reingesting_adds_nothing_and_new_reviews_arrive_next_run(fake: FakeAppStore, store: SQLiteStore) -> None:
    publish(fake, 5)
    assert ingest(make_source(fake), store).new_mentions == 5
    fake.requests.clear()
    assert ingest(make_source(fake), store).new_mentions == 0
    assert len(fake.requests) == 1, "page 1 already reaches the cursor"
    fake.publish(APP, Review("late", "new", T0 + timedelta(hours=1)))
    stats = ingest(make_source(fake), store)
    assert (stats.new_mentions, store.count_mentions()) == (1, 6)


def test_an_edited_review_comes_back_as_an_update(fake: FakeAppStore, store: SQLiteStore) -> None:
    publish(fake, 3)
    ingest(make_source(fake), store)
    fake.publish(APP, Review("9000", "edited: now it works", T0 + timedelta(hours=1), rating=4))
    stats = ingest(make_source(fake), store)
    assert (stats.new_mentions, stats.updated_mentions) == (0, 1)


def test_each_country_is_its_own_feed(fake: FakeAppStore) -> None:
    publish(fake, 2, country="us")
    publish(fake, 1, country="de", first_id=500)
    source = make_source(fake, apps=[{"app_id": APP, "brand": "Acme", "countries": ["us", "de"]}])
    assert sorted(m.native_id for m in source.fetch(BRANDS, None).mentions) == ["500", "9000", "9001"]


# --- failures ----------------------------------------------------------------------------------


def test_a_429_waits_for_retry_after_then_resumes(fake: FakeAppStore) -> None:
    publish(fake, 2)
    sleeps = Sleeps()
    fake.fail_next(429)
    assert len(make_source(fake, sleeps).fetch(BRANDS, None).mentions) == 2
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_raises_at_once(fake: FakeAppStore, status: int) -> None:
    fake.fail_next(status, times=5)
    with pytest.raises(SourceError, match=rf"appstore: Apple refused the request \(HTTP {status}\)"):
        make_source(fake).fetch(BRANDS, None)
    assert len(fake.requests) == 1


def test_an_outage_raises_after_backing_off_and_stores_nothing(fake: FakeAppStore, store: SQLiteStore) -> None:
    publish(fake, 2)
    ingest(make_source(fake), store)
    before = stored_cursor(store, "appstore")
    publish(fake, 5, start=T0 + timedelta(hours=1), first_id=100)
    fake.fail_next(500, times=100)
    fake.requests.clear()
    sleeps = Sleeps()
    with pytest.raises(SourceError, match=r"App Store feed is failing \(HTTP 500\); gave up after 3 attempts"):
        ingest(make_source(fake, sleeps), store)
    assert (sleeps, len(fake.requests)) == ([0.5, 1.0], 3)
    assert (store.count_mentions(), stored_cursor(store, "appstore")) == (2, before)


def test_an_outage_on_a_later_page_stores_nothing_either(fake: FakeAppStore, store: SQLiteStore) -> None:
    publish(fake, 7)
    ingest(make_source(fake), store)
    publish(fake, 7, start=T0 + timedelta(hours=1), first_id=100)
    batch = make_source(fake, pages_per_fetch=1).fetch(BRANDS, stored_cursor(store, "appstore"))
    store.ingest(batch.mentions, batch.snapshots, pipeline.cursor_key("appstore"), batch.cursor)
    assert not batch.exhausted, "one page stored, the scan is still open"
    stored, open_scan = store.count_mentions(), stored_cursor(store, "appstore")
    fake.fail_next(503, times=3)  # every attempt of the next run
    with pytest.raises(SourceError):
        ingest(make_source(fake), store)
    assert (store.count_mentions(), stored_cursor(store, "appstore")) == (stored, open_scan)
    ingest(make_source(fake), store)
    assert store.count_mentions() == 14, "the open scan resumes where it stopped"


@pytest.mark.parametrize("kind", ["truncated", "html", "shape"])
def test_a_broken_reply_is_a_problem_and_is_read_again_next_time(fake: FakeAppStore, store: SQLiteStore,
                                                                  kind: str) -> None:
    publish(fake, 2)
    fake.break_next_payload(kind)
    stats = ingest(make_source(fake), store)
    assert store.count_mentions() == 0 and stats.problems and "page 1" in stats.problems[0].where
    ingest(make_source(fake), store)
    assert store.count_mentions() == 2


def test_an_app_without_a_feed_is_a_problem_not_an_outage(fake: FakeAppStore) -> None:
    fake.fail_next(404)
    batch = make_source(fake).fetch(BRANDS, None)
    assert "HTTP 404" in batch.problems[0].message


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_reads_current_vote_counts(fake: FakeAppStore) -> None:
    ids = publish(fake, 4)
    mentions = make_source(fake).fetch(BRANDS, None).mentions
    fake.set_votes(ids[1], 42)
    snaps = {s.mention_id: s.engagement.likes for s in make_source(fake).refresh(mentions)}
    assert snaps == {f"appstore:{i}": (42 if i == ids[1] else 0) for i in ids}
    assert all(s.observed_at.tzinfo is not None for s in make_source(fake).refresh(mentions))


def test_refresh_reads_at_most_refresh_pages(fake: FakeAppStore) -> None:
    publish(fake, 9)
    mentions = make_source(fake, pages_per_fetch=5).fetch(BRANDS, None).mentions
    fake.requests.clear()
    assert len(make_source(fake, refresh_pages=1).refresh(mentions)) == 3
    assert len(fake.requests) == 1


def test_the_feed_times_are_read_with_their_offsets() -> None:
    pacific = timezone(timedelta(hours=-7))
    entry = {"id": {"label": "1"}, "im:rating": {"label": "5"},
             "updated": {"label": T0.astimezone(pacific).isoformat()}, "content": {"label": "x"}}
    assert entry_to_mention(entry, StoreApp(app_id=APP, brand="Acme"), "us").created_at == T0
