"""`earshot_process` through Airflow's `dag.test()`: N chunks map to N task instances, same alerts as one process.

The scoring and detection tasks are mapped over the chunks `monitor.partitions` plans
(brand x span of posting time; brand x time partition of the detection window), and the
noise task over brands, which is what lets a CeleryExecutor or KubernetesExecutor deployment
spread them over workers.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from benchmarks.pipeline_scale import generate, write_config
from monitor import partitions, pipeline
from monitor.config import load_config
from monitor.store import SQLiteStore
from tests.sentiment_helpers import tiny_model
from tests.test_dags import DAGS, RESULT, airflow_env, run_dag, run_python

POSTS = 3000

RUN_PROCESS = f"""
    import json, runpy
    from collections import Counter

    dag = runpy.run_path({str(DAGS / "earshot_process.py")!r})["earshot_process"]
    for task in dag.tasks:
        task.retries = 0
    run = dag.test()
    tis = run.get_task_instances()
    done = Counter(ti.task_id for ti in tis if str(ti.state) in ("success", "TaskInstanceState.SUCCESS"))
    maps = {{t: sorted(ti.map_index for ti in tis if ti.task_id == t) for t in ("score", "noise", "detect")}}
    judged = {{ti.map_index: ti.xcom_pull(task_ids="noise", map_indexes=ti.map_index)
              for ti in tis if ti.task_id == "noise"}}
    print({RESULT!r} + json.dumps({{"state": str(run.state), "done": done, "maps": maps, "judged": judged}}))
"""


def scale_config(directory: Path, model: Path) -> Path:
    """The benchmark's three brands and topics on POSTS generated posts, cut into small chunks."""
    path = write_config(directory, directory / "recording.jsonl")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sentiment"] = {"model": str(model), "batch_size": 16}
    data["scale"] = {"score_chunk_posts": 400, "detect_partition_hours": 1}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def alert_view(store: SQLiteStore) -> list[tuple]:
    return sorted((a.id, a.brand, a.severity.value, a.created_at.isoformat(), a.reason)
                  for a in store.alerts(limit=10**6))


@pytest.mark.slow
def test_mapped_chunks_through_airflow_raise_what_one_process_raises(tmp_path: Path) -> None:
    # A random tiny model, labelled so that its favourite class is "negative": complaints to spread.
    model = tiny_model(tmp_path / "model", {0: "positive", 1: "neutral", 2: "negative"})
    mapped, single = tmp_path / "mapped", tmp_path / "single"
    mapped.mkdir()
    generate(mapped / "recording.jsonl", POSTS, per_hour=750)  # four hours: brands get a level
    config_path = scale_config(mapped, model)
    env = airflow_env(mapped, config_path)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=mapped, check=True,
                   capture_output=True, timeout=300)
    run_dag("earshot_ingest_replay", env, mapped)

    # What the process DAG will plan, read off a copy of the store as the ingest left it.
    (tmp_path / "plan").mkdir()
    shutil.copyfile(mapped / "earshot.db", tmp_path / "plan" / "earshot.db")
    config = load_config(config_path)
    probe = SQLiteStore(tmp_path / "plan" / "earshot.db")
    try:
        score_chunks = partitions.plan_scoring(config, probe)
        detect_chunks = partitions.plan_detection(config, probe).chunks
    finally:
        probe.close()
    assert len(score_chunks) >= 6 and len(detect_chunks) >= 3 * 3

    result = run_python(RUN_PROCESS, env, mapped, timeout=900)
    assert result["state"] in ("success", "DagRunState.SUCCESS"), result
    brands = partitions.plan_noise(config)
    assert result["maps"] == {"score": list(range(len(score_chunks))), "noise": list(range(len(brands))),
                              "detect": list(range(len(detect_chunks)))}
    assert result["done"]["score"] == len(score_chunks) and result["done"]["detect"] == len(detect_chunks)
    # Each brand's posts were judged by its own task instance, so detection's planning found none left.
    judged = {r["brand"]: r["judged"] for r in result["judged"].values()}
    assert sorted(judged) == sorted(brands) and sum(judged.values()) == POSTS and min(judged.values()) > 0
    assert result["done"]["commit_alerts"] == 1 and result["done"]["notify"] == 1

    # The same input through one process (`earshot run --once`'s path), in a data dir of its own.
    single.mkdir()
    shutil.copyfile(mapped / "recording.jsonl", single / "recording.jsonl")
    one_config = load_config(scale_config(single, model))
    one = SQLiteStore(single / "earshot.db")
    through_airflow = SQLiteStore(mapped / "earshot.db")
    try:
        pipeline.run_once(one_config, one, channels=[])
        assert one.count_mentions() == through_airflow.count_mentions() == POSTS
        assert through_airflow.unscored_mentions() == [] and through_airflow.unmarked_mentions() == []
        with closing(sqlite3.connect(single / "earshot.db")) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM mentions")]
        assert len(ids) == POSTS
        assert through_airflow.noise_of(ids) == one.noise_of(ids)  # brand by brand: the marks of one run
        expected = alert_view(one)
        assert expected  # spreading complaints were alerted
        assert alert_view(through_airflow) == expected
        logged = [json.loads(line)["id"] for line in (mapped / "alerts.jsonl").read_text().splitlines()]
        # Each delivered once; alerts on posts flagged as spam wait in the outbox (monitor/noise).
        raised = through_airflow.alerts(limit=10**6)
        spam = {mid for mid, mark in through_airflow.noise_of({a.mention_id for a in raised}).items() if mark.is_spam}
        assert sorted(logged) == sorted(a.id for a in raised if a.mention_id not in spam)
    finally:
        one.close()
        through_airflow.close()
