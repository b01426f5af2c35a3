"""Airflow DAGs for Earshot, built from the config: the logic the thin files in `dags/` call.

Two kinds of DAG, joined by Assets rather than by cross-DAG triggers:

* `earshot_ingest_<source>`, one per enabled source: fetch and store new mentions. A
  live source polls on its own `poll_seconds`; the replay only runs when triggered.
  Each successful run updates `MENTIONS_ASSET`.
* `earshot_process`, scheduled on `MENTIONS_ASSET`: score -> detect -> notify, with scoring
  and detection mapped over bounded chunks (brand x time, `monitor.partitions`), one task
  instance each, so a CeleryExecutor or KubernetesExecutor spreads them over workers
  (docs/scale-out.md). The commit_alerts task updates `ALERTS_ASSET`, so other DAGs
  (reports, escalation) can follow.

Every task is one call to a `monitor.pipeline` function, the same ones `earshot run`
uses, so a DAG run does what a terminal run does. Tasks run in separate processes, so
each one loads the config and opens the store itself and returns only a small JSON-able
summary for XCom. Pipeline steps are idempotent (cursors, alert ids, an outbox), which is
what makes Airflow's retries safe.

Parsing must stay fast and light: the DAG processor re-imports these files every few
seconds. So at parse time this module reads only the config (to know which sources are
enabled); the pipeline, the store and above all the sentiment model (torch,
transformers) are imported inside the tasks.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Asset, dag, get_current_context, task

from monitor.config import (
    Config,
    ConfigError,
    SourceSettings,
    default_config_path,
    load_config,
)
from monitor.airflow_provider import pool_name
from monitor.health.airflow import ingest_callbacks, task_callbacks

if TYPE_CHECKING:
    from monitor.store import Store

__all__ = [
    "ALERTS_ASSET",
    "MENTIONS_ASSET",
    "PROCESS_DAG_ID",
    "build_ingest_dags",
    "build_process_dag",
    "dag_config",
    "ingest_dag_id",
]

log = logging.getLogger(__name__)

# `x-` URIs are Airflow's convention for schemes it has no normaliser for.
MENTIONS_ASSET = Asset(name="earshot_mentions", uri="x-earshot://store/mentions", group="earshot")
ALERTS_ASSET = Asset(name="earshot_alerts", uri="x-earshot://store/alerts", group="earshot")

PROCESS_DAG_ID = "earshot_process"

# A fixed date in the past: with catchup off it only anchors the first interval.
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)

# A platform outage or a webhook that is down raises, and Airflow retries after 1, 2, 4 min.
RETRY_ARGS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
}

PROBLEMS_IN_SUMMARY = 10  # all problems are logged; XCom keeps only the first few
ALERT_IDS_IN_SUMMARY = 20  # XCom holds a bounded summary; the store holds every alert

# A hung platform call or a stuck model must not hold a worker slot (or the DAG's only
# active run) forever: every task has a timeout, every DAG run a deadline.
TASK_TIMEOUTS = {
    "ingest": timedelta(minutes=30),
    "score": timedelta(hours=2),  # a first run may score a large backlog on CPU
    "noise": timedelta(hours=1),  # a first run judges the whole backlog of its brand
    "detect": timedelta(minutes=30),
    "notify": timedelta(minutes=30),  # longer than every channel's attempts x timeout
    "plan": timedelta(minutes=10),  # counts and the watermark only
    "commit_alerts": timedelta(minutes=10),
    "retention": timedelta(minutes=30),
}
DAGRUN_TIMEOUTS = {"ingest": timedelta(hours=1), "process": timedelta(hours=3)}


def ingest_dag_id(source: str) -> str:
    return f"earshot_ingest_{source}"


def config_path() -> Path:
    """The config the DAGs use: `$EARSHOT_CONFIG`, else ./earshot.yaml, else the demo.

    Made absolute once, at parse time, so every task of a DAG reads the same file. In a
    deployment set `$EARSHOT_CONFIG`: the DAG processor and the workers may run in
    different directories.
    """
    return default_config_path().resolve()


def dag_config(path: Path | None = None) -> Config:
    """Load the config for DAG parsing; an invalid one fails naming the file and the bad keys.

    Raised here, the ConfigError becomes the DAG file's import error in the Airflow UI;
    `from None` keeps the pydantic/yaml internals out of that traceback.
    """
    path = path or config_path()
    try:
        return load_config(path)
    except ConfigError as exc:
        raise ConfigError(
            f"the Earshot DAGs cannot be built; fix the config or point $EARSHOT_CONFIG at another: {exc}"
        ) from None


@contextmanager
def _open(path: Path) -> Iterator[tuple[Config, Store]]:
    """Config and store for one task; the store is closed even when the step fails."""
    from monitor.store import open_store

    from monitor.health.airflow import fail_fast

    with fail_fast():  # an invalid config or rejected credentials fail the task without retries
        config = load_config(path)
        store = open_store(config)
        try:
            yield config, store
        finally:
            store.close()


def _set_asset_extra(asset: Asset, extra: dict[str, Any]) -> None:
    """Attach the task's summary to the asset event, so the Assets view shows what changed."""
    get_current_context()["outlet_events"][asset].extra = extra


