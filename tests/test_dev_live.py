"""`make dev-live` end to end: the main job reads every fake platform as a live source.

serve_all runs as the developer runs it (a subprocess printing the environment), then
`earshot run --once` runs with exactly the printed environment, as a user pastes it. What
must hold: the run succeeds, every live source stored mentions, the brand's exclusions
applied, and the credentials appear in neither the config file nor Earshot's output.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import IO

import pytest

from tests.sources.fakes.serve_all import SOURCES

REPO = Path(__file__).resolve().parent.parent
EXPORT = re.compile(r"^\s*export (\w+)=(.+)$")


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """The stream's lines as they come (None at its end), so a hung server fails the test, not pytest."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """serve_all (steady seed, no live changes) writing into tmp_path: (config, printed env)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sources.fakes.serve_all", "--home", str(tmp_path), "--no-live"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    lines = _lines(proc.stdout)
    env: dict[str, str] = {}
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=30)
            assert line is not None, "serve_all exited before printing the command:\n" + "".join(seen)
            seen.append(line)
            if match := EXPORT.match(line):
                env[match[1]] = shlex.split(match[2])[0]
            if "earshot run -c" in line:
                break
        yield tmp_path / "dev-live.yaml", env
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
    assert code == 0, "serve_all did not stop cleanly on Ctrl-C"


@pytest.mark.slow
def test_the_main_job_stores_mentions_from_every_fake_live_source(fakes: tuple[Path, dict[str, str]],
                                                                  tmp_path: Path) -> None:
    config, env = fakes
    secrets = [value for name, value in env.items() if "HANDLE" not in name and "CLIENT_ID" not in name]
    assert secrets and not any(value in config.read_text(encoding="utf-8") for value in secrets)

    run = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "run", "--once", "-c", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, **env, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    listening = next(line for line in run.stdout.splitlines() if line.startswith("Listening to: "))
    assert set(listening.removeprefix("Listening to: ").split(", ")) == set(SOURCES)  # and not the replay
    assert not any(value in output for value in secrets)

    with closing(sqlite3.connect(tmp_path / "dev-live.db")) as db:
        per_source = dict(db.execute("SELECT source, COUNT(*) FROM mentions GROUP BY source"))
        (hiring,) = db.execute("SELECT COUNT(*) FROM mentions WHERE lower(text || coalesce(title, '')) LIKE '%hiring%'"
                               ).fetchone()
        languages = {lang for (lang,) in db.execute("SELECT DISTINCT lang FROM mentions WHERE lang IS NOT NULL")}
    assert set(per_source) == set(SOURCES), per_source
    assert all(count >= 3 for count in per_source.values()), per_source
    assert hiring == 0  # the demo brand's exclusions applied on every platform
    assert {"en", "es", "id"} <= languages
