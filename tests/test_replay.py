"""The replay source: a recording played back as if live, resumable, tolerant of bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import BrandConfig
from monitor.sources.base import SourceError
from datetime import UTC, datetime, timedelta

from monitor.sources.replay import ReplayCursor, ReplaySource

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
    assert ReplayCursor.load(batch.cursor, source.path).line == 2 and batch.exhausted


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
    assert ReplayCursor.load(batch.cursor, path).line == 5


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


def test_a_resumed_replay_seeks_to_the_byte_after_the_last_stored_line(tmp_path):
    lines = [post(str(i), f"2026-01-01T10:{i:02d}:00Z", text=f"acme é {i}") for i in range(5)]
    path = recording(tmp_path, lines)
    first = ReplaySource(path, batch_size=2).fetch(BRANDS, None)
    cursor = ReplayCursor.load(first.cursor, path)
    assert cursor.offset == len(("\n".join(lines[:2]) + "\n").encode("utf-8")) and cursor.line == 2
    rest = ReplaySource(path).fetch(BRANDS, first.cursor)
    assert [m.native_id for m in rest.mentions] == ["2", "3", "4"]


def test_an_older_line_number_cursor_still_resumes_where_it_stood(tmp_path):
    path = recording(tmp_path, [post(str(i), f"2026-01-01T10:{i:02d}:00Z") for i in range(4)])
    assert [m.native_id for m in ReplaySource(path).fetch(BRANDS, "3").mentions] == ["3"]


def test_a_cursor_from_elsewhere_is_refused_with_what_to_do(tmp_path):
    path = recording(tmp_path, [post("1", "2026-01-01T10:00:00Z")])
    with pytest.raises(SourceError, match="reset it"):
        ReplaySource(path).fetch(BRANDS, "page-7")


def test_shift_to_now_dates_the_recording_as_if_its_last_event_just_happened(tmp_path):
    """Moved by whole hours: the last event falls in the hour before now, on its recorded minute."""
    path = recording(tmp_path, [post("1", "2026-01-01T10:00:00Z"), snap("1", "2026-01-01T11:00:00Z", 5),
                                post("2", "2026-01-01T11:30:00Z")])
    now = datetime(2031, 6, 1, 8, 10, tzinfo=UTC)
    source = ReplaySource(path, batch_size=2, shift_to_now=True, now=lambda: now)
    first = source.fetch(BRANDS, None)
    last = datetime(2031, 6, 1, 7, 30, tzinfo=UTC)
    assert first.mentions[0].created_at == last - timedelta(minutes=90)
    assert [s.observed_at for s in first.snapshots] == [last - timedelta(minutes=90), last - timedelta(minutes=30)]
    # Resumed a day later, the rest of the recording keeps the dates the first part got.
    later = ReplaySource(path, shift_to_now=True, now=lambda: now + timedelta(days=1)).fetch(BRANDS, first.cursor)
    assert later.mentions[0].created_at == last


def test_the_shifted_demo_is_the_same_whatever_the_minute_it_is_replayed(tmp_path):
    path = recording(tmp_path, [post("1", "2026-01-01T10:17:00Z")])
    for minute in (0, 16, 17, 59):
        now = datetime(2031, 6, 1, 8, minute, tzinfo=UTC)
        dated = ReplaySource(path, shift_to_now=True, now=lambda n=now: n).fetch(BRANDS, None).mentions[0].created_at
        assert dated.minute == 17 and timedelta(0) <= now - dated < timedelta(hours=1)


def test_without_shift_the_recording_keeps_its_own_dates(tmp_path):
    path = recording(tmp_path, [post("1", "2026-01-01T10:00:00Z")])
    batch = ReplaySource(path, now=lambda: datetime(2031, 1, 1, tzinfo=UTC)).fetch(BRANDS, None)
    assert batch.mentions[0].created_at == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_invalid_utf8_a_lone_surrogate_and_an_oversized_line_are_skipped_with_their_line(tmp_path):
    path = tmp_path / "rec.jsonl"
    good = [post(str(i), f"2026-01-01T10:0{i}:00Z").encode() for i in range(3)]
    surrogate = post("9", "2026-01-01T10:05:00Z", text="acme \ud800 broken").encode()
    huge = post("8", "2026-01-01T10:06:00Z", text="acme " + "x" * 5000).encode()
    path.write_bytes(b"\n".join([good[0], b'{"type": "post", "text": "\xff\xfe"}', surrogate, huge, good[1],
                                 good[2]]) + b"\n")
    batch = ReplaySource(path, max_line_bytes=4096).fetch(BRANDS, None)
    assert [m.native_id for m in batch.mentions] == ["0", "1", "2"]
    assert [p.where for p in batch.problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "not valid UTF-8" in batch.problems[0].message
    assert "lone surrogate" in batch.problems[1].message
    assert "longer than 4,096 bytes" in batch.problems[2].message
    assert ReplayCursor.load(batch.cursor, path).line == 6


def test_the_line_size_limit_comes_from_the_config(tmp_path):
    from monitor.sources import SourceContext
    from monitor.sources.replay import ReplaySource
    from tests.conftest import demo_config

    config = demo_config(tmp_path)
    config.sources["replay"].max_line_bytes = 4096
    assert ReplaySource.from_settings(config.sources["replay"], SourceContext.of(config)).max_line_bytes == 4096
