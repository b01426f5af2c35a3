"""`earshot run` on a local pool of processes (`scale.workers`, monitor/workers.py): noise and
detection beside scoring, with the results of one process."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import signal
import time
import types
from pathlib import Path

import pytest
import yaml

from benchmarks.pipeline_scale import GoldScorer, generate, write_config
from monitor import pipeline, workers
from monitor.config import Config, load_config
from monitor.store import SQLiteStore, open_store
from monitor.workers import LocalPool, WorkerError

POSTS = 3000


class SlowScorer(GoldScorer):
    def score(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        return super().score(texts)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding POSTS generated posts of three brands (four hours, copies among them), ingested."""
    directory = tmp_path_factory.mktemp("ingested")
    generate(directory / "recording.jsonl", POSTS, per_hour=750)
    config = load_config(write_config(directory, directory / "recording.jsonl"))
    store = open_store(config)
    for name in pipeline.active_sources(config):
        pipeline.ingest(config, store, name)
    store.close()
    return directory


def copy_of(ingested: Path, to: Path, workers: int = 1, drop_brand: str | None = None) -> Config:
    """The ingested store in a directory of its own, with `scale.workers` (and a brand dropped from the config)."""
    to.mkdir()
    shutil.copyfile(ingested / "earshot.db", to / "earshot.db")
    data = yaml.safe_load((ingested / "earshot.yaml").read_text(encoding="utf-8"))
    data["store"]["path"] = str(to / "earshot.db")
    data["alerts"] = {"channels": [{"type": "jsonl", "path": str(to / "alerts.jsonl")}]}
    data["scale"] = {"workers": workers}
    if drop_brand is not None:
        data["brands"] = [b for b in data["brands"] if b["name"] != drop_brand]
    (to / "earshot.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(to / "earshot.yaml")


def outcome(config: Config) -> tuple[list, dict, list]:
    """What a run left in the store: every alert, every post's noise mark, every post's sentiment."""
    store = SQLiteStore(Path(config.store.path))
    try:
        alerts = sorted((a.id, a.brand, a.kind.value, a.severity.value, a.created_at.isoformat(), a.reason)
                        for a in store.alerts(limit=10**6))
        ids = [r[0] for r in store._query("SELECT id FROM mentions")]
        marks = {i: (m.duplicate_of, m.spam, m.spam_score, m.spam_reasons) for i, m in store.noise_of(ids).items()}
        sentiments = sorted(tuple(r) for r in store._query("SELECT id, sentiment_label, topic FROM mentions"))
    finally:
        store.close()
    return alerts, marks, sentiments


@pytest.mark.slow
def test_two_workers_store_what_one_process_stores(ingested: Path, tmp_path: Path) -> None:
    alone = copy_of(ingested, tmp_path / "one", workers=1)
    pooled = copy_of(ingested, tmp_path / "two", workers=2)
    summaries = {}
    for config in (alone, pooled):
        store = open_store(config)
        # Scoring slower than a brand's noise: a brand's detection must still wait for it.
        summaries[config.scale.workers] = pipeline.run_once(config, store, sources=[], scorer=SlowScorer())
        store.close()

    one, two = outcome(alone), outcome(pooled)
    assert one[0], "the generated posts raise alerts"
    assert len(one[1]) == POSTS and sum(1 for m in one[1].values() if m[0]) > 50, "every post judged, copies found"
    assert two == one
    assert sorted(a.id for a in summaries[2].alerts) == sorted(a.id for a in summaries[1].alerts)
    assert summaries[2].noise == summaries[1].noise and summaries[2].scored == summaries[1].scored == POSTS


@pytest.mark.slow
def test_posts_of_a_brand_no_longer_configured_are_judged_all_the_same(ingested: Path, tmp_path: Path) -> None:
    # The pool judges the configured brands; this process then judges what is left.
    alone = copy_of(ingested, tmp_path / "one", workers=1, drop_brand="Kora Air")
    pooled = copy_of(ingested, tmp_path / "two", workers=2, drop_brand="Kora Air")
    found = []
    for config in (alone, pooled):
        store = open_store(config)
        found.append(pipeline.process(config, store, scorer=GoldScorer()))
        store.close()
    one, two = outcome(alone), outcome(pooled)
    assert len(two[1]) == POSTS
    assert two == one
    assert found[1][1] == found[0][1] and found[1][1].judged == POSTS  # the copies and spam it reports, too


@pytest.mark.slow
def test_a_pass_with_nothing_new_starts_no_process(ingested: Path, tmp_path: Path) -> None:
    config = copy_of(ingested, tmp_path / "run", workers=2)
    store = open_store(config)
    with LocalPool(config, 2) as pool:
        scored, noise, alerts = pipeline.process(config, store, scorer=GoldScorer(), pool=pool)
        assert scored == POSTS and noise.judged == POSTS and alerts
        pool.close()  # as a new pass would find it: no process running
        assert pipeline.process(config, store, scorer=GoldScorer(), pool=pool) == (0, type(noise)(), [])
        assert pool._executor is None
    store.close()


def test_a_daemonic_process_does_everything_itself(ingested: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Celery's workers are daemonic and may not start processes: no pool, the same run.
    config = copy_of(ingested, tmp_path / "run", workers=4)
    monkeypatch.setattr(workers.multiprocessing, "current_process", lambda: types.SimpleNamespace(daemon=True))

    def no_pool(*args: object) -> None:
        raise AssertionError("a daemonic process started a pool")

    monkeypatch.setattr(pipeline, "LocalPool", no_pool)
    store = open_store(config)
    scored, noise, _ = pipeline.process(config, store, scorer=GoldScorer())
    store.close()
    assert scored == POSTS and noise.judged == POSTS


def test_a_worker_that_dies_is_reported_as_such(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, tmp_path / "recording.jsonl"))
    with LocalPool(config, 2) as pool:
        executor, _ = pool._pool()
        with pytest.raises(WorkerError, match="died before finishing its chunk"):
            pool._wait([executor.submit(os._exit, 3)])


def test_the_config_reaches_a_worker_whole(tmp_path: Path) -> None:
    # A brand's compiled query is generated code, which does not pickle: it is compiled again there.
    config = load_config(write_config(tmp_path, tmp_path / "recording.jsonl"))
    there = pickle.loads(pickle.dumps(config))
    assert there == config and there.base_dir == config.base_dir
    assert there.brands[0].match("the brisa mobile app is down again") == "brisa mobile"
    assert there.brands[0].match("nothing about anyone") is None


def test_a_pool_of_one_is_refused(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, tmp_path / "recording.jsonl"))
    with pytest.raises(ValueError, match="at least 2 workers"):
        LocalPool(config, 1)


