"""The whole path on the demo scenario: ingest -> score -> detect -> deliver, repeatable and resumable."""

from __future__ import annotations

import json

import pytest

from monitor import pipeline
from monitor.models import Severity
from monitor.sources import Batch, SourceError
from monitor.sources.replay import ReplaySource
from monitor.store.base import MentionQuery
from tests.conftest import VIRAL

DEMO_MENTIONS = 32  # 33 posts (7 of them copies of the viral complaint), one job ad dropped by the exclusions


SCAM = "x:1991500000000000200"  # the demo's "refund" giveaway riding on the complaint


def test_the_demo_raises_exactly_the_spreading_complaint_and_the_scam_flagged_as_spam(config, store, scorer):
    summary = pipeline.run_once(config, store, scorer=scorer, channels=[])
    assert store.count_mentions() == DEMO_MENTIONS
    raised = [(a.mention_id, a.severity) for a in summary.alerts]
    assert [r for r in raised if r[0] == VIRAL] == [
        (VIRAL, Severity.info), (VIRAL, Severity.warning), (VIRAL, Severity.critical)]
    assert [r for r in raised if r[0] != VIRAL] == [(SCAM, Severity.info), (SCAM, Severity.warning),
                                                    (SCAM, Severity.critical)]
    # None of the seven copies of the complaint raised an alert: they are linked to it.
    marks = store.noise_of(m.id for m in store.search_mentions(MentionQuery(limit=100)).mentions)
    copies = sorted(mid for mid, mark in marks.items() if mark.duplicate_of == VIRAL)
    assert len(copies) == 7 and not set(copies) & {a.mention_id for a in summary.alerts}
    assert marks[SCAM].is_spam and not marks[VIRAL].is_spam
    # Early: alerted within its first polls (20 minutes), long before the post peaks.
    posted = store.get_mention(VIRAL).created_at
    assert (summary.alerts[0].created_at - posted).total_seconds() <= 20 * 60


def test_running_twice_over_the_same_data_changes_nothing(config, store, scorer):
    pipeline.run_once(config, store, scorer=scorer, channels=[])
    counts = (store.count_mentions(), store.count_snapshots(), len(store.alerts()))
    store.set_cursor(pipeline.cursor_key("replay"), "0")  # forget the cursor: re-read the whole recording
    store.set_cursor(pipeline.DETECT_WATERMARK, "2000-01-01T00:00:00+00:00")
    again = pipeline.run_once(config, store, scorer=scorer, channels=[])
    assert (store.count_mentions(), store.count_snapshots(), len(store.alerts())) == counts
    assert again.ingested[0].new_mentions == 0 and again.scored == 0 and again.alerts == []


class CrashingSource:
    """The replay source, dying after a number of batches, as a killed run would."""

    name = "replay"

    def __init__(self, inner: ReplaySource, crash_after: int) -> None:
        self.inner, self.left = inner, crash_after

    def fetch(self, brands, cursor) -> Batch:
        if self.left == 0:
            raise SourceError("simulated crash")
        self.left -= 1
        return self.inner.fetch(brands, cursor)

    def refresh(self, mentions):
        return []


def test_a_crash_halfway_loses_nothing_and_duplicates_nothing(config, store, scorer, tmp_path):
    path = config.sources["replay"].resolved_path()
    reference = ReplaySource(path, batch_size=10**6).fetch(config.brands, None)
    small = ReplaySource(path, batch_size=50)
    with pytest.raises(SourceError):
        pipeline.ingest(config, store, "replay", source=CrashingSource(small, crash_after=5))
    assert 0 < store.count_mentions() < DEMO_MENTIONS
    pipeline.ingest(config, store, "replay", source=ReplaySource(path, batch_size=50))
    assert store.count_mentions() == len({m.id for m in reference.mentions}) == DEMO_MENTIONS
    assert store.count_snapshots() == len(reference.snapshots)


def test_a_malformed_replay_line_is_reported_and_the_rest_processed(config, store, scorer, tmp_path):
    lines = config.sources["replay"].resolved_path().read_text(encoding="utf-8").splitlines()
    lines.insert(10, '{"type": "post", "at": "yesterday"')
    recording = tmp_path / "broken.jsonl"
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config.sources["replay"].path = recording
    summary = pipeline.run_once(config, store, scorer=scorer, channels=[])
    assert [str(p) for p in summary.problems] == [f"{recording}:11: not valid JSON (Expecting ',' delimiter at column 35)"]
    assert store.count_mentions() == DEMO_MENTIONS
    assert len(summary.alerts) == 6  # the viral complaint, and the refund scam riding on it (flagged as spam)


