"""The `earshot` command as a user runs it: check a config, run the demo once, survive a kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import demo_config_path

EARSHOT = [sys.executable, "-m", "monitor.cli"]


def test_check_config_accepts_the_demo_and_names_the_wrong_key(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["check-config", str(demo_config_path())])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output and "Brisa Mobile" in ok.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("brands:\n  - name: Acme\n    queries: [acme]\ndetection:\n  critical_factor: loud\n")
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert "detection.critical_factor" in result.output


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "EARSHOT_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one process", "two workers"])
def test_run_once_raises_the_expected_alerts_and_a_second_run_changes_nothing(tmp_path, workers):
    first = subprocess.run([*EARSHOT, "run", "--once", *workers], cwd=tmp_path, env=env_for(tmp_path / "data"),
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "replay: 32 new mention(s)" in first.stdout
    assert "alerts: 6 new" in first.stdout  # the complaint, and the spam riding on it (held from channels)
    assert "spam: 3 alert(s) on posts flagged as spam kept out of the channels" in first.stdout
    assert "noise: 32 mention(s) checked; 7 copied an earlier post" in first.stdout and "1 flagged as spam" in first.stdout
    assert "ALERT INFO" in first.stdout and "ALERT WARNING" in first.stdout and "ALERT CRITICAL" in first.stdout
    assert "dana_reyes" in first.stdout
    alerts = [json.loads(line) for line in (tmp_path / "data" / "alerts.jsonl").read_text().splitlines()]
    assert [a["id"] for a in alerts] == ["x:1991500000000000001:info", "x:1991500000000000001:warning",
                                         "x:1991500000000000001:critical"]

    second = subprocess.run([*EARSHOT, "run", "--once", *workers], cwd=tmp_path, env=env_for(tmp_path / "data"),
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "replay: 0 new mention(s)" in second.stdout and "alerts: 0 new" in second.stdout
    with sqlite3.connect(tmp_path / "data" / "earshot.db") as db:
        assert db.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] == 32


def big_recording(path: Path, posts: int = 300, snapshots_each: int = 200) -> tuple[int, int]:
    """A long recording, so a run can be killed in the middle of ingesting it."""
    lines = []
    for i in range(posts):
        lines.append({"type": "post", "at": f"2026-01-01T00:00:{i % 60:02d}Z", "source": "x", "native_id": str(i),
                      "url": f"https://x.com/a/status/{i}", "author": {"handle": f"u{i}", "followers": i},
                      "text": f"Acme order {i} arrived late again, not happy", "lang": "en"})
    for k in range(1, snapshots_each + 1):
        for i in range(posts):
            lines.append({"type": "snapshot", "at": f"2026-01-01T{k // 60:02d}:{k % 60:02d}:00Z", "source": "x",
                          "native_id": str(i), "engagement": {"likes": k}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return posts, posts * (snapshots_each + 1)


@pytest.mark.slow
def test_a_run_killed_halfway_resumes_without_losing_or_duplicating(tmp_path):
    posts, snapshots = big_recording(tmp_path / "rec.jsonl")
    config = tmp_path / "earshot.yaml"
    config.write_text(yaml.safe_dump({
        "brands": [{"name": "Acme", "queries": ["acme"]}],
        "sources": {"replay": {"path": "rec.jsonl"}},
        "alerts": {"channels": [{"type": "jsonl", "path": "alerts.jsonl"}]},
    }))
    db_path = tmp_path / "earshot.db"
    proc = subprocess.Popen([*EARSHOT, "run", "--once", "-c", str(config)], cwd=tmp_path, env=env_for(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cursor = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db_path.exists():
            try:
                with sqlite3.connect(db_path, timeout=0.1) as db:
                    row = db.execute("SELECT value FROM cursors WHERE key = 'source:replay'").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row:
                cursor = row[0]
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.005)
    proc.wait(timeout=30)
    assert cursor is not None, "the run finished before it could be killed"
    with sqlite3.connect(db_path) as db:
        stored = db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    assert 0 < stored < snapshots  # killed in the middle

    rerun = subprocess.run([*EARSHOT, "run", "--once", "-c", str(config)], cwd=tmp_path, env=env_for(tmp_path),
                           capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] == posts
        assert db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == snapshots
        assert db.execute("SELECT COUNT(*) FROM mentions WHERE sentiment_label IS NULL").fetchone()[0] == 0
