"""How long Airflow pays to parse each Earshot DAG file, with every source enabled.

Run ``python -m benchmarks.dag_parse [--runs N] [--json OUT]``. For each file in ``dags/``
it starts a fresh interpreter ``--runs`` times; each one imports ``airflow.sdk`` first
(paid once per parsing process, so not counted), then times executing the DAG file, which
is what the DAG processor repeats every few seconds. Printed: the median per file and the
slowest median (``max_s``); target < 0.5 s. The median CPU seconds of the parsing process are
printed too: on a machine other work shares, they move far less than the wall clock. ``--json`` writes
``{"files": {name: seconds}, "max_s": ...}`` plus the settings of the run.

The config enables the seven live sources (x, reddit, googleplay, appstore, bluesky,
mastodon, rss) and the replay, with dummy credentials in the environment so it validates
as a deployment's would: that is the case where parsing used to import every platform SDK.
Nothing is fetched and no network is used; Airflow gets a throwaway ``AIRFLOW_HOME``.

Why a fresh process per run: Python caches imports, so a second parse in the same
process would measure nothing. The tree measured is the one this file sits in (its
``dags/`` and, through ``PYTHONPATH``, its ``monitor`` package), so a copy of an older
commit can be measured with the same file; entry points come from the installed
distribution.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 0.5
RESULT = "RESULT:"

BRAND = "Brisa Mobile"
# Every source, configured as a deployment would; the feed and apps are never contacted.
SOURCES: dict[str, dict] = {
    "replay": {},
    "x": {},
    "reddit": {},
    "googleplay": {"apps": [{"app_id": "com.brisa.mobile", "brand": BRAND}]},
    "appstore": {"apps": [{"app_id": "1234567890", "brand": BRAND}]},
    "bluesky": {},
    "mastodon": {"hashtags": ["brisamobile"]},
    "rss": {"feeds": ["https://status.example.com/history.rss"]},
}
# Dummy values for every credential the live sources name by default.
CREDENTIALS = {
    "EARSHOT_X_BEARER_TOKEN": "dummy-x-token",
    "EARSHOT_REDDIT_CLIENT_ID": "dummy-reddit-id",
    "EARSHOT_REDDIT_CLIENT_SECRET": "dummy-reddit-secret",
    "EARSHOT_BLUESKY_HANDLE": "brisa.example.com",
    "EARSHOT_BLUESKY_APP_PASSWORD": "dummy-app-password",
    "EARSHOT_MASTODON_ACCESS_TOKEN": "dummy-mastodon-token",
}

# Runs in the child: the config must enable every source with no credential missing, or the
# figure would not be the all-sources one.
PREFLIGHT = f"""
    import json
    from monitor.config import load_config, default_config_path

    config = load_config(default_config_path())
    enabled = sorted(config.enabled_sources())
    missing = {{n: s.missing_credentials() for n, s in config.enabled_sources().items() if s.missing_credentials()}}
    import monitor
    print({RESULT!r} + json.dumps({{"enabled": enabled, "missing": missing, "monitor": monitor.__file__}}))
"""

# The platform and model libraries a DAG file should not need at parse time (top-level module names).
SDKS = ("tweepy", "praw", "prawcore", "atproto", "atproto_client", "mastodon", "google_play_scraper", "feedparser",
        "torch", "transformers", "onnxruntime", "elasticsearch")

# Runs in the child: airflow.sdk first (not counted), then the DAG file (counted).
PARSE = f"""
    import json, runpy, sys, time

    import airflow.sdk

    start, cpu = time.perf_counter(), time.process_time()
    namespace = runpy.run_path(sys.argv[1])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    dags = sorted(v.dag_id for v in namespace.values() if isinstance(v, airflow.sdk.DAG))
    sdks = sorted({{m.split(".")[0] for m in sys.modules}} & set(sys.argv[2].split(",")))
    print({RESULT!r} + json.dumps({{"seconds": seconds, "cpu_seconds": cpu_seconds, "dags": dags, "sdks": sdks}}))
"""


def write_config(directory: Path) -> Path:
    import yaml

    data = {
        "brands": [{"name": BRAND, "queries": ["Brisa Mobile", "@BrisaMobile"]}],
        "sources": SOURCES,
        "store": {"path": str(directory / "earshot.db")},
        "alerts": {"channels": [{"type": "console"}]},
    }
    path = directory / "earshot.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def child_env(directory: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EARSHOT_"))}
    home = directory / "airflow"
    home.mkdir(exist_ok=True)
    env.update(CREDENTIALS)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        EARSHOT_CONFIG=str(config),
        EARSHOT_HOME=str(directory / "earshot-home"),
        HF_HUB_OFFLINE="1",
        PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ written into the measured tree
        PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return env


def run_child(code: str, args: list[str], env: dict[str, str], cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"a benchmark child failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT):])


def measure(runs: int, dag_files: list[Path]) -> dict:
    with tempfile.TemporaryDirectory(prefix="earshot-dag-parse-") as tmp:
        directory = Path(tmp)
        config = write_config(directory)
        env = child_env(directory, config)
        check = run_child(PREFLIGHT, [], env, directory)
        if not Path(check["monitor"]).is_relative_to(REPO):
            raise SystemExit(f"the child imported monitor from {check['monitor']}, not from {REPO}")
        if check["enabled"] != sorted(SOURCES) or check["missing"]:
            raise SystemExit(f"the benchmark config does not enable every source with credentials: {check}")
        files: dict[str, dict] = {}
        for dag_file in dag_files:
            samples = [run_child(PARSE, [str(dag_file), ",".join(SDKS)], env, directory) for _ in range(runs)]
            seconds = [s["seconds"] for s in samples]
            files[dag_file.name] = {"median_s": statistics.median(seconds), "min_s": min(seconds),
                                    "max_s": max(seconds),
                                    "cpu_median_s": statistics.median(s["cpu_seconds"] for s in samples),
                                    "dags": samples[-1]["dags"],
                                    "sdks_imported": samples[-1]["sdks"]}
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per DAG file (default 5)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    dag_files = sorted((REPO / "dags").glob("*.py"))
    files = measure(max(args.runs, 1), dag_files)
    print(f"DAG file parse time beyond `import airflow.sdk`, all {len(SOURCES)} sources enabled, "
          f"median of {args.runs} fresh processes ({REPO}):")
    for name, f in files.items():
        print(f"  {name:<24} {f['median_s']:.3f} s  (min {f['min_s']:.3f}, max {f['max_s']:.3f}; "
              f"{f['cpu_median_s']:.3f} CPU s; {len(f['dags'])} DAG(s))")
        print(f"  {'':<24} SDKs imported: {', '.join(f['sdks_imported']) or 'none'}")
    max_s = max(f["median_s"] for f in files.values())
    print(f"max_s {max_s:.3f} s (target < {TARGET_S} s): {'met' if max_s < TARGET_S else 'MISSED'}")
    if args.json:
        report = {"files": {name: round(f["median_s"], 4) for name, f in files.items()}, "max_s": round(max_s, 4),
                  "runs": args.runs, "target_s": TARGET_S, "sources": sorted(SOURCES),
                  "detail": files, "tree": str(REPO)}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
