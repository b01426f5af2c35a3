"""`earshot replies`: which platforms are ready, and what to set for the others (never a value)."""

from __future__ import annotations

from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import demo_config_path


def test_replies_lists_each_platform_with_what_is_missing(monkeypatch):
    for name in ("EARSHOT_X_CONSUMER_KEY", "EARSHOT_X_CONSUMER_SECRET", "EARSHOT_X_ACCESS_TOKEN"):
        monkeypatch.setenv(name, "s3cret-value-" + name[-3:])
    monkeypatch.setenv("EARSHOT_X_ACCESS_TOKEN_SECRET", "s3cret-value-last")
    monkeypatch.delenv("EARSHOT_MASTODON_REPLY_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["replies", "-c", str(demo_config_path())], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.startswith("│")}
    assert "ready" in rows["x"] and "https://api.twitter.com" in rows["x"]
    assert "set EARSHOT_MASTODON_REPLY_TOKEN" in rows["mastodon"]
    assert "s3cret" not in result.output
    assert "4 saved replies configured." in result.output