def test_a_failing_chunk_in_a_helper_stops_everyone_and_is_raised_here(tmp_path: Path) -> None:
    # Whoever takes the bad item raises; the others stop at their next item instead of waiting.
    config = load_config(write_config(tmp_path, tmp_path / "recording.jsonl"))
    store = open_store(config)
    with LocalPool(config, 3) as pool:
        with pytest.raises(ValueError, match="no such work: 'bogus'"):
            pool.share([("bogus", i) for i in range(6)], 2, store)
        assert pool._executor is None, "a pool whose list may hold leftovers is not reused"
    store.close()


def test_a_failure_in_this_processs_own_work_stops_the_helpers(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, tmp_path / "recording.jsonl"))
    store = open_store(config)

    def scoring_fails() -> None:
        raise RuntimeError("the model ran out of memory")

    with LocalPool(config, 2) as pool:
        with pytest.raises(RuntimeError, match="ran out of memory"):
            pool.share([("noise", "Brisa Mobile")], 1, store, own=scoring_fails)
    store.close()


def test_ctrl_c_reaching_a_helper_as_it_starts_leaves_it_taking_no_work(tmp_path: Path, ingested: Path) -> None:
    # A terminal's Ctrl+C reaches every process of the run. A helper still starting holds it until it
    # can take it (monitor/workers.py, `ctrl_c_held`); it must then stop, not judge every brand's noise
    # while the run waits for it to stop.
    config = copy_of(ingested, tmp_path / "run", workers=2)
    store = open_store(config)

    def ctrl_c() -> None:
        for helper in multiprocessing.active_children():  # starting: spawned an instant ago
            os.kill(helper.pid, signal.SIGINT)
        raise KeyboardInterrupt  # it reaches this process too

    # As in a terminal: Ctrl+C not ignored (it is, for a background job, and its helpers ignore it too).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with LocalPool(config, 2) as pool:
            with pytest.raises(KeyboardInterrupt):
                pool.share([("noise", b.name) for b in config.brands], 1, store, own=ctrl_c)
    finally:
        signal.signal(signal.SIGINT, previous)
        store.close()
    assert outcome(config)[1] == {}, "no brand's noise was judged"


def test_follow_up_work_is_done_once_after_what_it_follows(tmp_path: Path, ingested: Path) -> None:
    # A brand's detection goes on the list when its noise is judged: every brand's detection runs
    # once, on that brand's marks, whichever process takes it.
    config = copy_of(ingested, tmp_path / "run", workers=2)
    store = open_store(config)
    from monitor.partitions import plan_detection

    plan = plan_detection(config, store, partition_hours=0, judge_noise_first=False)
    then = {("noise", c.brand): [("detect", c)] for c in plan.chunks}
    with LocalPool(config, 2) as pool:
        done = pool.share([("noise", b.name) for b in config.brands], 1, store, then=then)
    store.close()
    assert sorted(kind for (kind, _), _ in done) == ["detect"] * 3 + ["noise"] * 3
    assert sum(r.judged for (kind, _), r in done if kind == "noise") == POSTS
    alone = copy_of(ingested, tmp_path / "alone", workers=1)
    store = open_store(alone)
    pipeline.judge_noise(alone, store)
    from monitor.partitions import detect_chunk

    expected = sorted(a.id for c in plan.chunks for a in detect_chunk(alone, store, c))
    store.close()
    assert sorted(a.id for (kind, _), found in done if kind == "detect" for a in found) == expected


def test_the_memory_estimates_read_the_marks_a_pass_keeps() -> None:
    from monitor.noise import marking

    assert workers.RUN_MEMORY == marking.RUN_MEMORY


@pytest.mark.parametrize(("needs", "spare", "expected"), [
    ([219.0, 219.0, 219.0], 570.0, 1),  # 100,000 posts: both processes judge
    ([386.0, 386.0, 386.0], 630.0, 0),  # a million: this process alone
    ([386.0], 630.0, 1),  # a lone brand goes to the helper while this process scores
    ([900.0], 630.0, 0),
    ([], 630.0, 0),
])
def test_helpers_are_as_many_as_the_largest_items_fit(needs: list[float], spare: float, expected: int) -> None:
    assert workers.helpers_within(needs, spare, workers=2) == expected
    assert workers.helpers_within(needs, spare, workers=4) >= expected
