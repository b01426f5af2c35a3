"""The replay source: a recording played back as if live, resumable, tolerant of bad lines."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.config import BrandConfig
from monitor.sources.replay import ReplaySource

BRANDS = [BrandConfig(name="Acme", queries=["acme"], exclude=["hiring"])]


def post(native_id: str, at: str, text: str = "acme is broken", **extra) -> str:
    event = {"type": "post", "at": at, "source": "x", "native_id": native_id, "url": f"https://x.com/a/{native_id}",
             "author": {"handle": "ana", "followers": 10}, "text": text, **extra}
    return json.dumps(event)


def snap(native_id: str, at: str, likes: int) -> str:
    return json.dumps({"type": "snapshot", "at": at, "source": "x", "native_id": native_id,
                       "engagement": {"likes": likes}})


def recording(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_posts_become_mentions_with_stable_ids_and_a_first_snapshot(tmp_path):
    source = ReplaySource(recording(tmp_path, [post("1", "2026-01-01T10:00:00Z"), snap("1", "2026-01-01T10:10:00Z", 5)]))
    batch = source.fetch(BRANDS, None)
    assert [m.id for m in batch.mentions] == ["x:1"]
    assert batch.mentions[0].brand == "Acme" and batch.mentions[0].query == "acme"
    assert [s.engagement.likes for s in batch.snapshots] == [0, 5]
    assert batch.cursor == "2" and batch.exhausted


def test_a_malformed_line_is_reported_with_file_and_line_and_skipped(tmp_path):
    path = recording(tmp_path, [
        post("1", "2026-01-01T10:00:00Z"),
        "{not json",
        json.dumps({"type": "post", "at": "2026-01-01T10:01:00Z", "source": "x"}),  # fields missing
        json.dumps({"type": "gossip"}),
        post("2", "2026-01-01T10:02:00Z"),
    ])
    batch = ReplaySource(path).fetch(BRANDS, None)
    assert [m.id for m in batch.mentions] == ["x:1", "x:2"]
    assert [p.where for p in batch.problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "not valid JSON" in batch.problems[0].message
    assert "native_id" in batch.problems[1].message
    assert batch.cursor == "5"


def test_exclusions_and_unrelated_posts_are_not_mentions(tmp_path):
    path = recording(tmp_path, [
        post("1", "2026-01-01T10:00:00Z", text="Acme is hiring"),
        post("2", "2026-01-01T10:00:00Z", text="nothing to see"),
    ])
    assert ReplaySource(path).fetch(BRANDS, None).mentions == []


def test_fetch_resumes_after_the_cursor_in_batches(tmp_path):
    lines = [post(str(i), f"2026-01-01T10:{i:02d}:00Z") for i in range(7)]
    source = ReplaySource(recording(tmp_path, lines), batch_size=3)
    seen, cursor = [], None
    while True:
        batch = source.fetch(BRANDS, cursor)
        seen += [m.native_id for m in batch.mentions]
        cursor = batch.cursor
        if batch.exhausted:
            break
    assert seen == [str(i) for i in range(7)]
    assert source.fetch(BRANDS, cursor).mentions == []


def test_accelerated_replay_releases_events_as_the_clock_advances(tmp_path):
    lines = [post("1", "2026-01-01T10:00:00Z"), post("2", "2026-01-01T11:00:00Z")]
    now = [0.0]
    source = ReplaySource(recording(tmp_path, lines), speed=60, clock=lambda: now[0])
    first = source.fetch(BRANDS, None)
    assert [m.native_id for m in first.mentions] == ["1"] and first.exhausted
    now[0] = 59.0  # 59 s * 60 = 59 recorded minutes: not yet
    assert source.fetch(BRANDS, first.cursor).mentions == []
    now[0] = 60.0
    assert [m.native_id for m in source.fetch(BRANDS, first.cursor).mentions] == ["2"]
