"""The `earshot_health` DAG: the checks no task failure reveals (silence, outboxes), on a schedule.

A failing task raises its own alert from its callback; a source that quietly returns
nothing, or a channel whose outbox fills, fails no task, so this DAG looks every
`health.check_minutes`. Built here, wired by the thin `dags/earshot_health.py`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, dag, task

from monitor.health.airflow import task_callbacks
from monitor.orchestration import RETRY_ARGS, START_DATE, _open, config_path, dag_config

HEALTH_DAG_ID = "earshot_health"


def build_health_dag(path: Path | None = None) -> DAG:
    path = path or config_path()
    config = dag_config(path)

    @dag(
        dag_id=HEALTH_DAG_ID,
        schedule=timedelta(minutes=config.health.check_minutes),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=30),
        tags=["earshot", "health"],
        doc_md=(
            "Pipeline health: alert when a live source has gone silent for longer than its history "
            "makes usual, or an alert channel's outbox keeps growing. Failures of the other DAGs' "
            f"tasks alert from their own callbacks.\n\nConfig: `{path}`."
        ),
    )
    def health_dag() -> None:
        @task(task_id="check", execution_timeout=timedelta(minutes=10), **task_callbacks(path),
              **{**RETRY_ARGS, "retries": 1})
        def check() -> dict[str, Any]:
            """Judge every live source and channel; deliver what this raised; return a bounded summary."""
            from monitor.alerts import build_channels
            from monitor.health.monitor import HealthMonitor, deliver_now

            with _open(path) as (config, store):
                channels = build_channels(config.alerts, [b.name for b in config.brands], config.base_dir)
                raised = HealthMonitor(config, store).check(channels)
                if raised:
                    deliver_now(config, store, channels)
            return {"raised": len(raised), "checks": sorted({a.topic or "" for a in raised})}

        check()

    return health_dag()
