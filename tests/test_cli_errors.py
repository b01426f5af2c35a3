"""Bad input to `earshot` ends in one readable line and exit code 2, never a traceback.

Each case feeds the CLI one kind of bad input (a broken config file, an unusable data
directory, a full disk, an out-of-range option) and checks that the user is told, on one
line, which file, key or value is wrong and what to do about it. A real bug, on the other
hand, must still surface as an exception rather than be dressed up as bad input.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from monitor import pipeline
from monitor.alerts import DeliveryReport
from monitor.cli import app
from monitor.config import demo_config_path
from monitor.sources import Problem
from monitor.store import Quarantined, SQLiteStore

SCENARIO = demo_config_path().parent / "scenario.jsonl"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_non_root = pytest.mark.skipif(IS_ROOT, reason="root reads and writes through any permission bits")


def earshot_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("earshot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]


def invoke(args: list[str], env: dict[str, str] | None = None):
    # COLUMNS is wide for usage errors only; our own messages must not wrap at any width.
    return CliRunner().invoke(app, args, env={"COLUMNS": "80", "HF_HUB_OFFLINE": "1", **(env or {})})


def write_config(tmp_path: Path, **sections) -> Path:
    """A small valid config replaying the demo recording, with data kept in `tmp_path`."""
    data = {
        "brands": [{"name": "Acme", "queries": ["acme"]}],
        "sources": {"replay": {"path": str(SCENARIO)}},
        "alerts": {"channels": [{"type": "jsonl", "path": "alerts.jsonl"}]},
        **sections,
    }
    path = tmp_path / "earshot.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def error_line(result, *needles: str) -> str:
    """Assert exit 2 with exactly one non-empty stderr line containing each needle; return it."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def usage_error(result, *needles: str) -> None:
    """Click's own answer to an out-of-range option: exit 2, the option and its allowed range named."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)


# -- the config file ------------------------------------------------------------------


def test_invalid_utf8_in_the_config_names_the_file_the_line_and_the_encoding(tmp_path):
    bad = tmp_path / "earshot.yaml"
    bad.write_bytes(b"brands:\n  - name: Ac\xffme\n    queries: [acme]\n")
    line = error_line(invoke(["check-config", str(bad)]), str(bad), "UTF-8", "line 2", "0xff")
    assert "save" in line


def test_a_config_that_is_not_yaml_names_the_line_and_column(tmp_path):
    bad = tmp_path / "earshot.yaml"
    bad.write_text("brands: [unclosed\n")
    error_line(invoke(["check-config", str(bad)]), str(bad), "not valid YAML", "line 2")


def test_a_config_that_is_a_list_says_it_must_be_a_mapping(tmp_path):
    bad = tmp_path / "earshot.yaml"
    bad.write_text("- brands\n- sources\n")
    error_line(invoke(["check-config", str(bad)]), str(bad), "mapping")


def test_a_config_path_that_is_a_directory(tmp_path):
    error_line(invoke(["check-config", str(tmp_path)]), str(tmp_path), "directory", "YAML file")


def test_a_config_path_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope.yaml"
    error_line(invoke(["run", "--once", "-c", str(missing)]), str(missing), "no such file", "check the path")


@needs_non_root
def test_an_unreadable_config(tmp_path):
    path = write_config(tmp_path)
    path.chmod(0o000)
    try:
        error_line(invoke(["check-config", str(path)]), str(path), "permission denied", "chmod")
    finally:
        path.chmod(0o644)


def test_earshot_config_pointing_nowhere_names_the_variable(tmp_path):
    missing = tmp_path / "gone.yaml"
    error_line(invoke(["check-config"], env={"EARSHOT_CONFIG": str(missing)}), "$EARSHOT_CONFIG", str(missing))


@pytest.mark.parametrize(
    ("section", "key", "hint"),
    [
        ({"detection": {"critical_factr": 3}}, "detection.critical_factr", "not a config key"),
        ({"web": {"port": -1}}, "web.port", "greater than or equal to 1"),
        ({"sources": {"replay": {"path": str(SCENARIO), "poll_seconds": -5}}}, "sources.replay.poll_seconds",
         "greater than or equal to 10"),
    ],
    ids=["unknown-key", "negative-port", "negative-poll"],
)
def test_a_wrong_value_names_the_file_and_the_key(tmp_path, section, key, hint):
    path = write_config(tmp_path, **section)
    error_line(invoke(["check-config", str(path)]), str(path), key, hint)


def test_several_wrong_values_give_one_line_each_naming_the_file(tmp_path):
    path = write_config(tmp_path, web={"port": 0, "hots": "x"})
    result = invoke(["check-config", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, lines
    assert all(str(path) in line for line in lines)
    assert any("web.port" in line for line in lines) and any("web.hots" in line for line in lines)


def test_a_secret_in_a_wrong_key_is_not_echoed(tmp_path):
    path = write_config(tmp_path, web={"auth": {"token": "tok-5ecret-9f2"}})
    line = error_line(invoke(["check-config", str(path)]), "web.auth.token")
    assert "tok-5ecret-9f2" not in line


def test_a_missing_replay_recording_is_bad_input_not_an_outage(tmp_path):
    missing = tmp_path / "rec.jsonl"
    path = write_config(tmp_path, sources={"replay": {"path": str(missing)}})
    error_line(invoke(["run", "--once", "-c", str(path)]), str(missing), "sources.replay.path")


# -- the data directory and the database ----------------------------------------------


def test_a_store_path_under_a_regular_file(tmp_path):
    (tmp_path / "blocker").write_text("not a directory")
    path = write_config(tmp_path, store={"path": "blocker/data/earshot.db"})
    error_line(invoke(["run", "--once", "-c", str(path)]), str(tmp_path / "blocker"), "not a directory",
               "store.path")


def test_a_store_path_whose_parent_is_a_file(tmp_path):
    (tmp_path / "blocker").write_text("not a directory")
    path = write_config(tmp_path, store={"path": "blocker/earshot.db"})
    error_line(invoke(["quarantine", "-c", str(path)]), str(tmp_path / "blocker"), "not a directory")


def test_the_demo_data_home_under_a_file_points_at_earshot_home(tmp_path, monkeypatch):
    (tmp_path / "blocker").write_text("x")
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", "--once"], env={"EARSHOT_HOME": str(tmp_path / "blocker" / "data"),
                                            "EARSHOT_CONFIG": str(demo_config_path())})
    error_line(result, str(tmp_path / "blocker"), "$EARSHOT_HOME")


@needs_non_root
def test_an_unwritable_data_directory(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    path = write_config(tmp_path, store={"path": "data/earshot.db"})
    try:
        error_line(invoke(["run", "--once", "-c", str(path)]), str(data), "writable")
    finally:
        data.chmod(0o755)


def test_a_store_file_that_is_not_a_database(tmp_path):
    (tmp_path / "earshot.db").write_bytes(os.urandom(64) + b"\xff" * 8192)
    path = write_config(tmp_path)
    error_line(invoke(["run", "--once", "-c", str(path)]), str(tmp_path / "earshot.db"), "not an SQLite database",
               "store.path")


@pytest.mark.parametrize(
    "failure",
    [
        sqlite3.OperationalError("database or disk is full"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
    ids=["sqlite-full", "enospc"],
)
def test_a_full_disk_during_a_run_says_where_to_free_space(tmp_path, monkeypatch, failure):
    def full(*args, **kwargs):
        raise failure

    monkeypatch.setattr(pipeline, "run_once", full)
    path = write_config(tmp_path)
    error_line(invoke(["run", "--once", "-c", str(path)]), f"free space on {tmp_path}")


def test_a_full_disk_writing_a_named_file_names_it(tmp_path, monkeypatch):
    target = tmp_path / "earshot.db-wal"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(pipeline, "run_once", full)
    path = write_config(tmp_path)
    error_line(invoke(["run", "--once", "-c", str(path)]), str(target), f"free space on {tmp_path}")


def test_a_locked_database_says_another_process_holds_it(tmp_path, monkeypatch):
    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(pipeline, "run_once", locked)
    path = write_config(tmp_path)
    error_line(invoke(["run", "--once", "-c", str(path)]), str(tmp_path / "earshot.db"), "another")


@pytest.mark.parametrize(
    "bug",
    [RuntimeError("a bug"), sqlite3.OperationalError("no such column: nope"), KeyError("x"),
     OSError(errno.ECONNRESET, "Connection reset by peer")],
    ids=["runtime", "sql-bug", "keyerror", "unexpected-oserror"],
)
def test_a_real_bug_is_not_disguised_as_bad_input(tmp_path, monkeypatch, bug):
    def broken(*args, **kwargs):
        raise bug

    monkeypatch.setattr(pipeline, "run_once", broken)
    path = write_config(tmp_path)
    result = invoke(["run", "--once", "-c", str(path)])
    assert result.exit_code != 2
    assert result.exception is bug


# -- options ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0"])
def test_a_non_positive_interval_is_a_usage_error(tmp_path, value):
    path = write_config(tmp_path)
    usage_error(invoke(["run", "-c", str(path), "--interval", value]), "--interval", "greater than or equal to 1")


def test_a_port_out_of_range_is_a_usage_error(tmp_path):
    path = write_config(tmp_path)
    usage_error(invoke(["serve", "-c", str(path), "--port", "70000"]), "--port", "less than or equal to 65535")


def test_a_port_in_use_names_the_address_and_the_fix(tmp_path):
    path = write_config(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(["serve", "-c", str(path), "--host", "127.0.0.1", "--port", str(port)])
    error_line(result, f"127.0.0.1:{port}", "in use", "--port")


def test_an_unknown_source_names_the_ones_there_are(tmp_path):
    path = write_config(tmp_path)
    error_line(invoke(["run", "--once", "-c", str(path), "--source", "myspace"]), "myspace", "replay")


def test_a_non_positive_limit_is_a_usage_error(tmp_path):
    path = write_config(tmp_path)
    usage_error(invoke(["quarantine", "-c", str(path), "--limit", "0"]), "--limit", "greater than or equal to 1")


# -- the real console script -----------------------------------------------------------


def test_the_console_script_prints_one_line_and_exits_2(tmp_path):
    bad = tmp_path / "earshot.yaml"
    bad.write_bytes(b"brands:\n  - name: \xc3\x28\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "40"}
    done = subprocess.run([*earshot_command(), "check-config", str(bad)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "UTF-8" in lines[0], lines


def test_the_console_script_rejects_a_negative_interval_without_a_traceback(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EARSHOT_HOME": str(tmp_path)}
    done = subprocess.run([*earshot_command(), "run", "--interval", "-1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "--interval" in done.stderr


# -- the quarantine --------------------------------------------------------------------


def quarantined_store(tmp_path: Path) -> Path:
    """A config whose store holds two quarantined records, the second one newer."""
    path = write_config(tmp_path)
    store = SQLiteStore(tmp_path / "earshot.db")
    if not hasattr(store, "quarantined"):
        store.close()
        pytest.skip("Store.quarantined is not implemented yet")
    try:
        store.ingest([], [], quarantine=[Quarantined("replay", "rec.jsonl:3", "not valid JSON", '{"type": "po')])
        store.ingest([], [], quarantine=[Quarantined("x", "x search page 2, item 4", "no author [id]", "{[bold]}")])
    finally:
        store.close()
    return path


def test_quarantine_lists_the_records_newest_first_with_a_total(tmp_path):
    path = quarantined_store(tmp_path)
    result = invoke(["quarantine", "-c", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "rec.jsonl:3" in out and "not valid JSON" in out
    assert "x search page 2, item 4" in out and "no author [id]" in out and "{[bold]}" in out  # not read as markup
    assert out.index("x search page 2") < out.index("rec.jsonl:3")
    assert "2 quarantined record(s)" in out


def test_quarantine_limit_says_how_many_are_not_shown(tmp_path):
    path = quarantined_store(tmp_path)
    result = invoke(["quarantine", "-c", str(path), "--limit", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "x search page 2" in result.stdout and "rec.jsonl:3" not in result.stdout
    assert "1 of 2" in result.stdout


def test_quarantine_json_is_a_list_of_records(tmp_path):
    path = quarantined_store(tmp_path)
    result = invoke(["quarantine", "-c", str(path), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["where"] for r in records] == ["x search page 2, item 4", "rec.jsonl:3"]
    assert set(records[0]) == {"source", "where", "reason", "head", "at"}
    assert datetime.fromisoformat(records[0]["at"]) <= datetime.now(UTC)


def test_quarantine_of_a_store_not_created_yet_creates_nothing(tmp_path):
    path = write_config(tmp_path)
    result = invoke(["quarantine", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 quarantined record(s)" in result.stdout
    assert not (tmp_path / "earshot.db").exists()


def test_a_run_says_what_it_quarantined_and_where_to_look(tmp_path, monkeypatch):
    stats = pipeline.IngestStats("replay", problems=[
        Problem("rec.jsonl:3", "not valid JSON [line]"),
        Problem("x search page 2", "HTTP 503", transient=True),
    ], quarantined=1)

    def run_once(*args, **kwargs):
        return pipeline.RunSummary([stats], 0, [], DeliveryReport())

    monkeypatch.setattr(pipeline, "run_once", run_once)
    path = write_config(tmp_path)
    result = invoke(["run", "--once", "-c", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "quarantined rec.jsonl:3: not valid JSON [line]" in result.stderr
    assert "earshot quarantine" in result.stderr
    assert "skipped x search page 2: HTTP 503" in result.stderr and "next run" in result.stderr