def _ingest_dag(source: str, settings: SourceSettings, path: Path) -> DAG:
    schedule: timedelta | None = None  # the replay runs when triggered
    cadence = "when triggered"
    if settings.live:
        schedule = timedelta(seconds=settings.poll_seconds)
        cadence = f"every {settings.poll_seconds} s"

    @dag(
        dag_id=ingest_dag_id(source),
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # two polls of one source would race for its cursor
        dagrun_timeout=DAGRUN_TIMEOUTS["ingest"],
        tags=["earshot", "ingest"],
        doc_md=(
            f"Fetch new mentions from the **{source}** source ({cadence}) into the Earshot store, "
            f"then update the `{MENTIONS_ASSET.name}` asset, which triggers `{PROCESS_DAG_ID}`.\n\n"
            f"Config: `{path}`."
        ),
    )
    def ingest_dag() -> None:
        @task(task_id="ingest", outlets=[MENTIONS_ASSET], execution_timeout=TASK_TIMEOUTS["ingest"],
              **({"pool": pool_name(source)} if settings.live else {}), **ingest_callbacks(source, path),
              **RETRY_ARGS)
        def ingest() -> dict[str, Any]:
            """Store what the source has ready; a SourceError (outage, bad credentials) fails and retries."""
            from monitor import pipeline

            with _open(path) as (config, store):
                stats = pipeline.ingest(config, store, source)
            for problem in stats.problems:
                log.warning("skipped input from %s: %s", source, problem)
            summary = {
                "source": source,
                "new_mentions": stats.new_mentions,
                "updated_mentions": stats.updated_mentions,
                "new_snapshots": stats.new_snapshots,
                "problems": len(stats.problems),
                "first_problems": [str(p) for p in stats.problems[:PROBLEMS_IN_SUMMARY]],
            }
            _set_asset_extra(MENTIONS_ASSET, {k: v for k, v in summary.items() if k != "first_problems"})
            return summary

        ingest()

    return ingest_dag()


def build_ingest_dags(path: Path | None = None) -> dict[str, DAG]:
    """One ingest DAG per source the config enables, keyed by dag id.

    Credentials and plugins are not checked here: what counts is the workers' environment
    (or Airflow connection), so the task, not the parse, fails when one is missing.
    """
    path = path or config_path()
    config = dag_config(path)
    dags = [_ingest_dag(name, settings, path) for name, settings in config.enabled_sources().items()]
    return {d.dag_id: d for d in dags}


