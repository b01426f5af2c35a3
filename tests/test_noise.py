"""Noise: copies of a post are linked to its first post across sources, hours and runs; spam is
scored with reasons a person can read and overturn. On a real SQLite file and on the
Elasticsearch store (the fake server speaking its wire format)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from datasketch import MinHash
from pydantic import ValidationError

from monitor.config import Config
from monitor.models import Engagement, Mention
from monitor.noise.duplicates import SEED, fingerprint, fingerprints, shingle_hash
from monitor.noise.marking import NoiseJudge, mark_noise
from monitor.noise.settings import NoiseConfig, SpamSettings
from monitor.noise.spam import SpamScorer
from monitor.noise.text import normalise
from monitor.store import SQLiteStore
from monitor.store.base import MentionQuery
from tests.fake_elasticsearch import FakeElasticsearch

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COMPLAINT = "@BrisaMobile charged me twice this month and support hung up on me three times. Never again."


def post(native_id: str, text: str, minutes: float = 0, *, source: str = "x", author: str | None = None,
         followers: int = 500, brand: str = "Brisa", likes: int = 0) -> Mention:
    return Mention(id=Mention.make_id(source, native_id), source=source, native_id=native_id,
                   url=f"https://example.com/{native_id}", author_handle=author or f"user_{native_id}",
                   author_followers=followers, text=text, created_at=T0 + timedelta(minutes=minutes), brand=brand,
                   query=brand.lower(), engagement=Engagement(likes=likes))


def config(**brand_spam) -> Config:
    return Config(brands=[{"name": "Brisa", "queries": ["brisa"], "spam": brand_spam},
                          {"name": "Other", "queries": ["other"]}])


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "noise.db")
        yield s
        s.close()
        return
    from monitor.store.elasticsearch import ElasticsearchStore
    from monitor.store.elasticsearch.client import client_from_url

    with FakeElasticsearch() as fake:
        s = ElasticsearchStore(client_from_url(fake.url), "noise", retention_days=None)
        yield s
        s.close()


# -- normalising and signing -----------------------------------------------------------------


def test_normalising_drops_what_reposts_change_and_keeps_the_words():
    assert normalise("RT @dana: Telefónica me COBRÓ dos veces!! https://t.co/x #fail") == \
        "telefonica me cobro dos veces fail"
    assert normalise(COMPLAINT) == normalise(f"{COMPLAINT.upper()} https://bit.ly/abc")


def test_batch_signatures_are_datasketchs_minhash():
    cfg = NoiseConfig()
    texts = [(COMPLAINT, "Brisa"), ("Telefónica me cobró dos veces la factura y nadie contesta", "Brisa"), ("hi", "B")]
    for single, batch in zip((fingerprint(t, b, cfg) for t, b in texts), fingerprints(texts, cfg), strict=True):
        assert np.array_equal(single.signature, batch.signature) and single.bands == batch.bands
    from monitor.noise.text import shingles

    reference = MinHash(num_perm=cfg.num_perm, seed=SEED, hashfunc=shingle_hash, scheme="affine32")
    reference.update_batch(shingles(normalise(COMPLAINT), cfg.shingle_chars))
    assert np.array_equal(fingerprints([(COMPLAINT, "Brisa")], cfg)[0].signature, reference.hashvalues)


def test_the_permutations_drawn_without_datasketch_are_datasketchs():
    from monitor.noise.duplicates import _permutations

    for num_perm in (16, 64, 128):
        mine, scheme = _permutations(num_perm)
        theirs = MinHash(num_perm=num_perm, seed=SEED, scheme="affine32")
        assert scheme == theirs.scheme and mine.dtype == theirs.permutations.dtype
        assert np.array_equal(mine, theirs.permutations)


# -- copies ----------------------------------------------------------------------------------


def test_a_copy_on_another_source_hours_later_is_linked_to_the_first_post_and_counted(store):
    store.ingest([
        post("1", COMPLAINT, 0, author="dana"),
        post("2", f"RT @dana: {COMPLAINT}", 90, author="mo", likes=7),
        post("t3_9", COMPLAINT.lower() + " #fail", 60 * 20, source="reddit", author="ines", likes=3),
        post("4", "@BrisaMobile my bill doubled this month and nobody can tell me why. Fix it.", 30),
        post("5", "thanks brisa", 40),
        post("6", "thanks brisa", 41),  # short: many people say it; never a copy
    ], [])
    stats = mark_noise(config(), store)
    assert (stats.judged, stats.duplicates) == (6, 2)
    marks = store.noise_of(["x:1", "x:2", "reddit:t3_9", "x:4", "x:5", "x:6"])
    assert marks["x:2"].duplicate_of == marks["reddit:t3_9"].duplicate_of == "x:1"
    assert marks["x:1"].duplicate_of is None and marks["x:4"].duplicate_of is None
    assert marks["x:6"].duplicate_of is None
    cluster = store.clusters(["x:1", "x:4"])
    assert set(cluster) == {"x:1"}
    assert (cluster["x:1"].copies, cluster["x:1"].accounts, cluster["x:1"].engagement) == (2, 3, 10)
    assert cluster["x:1"].summary() == "posted 3 times by 3 accounts"
    assert cluster["x:1"].sources == ("reddit", "x")
    copies = store.search_mentions(MentionQuery(duplicate=True))
    assert {m.id for m in copies.mentions} == {"x:2", "reddit:t3_9"}
    assert {m.id for m in store.search_mentions(MentionQuery(duplicate=False)).mentions} == {"x:1", "x:4", "x:5", "x:6"}


def test_a_post_taken_down_is_no_later_copys_first_post(store):
    """A tombstone keeps its mark (the cluster it led, its spam verdict) but not the keys its text
    is found by: a copy posted after the take-down starts a cluster of its own, while a post left
    up is still found. Several posts taken down at once, as a purge or an erasure request does."""
    bill = "@BrisaMobile my bill doubled this month and nobody can tell me why. Fix it."
    outage = "@BrisaMobile no signal in the whole of Lisbon since this morning, what is going on?"
    store.ingest([post("1", COMPLAINT, 0), post("3", bill, 1), post("7", outage, 2)], [])
    mark_noise(config(), store)
    assert store.tombstone([("x:1", "deleted"), ("x:3", "suspended")], T0 + timedelta(minutes=30)) == 2
    store.ingest([post("4", COMPLAINT, 60), post("5", bill.upper(), 61), post("8", f"RT @user_7: {outage}", 62)], [])
    mark_noise(config(), store)
    marks = store.noise_of(["x:1", "x:3", "x:4", "x:5", "x:8"])
    assert set(marks) == {"x:1", "x:3", "x:4", "x:5", "x:8"}
    assert (marks["x:4"].duplicate_of, marks["x:5"].duplicate_of, marks["x:8"].duplicate_of) == (None, None, "x:7")


def test_the_index_persists_a_copy_in_a_later_run_finds_its_first_post(tmp_path):
    first = SQLiteStore(tmp_path / "earshot.db")
    first.ingest([post("1", COMPLAINT, 0)], [])
    mark_noise(config(), first)
    first.close()
    reopened = SQLiteStore(tmp_path / "earshot.db")  # another run, another process
    reopened.ingest([post("2", COMPLAINT + " 😡", 60 * 30)], [])
    assert mark_noise(config(), reopened).duplicates == 1
    assert reopened.noise_of(["x:2"])["x:2"].duplicate_of == "x:1"
    assert mark_noise(config(), reopened).judged == 0  # each mention is judged once
    reopened.close()


def test_copies_are_found_per_brand_and_within_the_window_only(store):
    store.ingest([
        post("1", COMPLAINT, 0),
        post("2", COMPLAINT, 10, brand="Other"),
        post("3", COMPLAINT, 60 * 24 * 4),  # four days later: the default window is three
    ], [])
    mark_noise(config(), store)
    assert [m.duplicate_of for m in store.noise_of(["x:1", "x:2", "x:3"]).values()] == [None, None, None]


def test_a_copy_of_a_copy_links_to_the_first_post(store):
    store.ingest([post("1", COMPLAINT, 0), post("2", COMPLAINT + "!!", 5)], [])
    mark_noise(config(), store)
    store.ingest([post("3", "RT @user_2: " + COMPLAINT + "!!", 9)], [])
    mark_noise(config(), store)
    assert store.noise_of(["x:3"])["x:3"].duplicate_of == "x:1"


def test_duplicate_detection_can_be_switched_off():
    cfg = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}], noise={"enabled": False})
    judge = NoiseJudge(cfg.noise)
    marks, _ = judge.judge([post("1", COMPLAINT, 0), post("2", COMPLAINT, 1)], lambda bands: [])
    assert [m.duplicate_of for m in marks] == [None, None]


# -- spam ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "reason"), [
    ("GIVEAWAY! RT & follow @brisa and tag 3 friends to win a free iPhone 16", "giveaway pattern: giveaway"),
    ("Send 0.1 ETH to get 0.2 ETH back, Brisa's anniversary! Limited time only", "scam pattern: crypto doubling"),
    ("Buy 5k real followers cheap, instant delivery", "scam pattern: followers for sale"),
    ("Brisa deals https://a.example/1 https://b.example/2 https://c.example/3", "link farm: 3 links"),
    ("brisa is ok #a #b #c #d #e #f #g", "hashtag stuffing: 7 hashtags"),
    ("Claim your Brisa refund https://bit.ly/x1 https://free-stuff.xyz/y", "shortened or throwaway links"),
])
def test_spam_rules_flag_with_readable_reasons(text, reason):
    verdict = SpamScorer(SpamSettings()).score(text)
    assert verdict.spam and any(r.startswith(reason) for r in verdict.reasons), verdict


@pytest.mark.parametrize("text", [
    "We won the game last night, what a match! Brisa's 5G held up in the stadium too.",
    "Brisa charged me twice for my bill, I want my money back",
    "New Brisa plans are out https://brisa.example/plans #5G #deals",
    "@BrisaMobile @BrisaHelp why is my bill so high?",
])
def test_ordinary_posts_are_not_spam(text):
    assert not SpamScorer(SpamSettings()).score(text).spam


def test_spam_is_configured_per_brand():
    strict = SpamScorer(SpamSettings(threshold=0.5))
    lenient = SpamScorer(SpamSettings(threshold=3))
    giveaway = "Our giveaway winners are announced today, good luck everyone!"  # one promotion phrase: 0.6
    assert strict.score(giveaway).spam and not lenient.score(giveaway).spam
    own = SpamScorer(SpamSettings(trusted_hosts=["brisa.example"], max_links=1))
    assert not own.score("Plans https://brisa.example/a https://www.brisa.example/b").spam
    custom = SpamScorer(SpamSettings(giveaway_terms=["Kuota gratis"], weights={"giveaway": 1.0}))
    assert custom.score("Dapatkan KUOTA GRATIS sekarang").reasons == ("giveaway pattern: Kuota gratis",)
    with pytest.raises(ValidationError, match="unknown rule"):
        SpamSettings(weights={"bogus": 1})
    judge = NoiseJudge(NoiseConfig(), {"Brisa": SpamSettings(threshold=0.5)})
    marks, _ = judge.judge([post("1", giveaway, 0), post("2", giveaway, 0, brand="Other")], lambda bands: [])
    assert [m.spam for m in marks] == [True, False]


def test_new_accounts_posting_one_text_are_a_bot_ring_flagged_back_to_its_first_copy(store):
    ring = [post(str(i), COMPLAINT, i * 10, author=f"bot{i}", followers=1) for i in range(1, 4)]
    store.ingest([post("0", COMPLAINT, 0, author="dana", followers=3000), *ring], [])
    mark_noise(config(), store)
    assert not any(m.spam for m in store.noise_of(["x:0", "x:1", "x:2", "x:3"]).values())  # 3 of 5: not yet
    store.ingest([post(str(i), COMPLAINT, i * 10, author=f"bot{i}", followers=0) for i in (4, 5)], [])
    stats = mark_noise(config(), store)  # the fifth fresh account: the ring is one
    assert stats.reflagged == 3
    marks = store.noise_of(["x:0", "x:1", "x:2", "x:3", "x:4", "x:5"])
    assert [marks[f"x:{i}"].is_spam for i in range(6)] == [False, True, True, True, True, True]
    assert "same text from 5 new accounts" in marks["x:1"].spam_reasons


def test_not_spam_is_a_persons_word_and_survives_rejudging(store):
    store.ingest([post("1", "GIVEAWAY: RT & follow to win a free iPhone", 0)], [])
    mark_noise(config(), store)
    assert [m.id for m in store.search_mentions(MentionQuery(spam=True)).mentions] == ["x:1"]
    assert store.set_not_spam("x:1", True).is_spam is False
    store.set_noise([store.noise_of(["x:1"])["x:1"]])  # judged again: the verdict stays
    assert store.noise_of(["x:1"])["x:1"].not_spam
    assert store.search_mentions(MentionQuery(spam=True)).mentions == []
    assert [m.id for m in store.search_mentions(MentionQuery(spam=False)).mentions] == ["x:1"]
    assert store.set_not_spam("x:1", False).is_spam  # reversible
    with pytest.raises(KeyError):
        store.set_not_spam("x:unknown", True)


def test_the_trend_of_copies_counts_only_copies_per_bucket(store):
    store.ingest([post("1", COMPLAINT, 0), post("2", COMPLAINT, 7), post("3", COMPLAINT + "!", 12),
                  post("4", "@BrisaMobile my bill doubled this month and nobody can tell me why. Fix it.", 8)], [])
    mark_noise(config(), store)
    points = store.duplicate_trend(T0 - timedelta(hours=1), brand="Brisa", bucket_minutes=5)
    assert [(p.bucket, p.count) for p in points] == [(T0 + timedelta(minutes=5), 1), (T0 + timedelta(minutes=10), 1)]
    assert store.duplicate_trend(T0, brand="Other") == []
    assert sum(p.count for p in store.trend(T0, brand="Brisa", bucket_minutes=5)) == 4  # the trend is every post
