"""Ingest reading a backlog through a process of its own, one batch ahead of the store
(`scale.workers` above 1, monitor/fetch_ahead.py): the same batches, cursors and errors as one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmarks.pipeline_scale import generate, write_config
from monitor import fetch_ahead, pipeline
from monitor.config import Config, load_config
from monitor.sources import PermanentSourceError, SourceError
from monitor.sources.base import Batch
from monitor.store import SQLiteStore, open_store
from monitor.store.sqlite.packed import MentionRows
from monitor.workers import WorkerError
from tests.fake_distribution import installed_distribution

POSTS = 12_000  # with their engagement readings, six of the replay's 5,000-line batches

FLAKY = '''
import os
from monitor.config import SourceSettings
from monitor.plugins import Plugin
from monitor.sources import Batch, PermanentSourceError


class Settings(SourceSettings):
    then: str = "refuse"  # what the second fetch does: refuse (HTTP 401), or die


class Flaky:
    """One batch with more to come, then the platform refuses the token (or the process dies)."""

    name = "flaky"

    def __init__(self, then):
        self.then = then

    def fetch(self, brands, cursor):
        if cursor is None:
            return Batch(cursor="page-2", exhausted=False)
        if self.then == "die":
            os._exit(3)
        raise PermanentSourceError(f"flaky: HTTP 401 on {cursor}: the token was revoked; set FLAKY_TOKEN anew")

    def refresh(self, mentions):
        return []


SOURCE = Plugin("flaky", Settings, lambda settings, context: Flaky(settings.then))
'''


def recorded(directory: Path, workers: int, posts: int = POSTS) -> Config:
    """`posts` generated posts (and their engagement readings) to replay."""
    directory.mkdir()
    generate(directory / "recording.jsonl", posts, per_hour=750)
    path = write_config(directory, directory / "recording.jsonl")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["scale"] = {"workers": workers}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


def stored(config: Config) -> tuple[list, list, list]:
    store = SQLiteStore(Path(config.store.path))
    try:
        columns = [r[1] for r in store._query("PRAGMA table_info(mentions)") if r[1] != "first_seen_at"]
        mentions = sorted(tuple(r) for r in store._query(f"SELECT {', '.join(columns)} FROM mentions"))
        snapshots = sorted(tuple(r) for r in store._query("SELECT * FROM snapshots"))
        cursors = sorted(tuple(r)[:2] for r in store._query("SELECT * FROM cursors"))
    finally:
        store.close()
    return mentions, snapshots, cursors


class Counting(fetch_ahead.FetchAhead):
    asked: list[str | None] = []
    taken: list[type] = []

    def ask(self, cursor: str | None) -> None:
        Counting.asked.append(cursor)
        super().ask(cursor)

    def take(self) -> Batch:
        batch = super().take()
        Counting.taken.append(type(batch.mentions))
        return batch


def test_a_backlog_is_read_ahead_in_a_process_and_stored_as_one_process_stores_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "FetchAhead", Counting)
    Counting.asked, Counting.taken = [], []
    results = {}
    for workers in (1, 2):
        config = recorded(tmp_path / str(workers), workers)
        store = open_store(config)
        stats = pipeline.ingest(config, store, "replay")
        store.close()
        results[workers] = (stats.new_mentions, stats.new_snapshots, stats.problems), stored(config)
        if workers == 1:
            assert Counting.asked == [], "one process reads every batch itself"
    assert results[2] == results[1]
    assert results[1][0][0] == POSTS
    # Every batch after the first was fetched ahead, from the cursor the batch before it stored.
    assert len(Counting.asked) >= 5 and all(json.loads(c) for c in Counting.asked)
    assert len(set(Counting.asked)) == len(Counting.asked)
    # Packed there as the SQLite store writes them: rows, not models, cross between the processes.
    assert Counting.taken == [MentionRows] * len(Counting.asked)


def test_a_poll_of_one_batch_starts_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*args: object) -> None:
        raise AssertionError("a process was started for one batch")

    monkeypatch.setattr(pipeline, "FetchAhead", no_process)
    config = recorded(tmp_path / "run", workers=2, posts=1000)
    store = open_store(config)
    assert pipeline.ingest(config, store, "replay").new_mentions == 1000
    store.close()


def test_a_run_killed_while_reading_ahead_resumes_where_the_store_stopped(tmp_path: Path) -> None:
    config = recorded(tmp_path / "run", workers=2)
    whole = recorded(tmp_path / "whole", workers=1)
    store = open_store(config)
    pipeline.ingest(config, store, "replay", max_batches=3)  # the fourth was being fetched ahead: dropped
    assert store.count_mentions() < POSTS
    pipeline.ingest(config, store, "replay")
    store.close()
    store = open_store(whole)
    pipeline.ingest(whole, store, "replay")
    store.close()
    assert stored(config)[:2] == stored(whole)[:2]


@pytest.fixture
def flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with installed_distribution(tmp_path / "site", monkeypatch, "earshot-flaky",
                                "[earshot.sources]\nflaky = flaky:SOURCE\n", {"flaky": FLAKY}):
        yield


def flaky_config(tmp_path: Path, then: str) -> Config:
    path = write_config(tmp_path, tmp_path / "unused.jsonl")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sources"] = {"flaky": {"then": then}}
    data["scale"] = {"workers": 2}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def test_the_sources_error_in_the_reading_process_is_raised_here_as_itself(tmp_path: Path, flaky: None) -> None:
    config = flaky_config(tmp_path, "refuse")
    store = open_store(config)
    with pytest.raises(PermanentSourceError, match="HTTP 401 on page-2: the token was revoked") as raised:
        pipeline.ingest(config, store, "flaky")
    assert any("raised in the process fetching ahead" in note for note in raised.value.__notes__)
    assert store.get_cursor(pipeline.cursor_key("flaky")) == "page-2", "the first batch is stored"
    store.close()


def test_a_reading_process_that_dies_is_reported_and_loses_nothing(tmp_path: Path, flaky: None) -> None:
    config = flaky_config(tmp_path, "die")
    store = open_store(config)
    with pytest.raises(WorkerError, match="died before returning its batch"):
        pipeline.ingest(config, store, "flaky")
    assert store.get_cursor(pipeline.cursor_key("flaky")) == "page-2"
    store.close()


class Unpicklable(SourceError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")


def test_an_error_that_cannot_cross_processes_keeps_its_kind_and_message() -> None:
    error = Unpicklable(503, "try later")
    error.add_note("raised in the process fetching ahead: ...")
    crossed = fetch_ahead._portable(error)
    assert type(crossed) is SourceError and str(crossed) == "Unpicklable: HTTP 503: try later"
    assert crossed.__notes__ == ["raised in the process fetching ahead: ..."]
    assert fetch_ahead._portable(ValueError("x")).args == ("x",)


def test_a_store_failure_while_a_batch_is_read_ahead_stops_the_reading_process_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The batch read ahead is never taken; the process is stopped, not killed, and the error is the store's.
    import multiprocessing.context

    killed = []
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "terminate", lambda self: killed.append(self))
    config = recorded(tmp_path / "run", workers=2)
    store = open_store(config)
    stored_batches = []
    real_ingest = store.ingest

    def ingest_twice(*args, **kwargs):  # type: ignore[no-untyped-def]
        if len(stored_batches) == 2:
            raise OSError("disk full")
        stored_batches.append(1)
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(store, "ingest", ingest_twice)
    with pytest.raises(OSError, match="disk full"):
        pipeline.ingest(config, store, "replay")
    assert killed == []
    store.close()