def build_process_dag(path: Path | None = None) -> DAG:
    """`earshot_process`: score -> detect -> notify, whenever any ingest DAG stored mentions, mapped over chunks.

    The config is loaded here too, only to validate it: a broken config then shows as an
    import error on this file as well, instead of as failing task runs later.
    """
    path = path or config_path()
    dag_config(path)

    @dag(
        dag_id=PROCESS_DAG_ID,
        schedule=[MENTIONS_ASSET],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # runs queue up; each step picks up whatever is still pending
        dagrun_timeout=DAGRUN_TIMEOUTS["process"],
        tags=["earshot", "process"],
        doc_md=(
            f"Runs when `{MENTIONS_ASSET.name}` is updated: score the sentiment of new mentions, "
            f"detect negative posts that spread (updates `{ALERTS_ASSET.name}`), and deliver "
            f"new alerts to the configured channels. Scoring and detection are mapped over "
            f"chunks of one brand and time span each (`scale` in the config), and noise "
            f"(copies, spam) over brands, beside scoring.\n\nConfig: `{path}`."
        ),
    )
    def process_dag() -> None:
        # Scoring and detection are mapped over bounded chunks (monitor/partitions.py), noise over
        # brands: one task instance per chunk, so a CeleryExecutor or KubernetesExecutor spreads
        # them over its workers, each holding one chunk. Planning reads only counts and the watermark.
        @task(task_id="plan_scoring", execution_timeout=TASK_TIMEOUTS["plan"], **task_callbacks(path), **RETRY_ARGS)
        def plan_scoring() -> list[dict[str, Any]]:
            """One chunk per brand and span of hours, each about `scale.score_chunk_posts` pending posts."""
            from monitor import partitions

            with _open(path) as (config, store):
                return [c.to_json() for c in partitions.plan_scoring(config, store)]

        @task(task_id="score", execution_timeout=TASK_TIMEOUTS["score"], **task_callbacks(path), **RETRY_ARGS)
        def score(chunk: dict[str, Any]) -> dict[str, Any]:
            """Score one chunk; the model is loaded only when it has posts to score."""
            from monitor import partitions

            plan = partitions.ScoreChunk.from_json(chunk)
            with _open(path) as (config, store):
                return {**chunk, "scored": partitions.score_chunk(config, store, plan)}

        @task(task_id="plan_noise", execution_timeout=TASK_TIMEOUTS["plan"], **task_callbacks(path), **RETRY_ARGS)
        def plan_noise() -> list[str]:
            """The configured brands: each brand's new posts are judged for copies and spam on their own."""
            from monitor import partitions

            return partitions.plan_noise(dag_config(path))

        @task(task_id="noise", execution_timeout=TASK_TIMEOUTS["noise"], **task_callbacks(path), **RETRY_ARGS)
        def noise(brand: str) -> dict[str, Any]:
            """Judge one brand's new posts as copies or not, spam or not; beside scoring, which it does not read."""
            from monitor import partitions

            with _open(path) as (config, store):
                stats = partitions.judge_brand(config, store, brand)
            return {"brand": brand, "judged": stats.judged, "duplicates": stats.duplicates, "spam": stats.spam}

        # Mapped upstream may have no instance at all (nothing to score): "skipped" is fine here.
        @task(task_id="plan_detection", trigger_rule="none_failed", execution_timeout=TASK_TIMEOUTS["plan"], **task_callbacks(path), **RETRY_ARGS)
        def plan_detection() -> list[dict[str, Any]]:
            """Each brand x time partition of what was observed since the last run (the last ends at the newest).

            Noise (copies, spam) is judged by the `noise` tasks, one per brand, before this; what
            they left (posts stored meanwhile, brands no longer configured) is judged here."""
            from monitor import partitions

            with _open(path) as (config, store):
                return [c.to_json() for c in partitions.plan_detection(config, store).chunks]

        @task(task_id="detect", execution_timeout=TASK_TIMEOUTS["detect"], **task_callbacks(path), **RETRY_ARGS)
        def detect(chunk: dict[str, Any]) -> list[dict[str, Any]]:
            """Candidate alerts for one brand over one partition; stored together by `commit_alerts`."""
            from monitor import partitions

            with _open(path) as (config, store):
                found = partitions.detect_chunk(config, store, partitions.DetectChunk.from_json(chunk))
            return partitions.alerts_to_json(found)

        @task(task_id="commit_alerts", outlets=[ALERTS_ASSET], trigger_rule="none_failed", execution_timeout=TASK_TIMEOUTS["commit_alerts"], **task_callbacks(path), **RETRY_ARGS)
        def commit_alerts(plan: list[dict[str, Any]], found: list[list[dict[str, Any]]] | None = None,
                          ) -> dict[str, Any]:
            """Store every chunk's candidates in time order (as one process would raise them), then the watermark."""
            from monitor import partitions

            chunks = [partitions.DetectChunk.from_json(c) for c in plan]
            candidates = [a for chunk in (found or []) for a in partitions.alerts_from_json(chunk)]
            watermark = max((c.until for c in chunks), default=None)
            with _open(path) as (config, store):
                alerts = partitions.commit_alerts(store, candidates)
                partitions.finish_detection(store, partitions.DetectionPlan(chunks, watermark))
            summary = {
                "chunks": len(chunks),
                "new_alerts": len(alerts),
                "alert_ids": [a.id for a in alerts[:ALERT_IDS_IN_SUMMARY]],  # bounded: the store has them all
                "severities": dict(Counter(a.severity.value for a in alerts)),
            }
            _set_asset_extra(ALERTS_ASSET, summary)
            return summary

        @task(task_id="notify", trigger_rule="none_failed", execution_timeout=TASK_TIMEOUTS["notify"], **task_callbacks(path), **RETRY_ARGS)
        def notify() -> dict[str, Any]:
            """Deliver what each channel has not received yet; a failing channel fails the task.

            Working channels are served first and the rest stays in the outbox, so the
            failure is visible in Airflow and the retry (or the next run) delivers it.
            """
            from monitor import pipeline

            with _open(path) as (config, store):
                report = pipeline.notify(config, store)
            if report.failed:
                failed = "; ".join(f"{name}: {error}" for name, error in report.failed.items())
                raise RuntimeError(f"alert delivery failed, kept in the outbox: {failed} (sent: {report.sent})")
            return {"sent": report.sent}

        @task(task_id="retention", execution_timeout=TASK_TIMEOUTS["retention"], **task_callbacks(path), **RETRY_ARGS)
        def retention() -> dict[str, Any]:
            """Enforce retention_days (monitor/removals.py): the scheduled purge, beside the main chain."""
            from monitor.removals import purge_expired, retention_days

            with _open(path) as (config, store):
                mentions, snapshots = purge_expired(store, retention_days(config), datetime.now(UTC))
            return {"purged_mentions": mentions, "purged_snapshots": snapshots}

        scored = score.expand(chunk=plan_scoring())
        judged = noise.expand(brand=plan_noise())  # side by side with scoring: neither reads what the other writes
        plan = plan_detection()
        [scored, judged] >> plan
        found = detect.expand(chunk=plan)
        committed = commit_alerts(plan, found)
        committed >> notify()
        retention()

    return process_dag()
