"""`earshot run` on several cores: the Airflow DAG's mapped tasks, run by a local pool of processes.

On Airflow, noise (one task instance per brand), scoring and detection (per brand and time
partition) are mapped tasks that workers run side by side against the shared store
(monitor/partitions.py). A run in a terminal has the same partitions and a machine's cores, so
with `scale.workers` above 1 (`earshot run --workers N`) it runs them the same way, with N
processes at once: its own and a pool of N - 1, each with its own connection to the store.

* Noise: the brands go on a shared to-do list. The pool judges them while this process scores
  (scoring reads no mark and noise no sentiment; a post is only compared with its own brand's
  posts); then this process takes what is still on the list. What no brand's pass covers
  (brands no longer configured, posts stored meanwhile) is judged here after.
* Detection: one chunk per brand, on a to-do list the same way, taken by as many processes as
  the chunks' estimated memory fits in `scale.memory_mb` (this one alone, at a million posts);
  their candidate alerts are committed here in time order (`partitions.commit_alerts`), as the
  DAG's commit task does.

What comes out is what one process makes: each brand's marks come from its own pass either way,
and chunks committed together raise the alerts one process raises (tests/test_workers.py,
tests/test_dag_partitions.py). Ingest reads ahead in a process of its own instead
(monitor/fetch_ahead.py): a source is one ordered stream.

The processes are started with "spawn", not forked: a forked child would inherit this process's
open database handles and any threads (progress bars, the web server), which SQLite and locks
do not survive. They start on first use, in about half a second; a process keeps the memory it
once held, so after judging noise they go on to detection only where there is room for it, and
fresh ones (or none) detect otherwise. A pass with nothing new starts none. A process that may not have children (a daemonic one, as Celery's workers
are) runs everything itself; on Airflow the DAG's mapped tasks are the way to more cores.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from monitor.noise.marks import NoiseStats

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from monitor.config import Config
    from monitor.models import Alert
    from monitor.partitions import DetectChunk
    from monitor.store import Store

log = logging.getLogger(__name__)


class WorkerError(RuntimeError):
    """A worker process died (killed, out of memory) before finishing its chunk. Nothing is lost:
    every step stores what it finished, and the next run takes up the rest."""


def can_use_processes() -> bool:
    """False inside a daemonic process (Celery's workers), which may not start children."""
    return not multiprocessing.current_process().daemon


class LocalPool:
    """`workers` processes at once for the pipeline's chunks: the run's own and `workers - 1`
    started on first use. Use it as a context manager (or call `close`), so they end with the run."""

    def __init__(self, config: Config, workers: int) -> None:
        if workers < 2:
            raise ValueError(f"a pool needs at least 2 workers (the run's own process is one), not {workers}")
        self.config = config
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._todo: Queue[Any] | None = None
        self.helpers_rss_mb = 0.0  # what the pool's processes held after their last share of work

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the pool's processes (and the memory they hold); the next use starts new ones."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._todo is not None:
            self._todo.close()
            self._todo = None
        self.helpers_rss_mb = 0.0

    def share(self, kind: str, items: Sequence[Any], helpers: int, store: Store,
              own: Callable[[], object] | None = None, **options: Any) -> list[Any]:
        """Do `kind` ("noise": brands, "detect": chunks) for every item, taken from one to-do list by
        `helpers` pool processes and by this one on `store` (after `own()`, its own work, if given);
        the results in no particular order. With no helpers this process does them all."""
        helpers = min(helpers, self.workers - 1, len(items))
        if helpers < 1:
            if own is not None:
                own()
            return [_do(kind, item, self.config, store, options) for item in items]
        executor, todo = self._pool()
        for item in items:
            todo.put(item)
        for _ in range(helpers + 1):  # one "stop" for each taker, this process included
            todo.put(None)
        taking = [executor.submit(_take, kind, options) for _ in range(helpers)]
        try:
            if own is not None:
                own()
            done = _take_here(todo, kind, self.config, store, options)
        except BaseException:
            self._wait(taking)
            self.close()  # the list may still hold items: the next use starts on a new one
            raise
        self.helpers_rss_mb = 0.0
        for results, rss_mb in self._wait(taking):
            done += results
            self.helpers_rss_mb += rss_mb
        return done

    @staticmethod
    def _wait(taking: list[Future[tuple[list[Any], float]]]) -> list[tuple[list[Any], float]]:
        try:
            return [future.result() for future in taking]
        except BrokenProcessPool as exc:
            raise WorkerError("a worker process died before finishing its chunk (out of memory, or killed); what "
                              "was stored is kept and the next run takes up the rest. Fewer `scale.workers` (or "
                              "a smaller `scale.memory_mb`) hold less memory at once.") from exc

    def _pool(self) -> tuple[ProcessPoolExecutor, Queue[Any]]:
        if self._executor is None or self._todo is None:
            context = multiprocessing.get_context("spawn")
            self._todo = context.Queue()
            self._executor = ProcessPoolExecutor(self.workers - 1, mp_context=context, initializer=_start_worker,
                                                 initargs=(self.config, self._todo))
        return self._executor, self._todo


@dataclass
class Processed:
    scored: int
    noise: NoiseStats
    alerts: list[Alert]


# What one brand's detection chunk holds, about: measured with `ru_maxrss` on the benchmark's
# stores (33,334 posts of a brand: 103 MB; 100,000: 189 MB), per post of the brand in the window
# the detectors read. A million posts of three brands put about 300,000 in a brand's window.
DETECT_BASE_MB = 60.0
DETECT_MB_PER_POST = 0.0013


def detect_memory_mb(posts: int) -> float:
    return DETECT_BASE_MB + DETECT_MB_PER_POST * posts


def process_on_pool(config: Config, store: Store, pool: LocalPool, score: Callable[[], int]) -> Processed:
    """Score (`score()`, in this process) beside noise judged brand by brand, then detect brand by
    brand, as many at once as `scale.memory_mb` holds, and commit the alerts here."""
    from monitor.partitions import commit_alerts, finish_detection, plan_detection, plan_noise
    from monitor.pipeline import judge_noise

    scored = 0

    def score_here() -> None:
        nonlocal scored
        scored = score()

    # Nothing new (a re-run, a quiet pass) starts no process: one read finds out.
    unjudged = bool(store.unjudged_posts(limit=1))
    brands = plan_noise(config) if unjudged else []
    # Each brand's pass keeps its share of the marks one process keeps in memory (`RUN_MEMORY`), so the
    # processes hold together about what one holds, plus each one's own base.
    judged = pool.share("noise", brands, pool.workers - 1, store, own=score_here,
                        sharing=min(pool.workers, len(brands)))
    noise = sum(judged, NoiseStats())
    if unjudged:
        noise += judge_noise(config, store)  # what no brand's pass took: brands no longer configured, late posts
    plan = plan_detection(config, store, partition_hours=0, judge_noise_first=False)  # judged just above
    # A process keeps the memory it once held: the pool's judging processes detect too only where the
    # estimate leaves room for what they hold; else new ones (or none) do.
    needs = detect_needs(config, store, plan.chunks)
    helpers = detect_helpers(needs, config.scale.memory_mb - own_rss_mb(), pool.workers)
    if helpers < 1 or detect_helpers(needs, config.scale.memory_mb - own_rss_mb() - pool.helpers_rss_mb,
                                     pool.workers) < helpers:
        pool.close()
    candidates: list[Alert] = []
    for found in pool.share("detect", plan.chunks, helpers, store):
        candidates += found
    alerts = commit_alerts(store, candidates)
    finish_detection(store, plan)
    return Processed(scored, noise, alerts)


def detect_needs(config: Config, store: Store, chunks: Sequence[DetectChunk]) -> list[float]:
    """Each chunk's estimated memory, largest first: `detect_memory_mb` of its brand's posts in the
    detectors' window (read off the store's hourly counts)."""
    if len(chunks) < 2:
        return [0.0] * len(chunks)  # one chunk is this process's alone, whatever it needs
    from monitor.detection import build_detectors

    detectors = build_detectors(config.detection, [b.name for b in config.brands])
    history = max((d.history_needed() for d in detectors), default=timedelta(0))
    earliest = min((c.since for c in chunks if c.since is not None), default=None)
    posts: dict[str, int] = {}
    for point in store.trend(None if earliest is None else earliest - history, bucket_minutes=60):
        posts[point.brand] = posts.get(point.brand, 0) + point.count
    return sorted((detect_memory_mb(posts.get(c.brand, 0)) for c in chunks), reverse=True)


def detect_helpers(needs: Sequence[float], spare_mb: float, workers: int) -> int:
    """How many pool processes may detect beside this one: as many as the largest chunks' estimated
    memory (`needs`, largest first) fits in `spare_mb` together."""
    takers = 1  # this process, whatever the estimate: one chunk at a time is what one process does
    while takers < min(workers, len(needs)) and sum(needs[:takers + 1]) <= spare_mb:
        takers += 1
    return takers - 1


def own_rss_mb() -> float:
    """This process's resident memory now (Linux /proc; its peak where /proc is not there)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- taking from the to-do list, in the pool's processes and in this one -------------------------

_config: Config | None = None
_store: Store | None = None
_todo: Queue[Any] | None = None


def _start_worker(config: Config, todo: Queue[Any]) -> None:
    global _config, _store, _todo
    from monitor.store import open_store

    _config, _store, _todo = config, open_store(config), todo


def _take(kind: str, options: dict[str, Any]) -> tuple[list[Any], float]:
    """In a pool process: do items off the to-do list until its "stop"; the results, and the
    memory the process holds after."""
    assert _config is not None and _todo is not None
    assert _store is not None
    return _take_here(_todo, kind, _config, _store, options), own_rss_mb()


def _take_here(todo: Queue[Any], kind: str, config: Config, store: Store, options: dict[str, Any]) -> list[Any]:
    done = []
    while (item := todo.get()) is not None:
        done.append(_do(kind, item, config, store, options))
    return done


def _do(kind: str, item: Any, config: Config, store: Store, options: dict[str, Any]) -> Any:
    from monitor.partitions import detect_chunk, judge_brand

    if kind == "noise":
        return judge_brand(config, store, item, options.get("sharing", 1))
    if kind == "detect":
        return detect_chunk(config, store, item)
    raise ValueError(f"no such work: {kind!r}")


__all__ = ["LocalPool", "Processed", "WorkerError", "can_use_processes", "detect_helpers", "detect_needs",
           "process_on_pool"]
