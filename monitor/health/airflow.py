"""Pipeline health inside Airflow: task callbacks that raise health alerts, and fail-fast for DAG tasks.

The DAGs (monitor/orchestration.py) attach these as `on_failure_callback`,
`on_retry_callback` and `on_success_callback`. Callbacks run in the task's process after
the task ended; each loads the config and opens the store itself, like a task, and never
raises: a broken callback must not hide the task's own outcome (errors are logged).

Nothing here imports Airflow at module level except for the exception type, which the
`fail_fast` boundary raises; DAG parsing stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monitor.config import ConfigError

__all__ = ["fail_fast", "ingest_callbacks", "task_callbacks"]

log = logging.getLogger(__name__)

Callback = Callable[[dict[str, Any]], None]


@contextmanager
def fail_fast() -> Iterator[None]:
    """Errors retrying cannot fix (credentials rejected, an invalid config) fail the task without retries.

    `AirflowFailException` tells Airflow to skip the task's remaining retries, so the task
    fails in seconds, its failure callback raises the health alert, and the message (the
    source's own, naming the variable or connection to fix) is the task's error.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from monitor.sources import PermanentSourceError

    try:
        yield
    except (PermanentSourceError, ConfigError) as exc:
        raise AirflowFailException(f"{exc} (not retried: retrying cannot fix this)") from exc


def _error(context: dict[str, Any]) -> str:
    exc = context.get("exception")
    if exc is None:
        return "the task failed (no error recorded; see its log)"
    text = str(exc).removesuffix(" (not retried: retrying cannot fix this)")
    return text or type(exc).__name__


def _attempt(context: dict[str, Any]) -> int:
    ti = context.get("ti")
    return int(getattr(ti, "try_number", 1) or 1)


def _with_monitor(path: Path, action: Callable[[Any, Any], list[Any]]) -> None:
    """Open config and store, run `action(monitor, store)`, deliver what it raised; log, never raise."""
    from monitor.health.monitor import HealthMonitor, deliver_now
    from monitor.store import open_store

    try:
        from monitor.config import load_config

        config = load_config(path)
        store = open_store(config)
    except Exception:  # noqa: BLE001 - a callback must never mask the task's outcome
        log.exception("pipeline health: cannot open the config or store to record the task's outcome")
        return
    try:
        raised = action(HealthMonitor(config, store), store)
        if raised:
            deliver_now(config, store)
    except Exception:  # noqa: BLE001
        log.exception("pipeline health: recording the task's outcome failed")
    finally:
        store.close()


def ingest_callbacks(source: str, path: Path) -> dict[str, Callback]:
    """Task arguments for an ingest task: every outcome recorded; a final failure or silence alerted."""

    def failed(context: dict[str, Any]) -> None:
        error = _error(context)
        _with_monitor(path, lambda m, _: m.record_run(source, False, error)
                      + m.source_failed(source, error, _attempt(context)))

    def retrying(context: dict[str, Any]) -> None:
        error = _error(context)
        _with_monitor(path, lambda m, _: m.record_run(source, False, error))

    def succeeded(context: dict[str, Any]) -> None:
        _with_monitor(path, lambda m, _: m.record_run(source, True) + m.check_sources([source]))

    return {"on_failure_callback": failed, "on_retry_callback": retrying, "on_success_callback": succeeded}


def _task(context: dict[str, Any]) -> str:
    ti = context.get("ti")
    return f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')}"


def task_callbacks(path: Path) -> dict[str, Callback]:
    """Task arguments for the other tasks (score, detect, notify, health): one alert per failing task,
    until it succeeds again."""

    def failed(context: dict[str, Any]) -> None:
        error = _error(context)
        _with_monitor(path, lambda m, _: m.task_failed(_task(context), error, _attempt(context)))

    def succeeded(context: dict[str, Any]) -> None:
        _with_monitor(path, lambda m, _: m.task_succeeded(_task(context)) or [])

    return {"on_failure_callback": failed, "on_success_callback": succeeded}
