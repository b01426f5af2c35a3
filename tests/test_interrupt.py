"""Ctrl+C on `earshot run` with workers: every process of the run stops, only the run's own says
so (no traceback from the processes beside it), and what was stored is kept.

A terminal's Ctrl+C sends SIGINT to every process of the foreground group: the run, the process
reading ahead (monitor/fetch_ahead.py) and the pool's (monitor/workers.py). Here a plugin presses
it at a known point, from inside the run, to a run started in a group of its own.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from monitor.config import demo_config_path
from monitor.workers import ctrl_c_held, take_ctrl_c
from tests.fake_distribution import write_distribution

PRESSES_CTRL_C = '''
import os
import signal
import sqlite3
import time

from monitor.config import ChannelSettings, SourceSettings
from monitor.plugins import Plugin
from monitor.sources import Batch


def ctrl_c():
    """As a terminal does: SIGINT to every process of the run's group."""
    os.killpg(os.getpgrp(), signal.SIGINT)


def stored_first_batch():
    """Wait for the run's process to store the first batch (with its cursor), fetched ahead of it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            db = sqlite3.connect("file:earshot.db?mode=ro", uri=True, timeout=1)
            try:
                if db.execute("SELECT value FROM cursors WHERE key = 'source:backlog'").fetchone():
                    return
            finally:
                db.close()
        except sqlite3.OperationalError:
            pass  # not there yet
        time.sleep(0.01)
    raise AssertionError("the first batch was not stored")


class Backlog:
    """One batch with more to come; the user presses Ctrl+C while the next is being fetched (ahead,
    in a process of its own)."""

    name = "backlog"

    def fetch(self, brands, cursor):
        if cursor is None:
            return Batch(cursor="page-2", exhausted=False)
        stored_first_batch()
        ctrl_c()
        time.sleep(60)
        raise AssertionError("Ctrl+C did not stop the fetch")

    def refresh(self, mentions):
        return []


class Pager:
    """The user presses Ctrl+C as the first alert goes out: the pool's processes are waiting for work."""

    def __init__(self, settings, context):
        self.name = self.label = "pager"
        self.route = context.route

    def send(self, alert, mention):
        ctrl_c()  # from the channel's own thread: the run's main thread is interrupted


SOURCE = Plugin("backlog", SourceSettings, lambda settings, context: Backlog())
CHANNEL = Plugin("pager", ChannelSettings, Pager)
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    write_distribution(site, "earshot-ctrl-c", "[earshot.sources]\nbacklog = ctrl_c:SOURCE\n\n"
                       "[earshot.channels]\npager = ctrl_c:CHANNEL\n", {"ctrl_c": PRESSES_CTRL_C})
    return site


def run_until_ctrl_c(config: Path, site: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`earshot run --once --workers 2` in a process group of its own, with Ctrl+C not ignored (as a
    background job's is); what it printed, and the processes of its group still there after it ended."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "EARSHOT_HOME": str(config.parent), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--once", "--workers", "2", "-c", str(config)],
                            cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        out, errors = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, errors)
    deadline = time.monotonic() + 5  # multiprocessing's resource tracker ends once the run has
    while (left := alive_in_group(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return done, left


def stops_quietly(config: Path, site: Path) -> None:
    """The run says it stopped, exits 130 (`--once`), and no process of it prints a traceback or is left."""
    done, left = run_until_ctrl_c(config, site)
    assert done.returncode == 130, done.stdout + done.stderr
    assert "Stopped. What was stored is kept; the next run goes on from there." in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert left == []


def alive_in_group(group: int) -> list[str]:
    """The command lines of the group's processes that are running (not ended and unreaped)."""
    alive = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":  # state, then parent, then group
                alive.append((proc / "cmdline").read_text().replace("\0", " "))
        except OSError:
            continue  # ended meanwhile
    return alive


needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads process groups from /proc")


@needs_linux
def test_ctrl_c_while_a_batch_is_read_ahead_stops_the_run_quietly_and_keeps_the_stored_batch(
        tmp_path: Path, site: Path) -> None:
    config = tmp_path / "earshot.yaml"
    config.write_text(yaml.safe_dump({"brands": [{"name": "Acme", "queries": ["acme"]}],
                                      "sources": {"backlog": {}}}))
    stops_quietly(config, site)
    with sqlite3.connect(tmp_path / "earshot.db") as db:
        assert db.execute("SELECT value FROM cursors WHERE key = 'source:backlog'").fetchone() == ("page-2",)


@needs_linux
def test_ctrl_c_while_the_pool_waits_for_work_stops_its_processes_quietly(tmp_path: Path, site: Path) -> None:
    # The demo, its noise and detection shared with a pool process; Ctrl+C as the first alert is sent.
    data = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    data["alerts"] = {"channels": [{"type": "pager"}]}
    config = tmp_path / "earshot.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    stops_quietly(config, site)
    with sqlite3.connect(tmp_path / "earshot.db") as db:
        assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 6  # raised and stored
        # The alert the channel took as Ctrl+C was pressed is recorded as delivered (not sent again once
        # its claim lapses); the others wait in the outbox for the next run, unclaimed.
        assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM delivery_claims").fetchone()[0] == 0


def _started_held(pipe) -> None:
    held = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    os.kill(os.getpid(), signal.SIGINT)  # pressed while it imports: held
    try:
        take_ctrl_c()
        time.sleep(30)
        arrived = False
    except KeyboardInterrupt:
        arrived = True
    pipe.send((held, arrived))


@needs_linux
def test_a_process_starts_with_ctrl_c_held_and_gets_one_pressed_meanwhile_once_it_takes_it() -> None:
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(target=_started_held, args=(theirs,))
        with ctrl_c_held():
            child.start()
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this thread, which holds it
            assert pressed == []
        assert pressed == [signal.SIGINT]  # held until the block ended, not lost
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        assert ours.poll(60), "the process did not answer"
        assert ours.recv() == (True, True)
        child.join(10)
    finally:
        signal.signal(signal.SIGINT, previous)


@needs_linux
def test_ctrl_c_taken_by_another_thread_reaches_this_process_as_the_block_ends() -> None:
    # Python runs signal handlers in the main thread whichever thread the signal reached (a progress
    # bar's, the web server's): not in the middle of starting a process, which would then be lost.
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    idle = threading.Event()
    other = threading.Thread(target=idle.wait, daemon=True)
    other.start()
    arrived, wakeup = os.pipe()  # Python's own signal handler writes here, in whichever thread took it
    os.set_blocking(wakeup, False)
    woken_before = signal.set_wakeup_fd(wakeup)
    try:
        with ctrl_c_held():
            signal.pthread_kill(other.ident, signal.SIGINT)
            assert select.select([arrived], [], [], 10)[0], "the signal did not arrive"
            for _ in range(10_000):
                pass  # Python runs a handler between instructions of the main thread: here, if not held
            assert pressed == []
        assert pressed == [signal.SIGINT]
    finally:
        signal.set_wakeup_fd(woken_before)
        os.close(arrived)
        os.close(wakeup)
        idle.set()
        signal.signal(signal.SIGINT, previous)
