"""Faults, concurrency and poison input against the real `earshot` command: is anything lost or sent twice?

    python -m benchmarks.chaos [--json OUT] [--alerts 1000] [--kills 20] [--seed 7]

Every scenario runs `earshot run --once` as separate processes over one data directory,
delivering to a local webhook receiver (signed, as in production) that records each
request's `Idempotency-Key`:

* two and four runs delivering at the same time;
* `--kills` runs killed with SIGKILL at random moments during delivery (0–0.5 s after
  the receiver saw its first request), then one run after the killed runs' delivery
  claims have lapsed;
* a JSONL channel on a filesystem that fills up (a tiny tmpfs when this process may mount
  one, else /dev/full), then gets space again;
* a replay file with poison lines (invalid UTF-8, a lone surrogate, a line over the size
  limit, broken JSON, a post without its fields), ingested twice.

For each it prints and writes (`--json`) `{"scenarios": [{"name", "expected",
"delivered", "duplicates", "lost", "quarantined"}]}`: alerts (or, for the poison file,
records) expected, delivered (distinct idempotency keys or ids), duplicates (deliveries
beyond the first of a key), lost (expected, never delivered) and quarantined. The
targets: nothing lost; no duplicates from concurrency; after kills at most one resend
per kill (the documented crash window); every poison line quarantined, every good
line stored.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from monitor.config import demo_config_path, load_config
from monitor.models import Alert, Severity
from monitor.store import SQLiteStore

LEASE_SECONDS = 10  # the shortest the config allows: killed runs' alerts wait this long
SECRET = "chaos-secret"
EARSHOT = [sys.executable, "-m", "monitor.cli"]


@dataclass
class Scenario:
    name: str
    expected: int
    delivered: int
    duplicates: int
    lost: int
    quarantined: int = 0
    note: str = ""


class Receiver:
    """A webhook endpoint on loopback that answers 200 after `delay` and counts idempotency keys."""

    def __init__(self, delay: float = 0.01) -> None:
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(delay)
                with receiver.lock:
                    receiver.keys[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def requests(self) -> int:
        with self.lock:
            return sum(self.keys.values())

    def reset(self) -> None:
        with self.lock:
            self.keys.clear()

    def stop(self) -> None:
        self.server.shutdown()


def write_config(directory: Path, channels: list[dict], replay: Path | None = None) -> Path:
    raw = yaml.safe_load(demo_config_path().read_text(encoding="utf-8"))
    raw["alerts"] = {"channels": channels, "delivery_lease_seconds": LEASE_SECONDS}
    raw["store"] = {"backend": "sqlite", "path": "earshot.db"}
    raw["sources"]["replay"]["shift_to_now"] = True
    raw["sources"]["replay"]["path"] = str(replay or load_config(demo_config_path()).sources["replay"].resolved_path())
    path = directory / "earshot.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def webhook(url: str) -> list[dict]:
    return [{"type": "webhook", "url": url, "secret_env": "EARSHOT_CHAOS_SECRET", "attempts": 2}]


def env() -> dict[str, str]:
    return {**os.environ, "EARSHOT_CHAOS_SECRET": SECRET, "HF_HUB_OFFLINE": "1"}


def earshot_run(config: Path) -> subprocess.Popen:
    return subprocess.Popen([*EARSHOT, "run", "--once", "--no-serve", "--config", str(config)], env=env(),
                            cwd=config.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"earshot run failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")


def prepared(base: Path, receiver: Receiver, extra_alerts: int) -> Path:
    """A data directory where the demo is ingested, scored and alerted, plus `extra_alerts`, none delivered."""
    directory = base / "prepared"
    directory.mkdir()
    config = write_config(directory, [])  # no channel: alerts stay undelivered to the webhook
    finish(earshot_run(config))
    store = SQLiteStore(directory / "earshot.db")
    try:
        mentions = [m for m in store.recent_mentions("x", store.latest_observation() - timedelta(days=30), 1000)]
        first = store.alerts(limit=1)[0]
        for i in range(extra_alerts):
            m = mentions[i % len(mentions)]
            store.add_alert(Alert(
                id=f"{m.id}:chaos-{i}", mention_id=m.id, brand=m.brand, severity=Severity.warning,
                created_at=first.created_at + timedelta(seconds=i), reason=f"chaos alert {i}",
            ))
        return directory
    finally:
        store.close()


def copy_of(prepared_dir: Path, base: Path, name: str, channels: list[dict], replay: Path | None = None) -> Path:
    directory = base / name
    directory.mkdir()
    for f in prepared_dir.iterdir():
        if f.name.startswith("earshot.db"):
            shutil.copy2(f, directory / f.name)
    return write_config(directory, channels, replay)


def expected_alerts(config: Path) -> int:
    store = SQLiteStore(config.parent / "earshot.db")
    try:
        return len(store.alerts(limit=10**9))
    finally:
        store.close()


def tally(name: str, expected: int, keys: Counter[str], note: str = "") -> Scenario:
    delivered = len(keys)
    return Scenario(name, expected, delivered, sum(keys.values()) - delivered, expected - delivered, note=note)


def concurrent(prepared_dir: Path, base: Path, receiver: Receiver, runs: int) -> Scenario:
    receiver.reset()
    config = copy_of(prepared_dir, base, f"concurrent-{runs}", webhook(receiver.url))
    procs = [earshot_run(config) for _ in range(runs)]
    for p in procs:
        finish(p)
    return tally(f"{runs} concurrent runs", expected_alerts(config), receiver.keys)


def kills(prepared_dir: Path, base: Path, receiver: Receiver, count: int, rng: random.Random) -> Scenario:
    receiver.reset()
    config = copy_of(prepared_dir, base, "kills", webhook(receiver.url))
    killed = 0
    for _ in range(count):
        before = receiver.requests()
        proc = earshot_run(config)
        while proc.poll() is None and receiver.requests() == before:  # wait until it is delivering
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
    time.sleep(LEASE_SECONDS + 1)  # the killed runs' claims lapse
    finish(earshot_run(config))
    return tally(f"{count} kill -9 during delivery", expected_alerts(config), receiver.keys,
                 note=f"{killed} runs killed mid-delivery; at most one resend each is the documented guarantee")


def _mount_tiny(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def disk_full(prepared_dir: Path, base: Path) -> Scenario:
    mount = base / "tiny"
    mount.mkdir()
    tmpfs = _mount_tiny(mount, "64k")
    target = mount / "alerts.jsonl"
    if not tmpfs:  # every write fails with ENOSPC
        target = base / "alerts.jsonl"
        target.symlink_to("/dev/full")
    config = copy_of(prepared_dir, base, "disk-full", [{"type": "jsonl", "path": str(target)}])
    try:
        first = subprocess.run([*EARSHOT, "run", "--once", "--no-serve", "--config", str(config)], env=env(),
                               cwd=config.parent, capture_output=True)
        partial = _lines(target) if tmpfs else []
        whole = all(_parses(line) for line in partial)
        if tmpfs:
            subprocess.run(["mount", "-o", "remount,size=16m", str(mount)], check=True)
        else:
            target.unlink()
        finish(earshot_run(config))
        lines = _lines(target)
        ids = Counter(json.loads(line)["idempotency_key"] for line in lines)
        note = (f"{'64 KiB tmpfs' if tmpfs else '/dev/full'}: first run exit {first.returncode}, "
                f"{len(partial)} whole lines written before the disk was full "
                f"({'no partial line' if whole else 'A PARTIAL LINE'}); then space was freed")
        if not all(_parses(line) for line in lines):
            note += "; A BROKEN LINE remains"
        return tally("JSONL channel on a full disk", expected_alerts(config), ids, note=note)
    finally:
        if tmpfs:
            subprocess.run(["umount", str(mount)], capture_output=True)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() and path.is_file() else []


def _parses(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


POISON = [
    b'{"type": "post", "source": "x", "id": "p1", "text": "Brisa Mobile caf\xe9 \xff\xfe"}',  # not UTF-8
    b'{"type": "post", "source": "x", "id": "p2", "text": "Brisa Mobile \\ud800 broken"}',  # a lone surrogate
    b'{"type": "post", "source": "x", "id": "p3", "text": "Brisa Mobile ' + b"a" * (2 << 20) + b'"}',  # 2 MB line
    b'{"type": "post", "source": "x", "id": "p4", "text": "Brisa Mobile',  # cut off
    b'{"type": "post", "source": "x"}',  # fields missing
    b'\x00\x01\x02 binary junk',
]


def poison(base: Path) -> Scenario:
    demo = load_config(demo_config_path()).sources["replay"].resolved_path()
    good = demo.read_bytes().splitlines()
    lines = list(good)
    step = max(len(good) // (len(POISON) + 1), 1)
    for i, line in enumerate(POISON):
        lines.insert((i + 1) * step + i, line)
    directory = base / "poison"
    directory.mkdir()
    recording = directory / "poisoned.jsonl"
    recording.write_bytes(b"\n".join(lines) + b"\n")
    reference_dir = base / "poison-reference"
    reference_dir.mkdir()
    reference = write_config(reference_dir, [])
    finish(earshot_run(reference))  # the clean recording, for the count of good mentions
    expected = _counts(reference_dir)[0]

    config = write_config(directory, [], recording)
    finish(earshot_run(config))
    store = SQLiteStore(directory / "earshot.db")
    try:
        store.set_cursor("source:replay", "0")  # read it all again, as after a lost cursor
    finally:
        store.close()
    finish(earshot_run(config))
    stored, quarantined = _counts(directory)
    note = f"{len(POISON)} poison lines among {len(good)} good ones, ingested twice"
    if quarantined != len(POISON):
        note += f"; EXPECTED {len(POISON)} QUARANTINED"
    return Scenario("replay file with poison lines", expected, stored, 0, expected - stored, quarantined, note)


def _counts(directory: Path) -> tuple[int, int]:
    store = SQLiteStore(directory / "earshot.db")
    try:
        return store.count_mentions(), store.count_quarantined()
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the scenarios here")
    ap.add_argument("--alerts", type=int, default=1000, help="alerts to deliver besides the demo's")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    receiver = Receiver()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="earshot-chaos-") as tmp:
        base = Path(tmp)
        ready = prepared(base, receiver, args.alerts)
        scenarios = [
            concurrent(ready, base, receiver, 2),
            concurrent(ready, base, receiver, 4),
            kills(ready, base, receiver, args.kills, rng),
            disk_full(ready, base),
            poison(base),
        ]
    receiver.stop()
    print(f"{'scenario':<34} {'expected':>8} {'delivered':>9} {'duplicates':>10} {'lost':>5} {'quarantined':>11}")
    for s in scenarios:
        print(f"{s.name:<34} {s.expected:>8} {s.delivered:>9} {s.duplicates:>10} {s.lost:>5} {s.quarantined:>11}")
        if s.note:
            print(f"   {s.note}")
    print(f"\n{time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"scenarios": [asdict(s) for s in scenarios]}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