def test_poison_lines_are_quarantined_and_every_good_line_stored_once(config, store, tmp_path):
    good = config.sources["replay"].resolved_path().read_bytes().splitlines()
    poison = {
        5: b'{"type": "post", "text": "caf\xe9 \xff"}',  # not UTF-8
        9: b'{"type": "post", "text": "\\ud800"}',  # a lone surrogate
        14: b'{"type": "post", "text": "' + b"x" * 4096 + b'"}',  # over the line limit
        20: b'[1, 2',
    }
    lines = list(good)
    for at, line in sorted(poison.items()):
        lines.insert(at - 1, line)
    recording = tmp_path / "poisoned.jsonl"
    recording.write_bytes(b"\n".join(lines) + b"\n")
    source = ReplaySource(recording, batch_size=7, max_line_bytes=2048)

    stats = pipeline.ingest(config, store, "replay", source=source)
    assert store.count_mentions() == DEMO_MENTIONS
    assert stats.quarantined == store.count_quarantined() == len(poison)
    kept = {q.where: q for q in store.quarantined()}
    assert set(kept) == {f"{recording}:{n}" for n in poison}
    assert kept[f"{recording}:5"].head.startswith('{"type": "post", "text": "caf\\xe9 \\xff"')
    assert "longer than 2,048 bytes" in kept[f"{recording}:14"].reason
    assert len(kept[f"{recording}:14"].head) <= 200

    # Read it all again (a cursor lost, a re-run): nothing stored or quarantined twice.
    store.set_cursor(pipeline.cursor_key("replay"), "0")
    again = pipeline.ingest(config, store, "replay", source=ReplaySource(recording, max_line_bytes=2048))
    assert (again.new_mentions, again.quarantined) == (0, 0)
    assert (store.count_mentions(), store.count_quarantined()) == (DEMO_MENTIONS, len(poison))


def test_alerts_are_delivered_once_to_the_jsonl_log(config, store, scorer):
    pipeline.run_once(config, store, scorer=scorer)
    log = config.resolve(config.alerts.channels[1].path)
    first = [json.loads(line) for line in log.read_text().splitlines()]
    assert [a["id"] for a in first] == [f"{VIRAL}:info", f"{VIRAL}:warning", f"{VIRAL}:critical"]
    assert first[0]["mention"]["url"].startswith("https://x.com/dana_reyes/")
    pipeline.run_once(config, store, scorer=scorer)
    assert len(log.read_text().splitlines()) == 3


def test_incremental_and_all_at_once_runs_raise_the_same_alerts(config, store, scorer, tmp_path):
    once = pipeline.run_once(config, store, scorer=scorer, channels=[]).alerts
    from monitor.store import SQLiteStore

    step_store = SQLiteStore(tmp_path / "steps.db")
    source = ReplaySource(config.sources["replay"].resolved_path(), batch_size=40)
    stepwise = []
    while True:
        stats = pipeline.ingest(config, step_store, "replay", source=source, max_batches=1)
        pipeline.score(config, step_store, scorer=scorer)
        stepwise += pipeline.detect(config, step_store)
        if stats.exhausted:
            break
    assert [(a.id, a.created_at) for a in stepwise] == [(a.id, a.created_at) for a in once]


def test_ingest_refreshes_the_engagement_of_recent_mentions(tmp_path):
    """A live source's posts are re-read on every run while they are recent, so spread can be followed."""
    from datetime import UTC, datetime, timedelta

    from monitor.config import parse_config
    from monitor.store import SQLiteStore
    from tests.sources.harness_mastodon import make_harness

    harness = make_harness()
    harness.start(tmp_path)
    try:
        config = parse_config({"brands": [{"name": "Acme", "queries": ["acme"]}],
                               "sources": {"mastodon": {"follow_hours": 6}}})
        store = SQLiteStore(tmp_path / "earshot.db")
        now = datetime.now(UTC)
        harness.publish("101", "acme support never answers", now - timedelta(minutes=20), likes=1)
        harness.publish("102", "acme was fine last week", now - timedelta(hours=8), likes=1)
        pipeline.ingest(config, store, "mastodon", source=harness.source())
        harness.set_likes("101", 40)
        harness.set_likes("102", 40)
        stats = pipeline.ingest(config, store, "mastodon", source=harness.source())
        assert stats.new_mentions == 0
        assert [s.engagement.likes for s in store.snapshots_for("mastodon:101")][-1] == 40
        assert all(s.engagement.likes == 1 for s in store.snapshots_for("mastodon:102"))  # too old to follow
        assert store.get_mention("mastodon:101").engagement.likes == 40
    finally:
        harness.stop()


def test_scoring_stores_the_language_of_posts_whose_source_did_not_say(config, store, scorer, tmp_path):
    lines = config.sources["replay"].resolved_path().read_text(encoding="utf-8").splitlines()
    stripped = [line.replace('"lang": "es"', '"lang": null').replace('"lang": "id"', '"lang": null') for line in lines]
    recording = tmp_path / "nolang.jsonl"
    recording.write_text("\n".join(stripped) + "\n", encoding="utf-8")
    config.sources["replay"].path = recording
    pipeline.run_once(config, store, scorer=scorer, channels=[])
    assert store.get_mention("x:1991500000000000003").lang == "es"  # "El internet de Brisa Mobile va lentísimo..."
    assert store.get_mention("x:1991500000000000004").lang == "id"  # "Sinyal Brisa Mobile jelek banget..."
