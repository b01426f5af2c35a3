"""The work cut into chunks (monitor/partitions.py): N chunks, in any order, raise what one process raises."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.pipeline_scale import GoldScorer, generate, write_config
from monitor import partitions, pipeline
from monitor.config import load_config
from monitor.models import Alert, AlertKind, Severity
from monitor.store import SQLiteStore
from tests.conftest import SCAM, VIRAL


def alert_view(alerts: list[Alert]) -> list[tuple]:
    return sorted((a.id, a.brand, a.severity.value, a.created_at, a.reason) for a in alerts)


@pytest.fixture(scope="module")
def scored_store(tmp_path_factory) -> Path:
    """Three brands over two hours of posts (and six more of snapshots), ingested and scored once."""
    directory = tmp_path_factory.mktemp("scale")
    generate(directory / "recording.jsonl", 8000)
    config = load_config(write_config(directory, directory / "recording.jsonl"))
    store = SQLiteStore(directory / "earshot.db")
    pipeline.ingest(config, store, "replay")
    pipeline.score(config, store, scorer=GoldScorer())
    store.close()
    return directory


def copy_of(scored: Path, into: Path):
    for name in ("earshot.db", "recording.jsonl"):
        shutil.copyfile(scored / name, into / name)
    config = load_config(write_config(into, into / "recording.jsonl"))
    return config, SQLiteStore(into / "earshot.db")


def test_chunks_in_any_order_raise_exactly_what_one_process_raises(scored_store, tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    config, store = copy_of(scored_store, tmp_path / "one")
    one = pipeline.detect(config, store)
    expected = alert_view(store.alerts(limit=10**6))
    store.close()
    assert len(one) > 20 and {a.brand for a in one} == {b.name for b in config.brands}

    config, store = copy_of(scored_store, tmp_path / "many")
    plan = partitions.plan_detection(config, store, partition_hours=1)
    assert len(plan.chunks) == 3 * len({(c.since, c.until) for c in plan.chunks}) >= 3 * 4
    found = [partitions.detect_chunk(config, store, chunk) for chunk in reversed(plan.chunks)]  # any order
    new = partitions.commit_alerts(store, [a for chunk in found for a in chunk])
    partitions.finish_detection(store, plan)
    try:
        assert alert_view(new) == alert_view(one)
        assert alert_view(store.alerts(limit=10**6)) == expected
        assert pipeline.detect(config, store) == []  # the watermark moved: nothing new
    finally:
        store.close()


def test_noise_judged_brand_by_brand_leaves_detection_only_what_is_left(scored_store, tmp_path):
    """The DAG's `noise` task instances, one per configured brand in any order, judge every post of
    their brand; detection's planning judges what is left (here the posts of a brand whose config
    was removed), and the alerts are those of one process."""
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    config, store = copy_of(scored_store, tmp_path / "one")
    expected = alert_view(pipeline.detect(config, store))
    store.close()

    config, store = copy_of(scored_store, tmp_path / "many")
    try:
        gone, *kept = [b.name for b in config.brands]
        config.brands = config.brands[1:]
        assert partitions.plan_noise(config) == kept
        stats = [partitions.judge_brand(config, store, brand) for brand in reversed(kept)]
        assert all(s.judged and s.duplicates for s in stats)
        left = store.unjudged_posts(limit=10**6)
        assert left and {p.brand for p in left} == {gone}
        assert sum(s.judged for s in stats) + len(left) == 8000
        plan = partitions.plan_detection(config, store, partition_hours=1)
        assert store.unjudged_posts(limit=10**6) == []
        found = [a for chunk in plan.chunks for a in partitions.detect_chunk(config, store, chunk)]
        assert found and {a.brand for a in found} == set(kept)
        assert alert_view(partitions.commit_alerts(store, found)) == [a for a in expected if a[1] in kept]
    finally:
        store.close()


def test_partitions_tile_the_window_once_and_end_on_round_hours(scored_store, tmp_path):
    config, store = copy_of(scored_store, tmp_path)
    try:
        latest = store.latest_observation()
        plan = partitions.plan_detection(config, store, partition_hours=2, max_partitions=3)
        windows = sorted({(c.since, c.until) for c in plan.chunks}, key=lambda w: w[1])
        assert windows[0][0] is None and windows[-1][1] == latest == plan.watermark  # the first takes all before
        assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))  # contiguous, no overlap
        assert len(windows) == 3 and all(w[1].minute == 0 and w[1].hour % 2 == 0 for w in windows[:-1])
        partitions.finish_detection(store, plan)
        assert partitions.plan_detection(config, store).chunks == []  # nothing observed since
    finally:
        store.close()


def test_a_post_is_committed_only_when_it_climbs(tmp_path):
    store = SQLiteStore(tmp_path / "earshot.db")
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)

    def alert(severity: Severity, minutes: int) -> Alert:
        return Alert(id=Alert.make_id("x:1", severity), mention_id="x:1", brand="B", severity=severity,
                     created_at=at + timedelta(minutes=minutes), reason="r", velocity_per_min=1,
                     baseline_per_min=0)

    try:
        store.add_alert(alert(Severity.warning, 0))  # an earlier run's
        # Two chunks each climbed on their own: info then critical, and info again later.
        new = partitions.commit_alerts(store, [alert(Severity.critical, 90), alert(Severity.info, 30)])
        assert [(a.severity, a.kind) for a in new] == [(Severity.critical, AlertKind.spread)]
    finally:
        store.close()


def test_scoring_chunks_cover_every_pending_post_once(tmp_path):
    generate(tmp_path / "recording.jsonl", 3000)
    config = load_config(write_config(tmp_path, tmp_path / "recording.jsonl"))
    config.scale.score_chunk_posts = 400
    store = SQLiteStore(tmp_path / "earshot.db")
    try:
        pipeline.ingest(config, store, "replay")
        chunks = partitions.plan_scoring(config, store)
        assert len(chunks) >= 3 * 2 and sum(c.planned for c in chunks) == 3000
        assert all(c.planned <= 400 for c in chunks)
        scorer = GoldScorer()
        done = [partitions.score_chunk(config, store, c, scorer=scorer) for c in chunks]
        assert done == [c.planned for c in chunks]
        assert store.unscored_mentions() == [] and partitions.plan_scoring(config, store) == []
    finally:
        store.close()


def test_the_demo_complaint_climbs_the_same_through_hourly_chunks(config, store, scorer):
    """The viral post escalates info -> warning -> critical across partitions run in reverse order."""
    pipeline.ingest(config, store, "replay")
    pipeline.score(config, store, scorer=scorer)
    plan = partitions.plan_detection(config, store, partition_hours=1)
    assert len(plan.chunks) > 3
    found = [a for chunk in reversed(plan.chunks) for a in partitions.detect_chunk(config, store, chunk)]
    new = partitions.commit_alerts(store, found)
    raised = [(a.mention_id, a.severity) for a in new]
    assert [r for r in raised if r[0] == VIRAL] == [
        (VIRAL, Severity.info), (VIRAL, Severity.warning), (VIRAL, Severity.critical)]
    # The scam riding on it climbs too (flagged as spam, kept out of the channels); the copies raise nothing.
    assert [r for r in raised if r[0] != VIRAL] == [(SCAM, Severity.info), (SCAM, Severity.warning),
                                                    (SCAM, Severity.critical)]


def test_the_shared_sentiment_data_is_found_and_the_environment_overrides_it(tmp_path, monkeypatch):
    from sentiment.data import shared_sentiment_dir

    data = tmp_path / "shared" / "data" / "sentiment"
    data.mkdir(parents=True)
    (data / "xlmt_en_val.jsonl").write_text('{"text": "hi", "label": "neutral", "lang": "en"}\n')
    for given in (tmp_path / "shared" / "data", data):  # a shared/data dir, or its sentiment dir
        monkeypatch.setenv("EARSHOT_SHARED_DATA", str(given))
        assert shared_sentiment_dir() == data
    monkeypatch.setenv("EARSHOT_SHARED_DATA", str(tmp_path / "nowhere"))
    assert shared_sentiment_dir() is None  # set but empty: said, not silently replaced by another
