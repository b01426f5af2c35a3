"""Noise through the pipeline: a copy raises no alert and adds to its first post's spread, a bot
flood of one text is not a storm of voices, and alerts on spam wait in the outbox until a
person says "not spam"."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from monitor import pipeline, triage
from monitor.config import Config, StormConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, Reading, Sentiment, SentimentLabel
from monitor.noise.clusters import merge_copies
from monitor.noise.marking import mark_noise
from monitor.noise.marks import NoiseMark
from monitor.store import SQLiteStore
from monitor.storm import StormDetector
from tests.conftest import VIRAL

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SCAM = "x:1991500000000000200"
NEGATIVE = Sentiment(label=SentimentLabel.negative, score=-0.8, model="test")


def mention(mid: str, minutes: float, text: str, author: str = "a", followers: int = 100) -> Mention:
    return Mention(id=f"x:{mid}", source="x", native_id=mid, url=f"https://x.com/{author}/status/{mid}",
                   author_handle=author, author_followers=followers, text=text,
                   created_at=T0 + timedelta(minutes=minutes), brand="Brisa", query="brisa", sentiment=NEGATIVE)


def mark(mid: str, minutes: float, duplicate_of: str | None = None, author: str = "a") -> NoiseMark:
    return NoiseMark(mention_id=f"x:{mid}", brand="Brisa", author_handle=author, author_followers=1,
                     created_at=T0 + timedelta(minutes=minutes), duplicate_of=duplicate_of)


def snap(mid: str, minutes: float, likes: int, reposts: int = 0) -> EngagementSnapshot:
    return EngagementSnapshot(mention_id=f"x:{mid}", observed_at=T0 + timedelta(minutes=minutes),
                              engagement=Engagement(likes=likes, reposts=reposts))


def readings(snaps: list[EngagementSnapshot]) -> dict[str, list[Reading]]:
    found: dict[str, list[Reading]] = {}
    for s in snaps:
        found.setdefault(s.mention_id, []).append(Reading.of(s))
    return found


def test_a_copys_engagement_and_the_copy_itself_count_towards_the_first_post_as_known_at_each_time():
    mentions = {f"x:{i}": mention(str(i), m, "t") for i, m in ((1, 0), (2, 15), (3, 25))}
    marks = {"x:1": mark("1", 0), "x:2": mark("2", 15, "x:1", "b"), "x:3": mark("3", 25, "x:1", "c")}
    snaps = [snap("1", 10, 5), snap("2", 20, 3, 1), snap("1", 30, 8), snap("3", 30, 2)]
    merged = merge_copies(mentions, readings(snaps), marks, copy_as_reposts=1)
    assert set(merged.series) == {"x:1"}  # copies have no curve of their own
    series = [(int((r.observed_at - T0).total_seconds() // 60), r.likes, r.reposts) for r in merged.series["x:1"]]
    # at 15 the first copy appears (a repost), at 20 its own engagement, at 25 the second copy ...
    assert series == [(10, 5, 0), (15, 5, 1), (20, 8, 2), (25, 8, 3), (30, 13, 3)]
    assert [m.mention_id for m in merged.copies["x:1"]] == ["x:2", "x:3"]
    # A first post that was erased takes no copies in: nothing to merge into.
    assert merge_copies({"x:2", "x:3"}, readings(snaps), marks).series == {}


def _merged_by_summing_every_member(root, ids, series, copy_times, copy_as_reposts):
    """The merge written the obvious way (every member's latest reading summed at every time): the
    oracle the running-totals merge must equal."""
    import bisect

    own = {mid: sorted(series.get(mid, []), key=lambda s: s.observed_at) for mid in ids}
    times = sorted({s.observed_at for snaps in own.values() for s in snaps} | set(copy_times))
    out = []
    for t in times:
        latest = {}
        for mid in ids:
            for s in own[mid]:
                if s.observed_at <= t:
                    latest[mid] = s.engagement
        total = {f: sum(getattr(e, f) for e in latest.values()) for f in ("likes", "reposts", "replies", "quotes",
                                                                          "score")}
        total["reposts"] += copy_as_reposts * bisect.bisect_right(copy_times, t)
        out.append((t, Engagement(**total)))
    return out


def test_a_merged_series_is_every_members_latest_reading_summed_at_each_time_whatever_the_cluster():
    rng = random.Random(7)
    for _ in range(200):
        members = rng.randrange(1, 12)
        ids = [f"x:{i}" for i in range(members)]
        created = sorted(rng.uniform(0, 120) for _ in ids)
        marks = {mid: mark(mid[2:], c, None if k == 0 else "x:0") for k, (mid, c) in enumerate(zip(ids, created))}
        snaps = [EngagementSnapshot(mention_id=rng.choice(ids), observed_at=T0 + timedelta(minutes=rng.randrange(0, 200, 5)),
                                    engagement=Engagement(likes=rng.randrange(50), reposts=rng.randrange(9),
                                                          quotes=rng.randrange(3), score=rng.randrange(-20, 20)))
                 for _ in range(rng.randrange(0, 30))]  # ties on purpose: one member read twice at one time
        copy_as_reposts = rng.choice([0, 1, 3])
        merged = merge_copies(set(ids), readings(snaps), marks, copy_as_reposts)
        series = {}
        for s in snaps:
            series.setdefault(s.mention_id, []).append(s)
        copies = merged.copies.get("x:0", [])
        if not copies:  # a post no one copied keeps its own readings
            assert "x:0" not in merged.series
            continue
        expected = _merged_by_summing_every_member("x:0", ["x:0", *(m.mention_id for m in copies)], series,
                                                   [m.created_at for m in copies], copy_as_reposts)
        got = [(r.observed_at, Engagement(likes=r.likes, reposts=r.reposts, replies=r.replies, quotes=r.quotes,
                                          score=r.score)) for r in merged.series["x:0"]]
        assert got == expected


def test_the_demo_complaints_copies_raise_no_alert_and_its_alert_says_how_often_it_was_posted(config, scorer):
    store = SQLiteStore(config.resolve(config.store.path))
    summary = pipeline.run_once(config, store, scorer=scorer, channels=[])
    copies = {mid for mid, m in store.noise_of(store.get_mentions([VIRAL]) | {
        a: None for a in (f"x:19915000000000001{i:02d}" for i in range(7))}).items() if m.duplicate_of == VIRAL}
    assert len(copies) == 7
    assert not copies & {a.mention_id for a in summary.alerts}
    warning = store.get_alert(f"{VIRAL}:warning")
    assert "Posted 2 times by 2 accounts so far." in warning.reason
    assert store.clusters([VIRAL])[VIRAL].summary() == "posted 8 times by 8 accounts"
    store.close()


def test_alerts_on_spam_wait_in_the_outbox_until_someone_says_not_spam(config, scorer):
    store = SQLiteStore(config.resolve(config.store.path))
    summary = pipeline.run_once(config, store, scorer=scorer)
    log = config.resolve(config.alerts.channels[1].path)
    sent = [json.loads(line)["id"] for line in log.read_text().splitlines()]
    assert sent == [f"{VIRAL}:info", f"{VIRAL}:warning", f"{VIRAL}:critical"]
    assert set(summary.delivery.held_as_spam.values()) == {3}  # each channel: the scam's three alerts
    triage.mark_spam(store, f"{SCAM}:critical", True, "luis", T0, "a customer quoting the scam")
    report = pipeline.notify(config, store)
    assert set(report.sent.values()) == {3} and not any(report.held_as_spam.values())
    sent = [json.loads(line)["id"] for line in log.read_text().splitlines()]
    assert sent[3:] == [f"{SCAM}:info", f"{SCAM}:warning", f"{SCAM}:critical"]
    store.close()


# -- storms count voices ----------------------------------------------------------------------

VOCABULARY = ["".join(random.Random(n).choices("abcdefghijklmnopqrstuvwxyz", k=7)) for n in range(5000)]


def background(rng: random.Random, days: int = 3) -> list[Mention]:
    """Three quiet days: a few distinct posts every 5 minutes."""
    out = []
    for bucket in range(days * 288):
        for k in range(rng.randint(1, 3)):
            text = "brisa " + " ".join(rng.choices(VOCABULARY, k=10))
            out.append(mention(f"bg{bucket}-{k}", bucket * 5 + k, text, author=f"p{bucket}-{k}"))
    return out


def storms(store: SQLiteStore, now: datetime) -> list:
    """Storms in the hour of the flood (the quiet days before it are only its history)."""
    cfg = StormConfig(min_history_days=2, cooldown_hours=1)
    return StormDetector(cfg, ["Brisa"]).detect(store, T0 + timedelta(days=3, minutes=-5), now)


def flood(start: float, count: int, text: str | None, rng: random.Random) -> list[Mention]:
    return [mention(f"fl{i}", start + i * 0.4, text or "brisa " + " ".join(rng.choices(VOCABULARY, k=10)),
                    author=f"bot{i}", followers=0) for i in range(count)]


def test_a_bot_flood_of_one_text_is_not_a_storm_but_many_voices_are(tmp_path):
    rng = random.Random(5)
    quiet = background(rng)
    now = T0 + timedelta(days=3, hours=1)
    cfg = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}])

    one_text = SQLiteStore(tmp_path / "flood.db")
    one_text.ingest([*quiet, *flood(3 * 24 * 60, 150, "brisa is stealing from customers, boycott brisa now!!", rng)], [])
    mark_noise(cfg, one_text)
    assert storms(one_text, now) == []

    voices = SQLiteStore(tmp_path / "voices.db")
    voices.ingest([*quiet, *flood(3 * 24 * 60, 150, None, rng)], [])
    assert mark_noise(cfg, voices).duplicates == 0
    raised = storms(voices, now)
    assert raised and "copies" not in raised[0].reason


def test_a_storm_alert_says_how_much_of_the_spike_was_copies(tmp_path):
    rng = random.Random(9)
    store = SQLiteStore(tmp_path / "mixed.db")
    burst = flood(3 * 24 * 60, 120, None, rng)
    copies = [mention(f"cp{i}", 3 * 24 * 60 + i * 0.5, "brisa is stealing from customers, boycott brisa now!!",
                      author=f"bot{i}", followers=0) for i in range(60)]
    store.ingest([*background(rng), *burst, *copies], [])
    mark_noise(Config(brands=[{"name": "Brisa", "queries": ["brisa"]}]), store)
    raised = storms(store, T0 + timedelta(days=3, hours=1))
    assert raised
    assert "distinct mentions" in raised[0].reason and "copies of earlier posts" in raised[0].reason
