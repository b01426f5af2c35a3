"""The CLI a user types first: `earshot --version`, `earshot sources`, and a quiet, unwrapped watch."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from monitor.alerts.console import ConsoleChannel
from monitor.cli import app
from monitor.config import demo_config_path, load_config
from monitor.health.monitor import HealthMonitor, PIPELINE
from monitor.models import Alert, AlertKind, Mention, Severity
from monitor.store import SQLiteStore

runner = CliRunner()


def write_config(tmp: Path, **sources: dict) -> Path:
    data = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    data["store"]["path"] = str(tmp / "earshot.db")
    data["sources"] = {**data["sources"], **sources}
    path = tmp / "earshot.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"earshot {version('earshot')}"


def test_sources_lists_every_installed_source_without_creating_a_database(tmp_path):
    path = write_config(tmp_path, x={"enabled": True})
    result = runner.invoke(app, ["sources", "-c", str(path), "--json"], env={"EARSHOT_X_BEARER_TOKEN": ""})
    assert result.exit_code == 0, result.output
    rows = {row["source"]: row for row in json.loads(result.output)}
    assert {"replay", "x", "reddit", "bluesky", "mastodon", "appstore", "googleplay", "rss"} <= set(rows)
    assert rows["replay"]["enabled"] and rows["replay"]["configured"] == "yes (a recording)"
    assert rows["x"]["enabled"] and rows["x"]["configured"] == "missing EARSHOT_X_BEARER_TOKEN"
    assert not rows["reddit"]["enabled"] and "needs EARSHOT_REDDIT_CLIENT_ID" in rows["reddit"]["configured"]
    assert rows["replay"]["cursor"] is None and rows["replay"]["last_run"] is None
    assert not (tmp_path / "earshot.db").exists()


def test_sources_shows_the_cursor_and_the_last_run(tmp_path):
    path = write_config(tmp_path)
    config = load_config(path)
    store = SQLiteStore(tmp_path / "earshot.db")
    store.set_cursor("source:replay", '{"offset": 42}')
    HealthMonitor(config, store, lambda: datetime(2026, 11, 20, 9, 30, tzinfo=UTC)).record_run(
        "replay", False, "replay file not found: /data/x.jsonl")
    store.close()
    result = runner.invoke(app, ["sources", "-c", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "replay" in line)
    assert '{"offset": 42}' in line
    assert "2026-11-20 09:30:00 UTC failed: replay file not found" in line


def test_console_alerts_are_not_wrapped_at_80_columns():
    out = io.StringIO()
    channel = ConsoleChannel(Console(file=out, width=80, highlight=False))
    reason = "negative post spreading fast: " + "velocity far above the brand's usual " * 4
    alert = Alert(id="x:1:critical", mention_id="x:1", brand="Brisa Mobile", severity=Severity.critical,
                  created_at=datetime(2026, 11, 20, tzinfo=UTC), reason=reason.strip())
    mention = Mention(id="x:1", source="x", native_id="1", author_handle="ana", text="charged twice " * 20,
                      url="https://x.com/ana/status/1991500000000000001?" + "s=20&t=abcdefghijklmnop" * 3,
                      created_at=datetime(2026, 11, 20, tzinfo=UTC), brand="Brisa Mobile", query="brisa")
    channel.send(alert, mention)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(reason.strip()) and len(lines[0]) > 80
    assert lines[-1].strip() == mention.url  # the link whole, on one line


def test_console_marks_pipeline_health_alerts():
    out = io.StringIO()
    health = Alert(id="health:source_silent:x:1", kind=AlertKind.health, mention_id=None, brand=PIPELINE,
                   severity=Severity.warning, created_at=datetime(2026, 11, 20, tzinfo=UTC),
                   reason="source x has been silent for 3.0 h", topic="source_silent")
    ConsoleChannel(Console(file=out, width=80, highlight=False)).send(health, None)
    assert out.getvalue().splitlines() == ["ALERT WARNING PIPELINE [(pipeline)] source x has been silent for 3.0 h",
                                           "    check: source_silent"]


def test_a_watching_pass_that_finds_nothing_prints_nothing(tmp_path, monkeypatch, scorer):
    """Idle passes while `earshot run` watches: no progress display, no empty lines."""
    from monitor import cli
    from monitor.health import runner as health_runner

    path = write_config(tmp_path)
    config = load_config(path)
    store = SQLiteStore(tmp_path / "earshot.db")
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=80))
    real = health_runner.supervised_pass
    monkeypatch.setattr(health_runner, "supervised_pass",
                        lambda *a, **k: real(*a, **{**k, "scorer": scorer}))
    cli._one_pass(config, store, ["replay"], [], quiet_if_idle=True)  # the demo: work to report
    first = out.getvalue()
    assert "replay: 32 new mention(s)" in first
    for _ in range(3):
        cli._one_pass(config, store, ["replay"], [], quiet_if_idle=True)
    assert out.getvalue() == first  # nothing more, not even blank lines
    store.close()
