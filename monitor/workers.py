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
* Detection: one chunk per brand. Where the estimated memory lets every process detect at once
  (within `scale.memory_mb`), a brand's chunk goes on the list as soon as its noise is judged
  (its detection reads only its own brand's marks), and is done once this process's scoring is
  done too; otherwise the chunks follow the noise, taken by as many processes as fit (this one
  alone, at a million posts, which judges alone too). The candidate alerts are committed here in
  time order (`partitions.commit_alerts`), as the DAG's commit task does.

What comes out is what one process makes: each brand's marks come from its own pass either way,
and chunks committed together raise the alerts one process raises (tests/test_workers.py,
tests/test_dag_partitions.py). Ingest reads ahead in a process of its own instead
(monitor/fetch_ahead.py): a source is one ordered stream.

The processes are started with "spawn", not forked: a forked child would inherit this process's
open database handles and any threads (progress bars, the web server), which SQLite and locks
do not survive. They start on first use, in about half a second; a process keeps the memory it
once held, so after judging noise they go on to detection only where there is room for it, and
fresh ones (or none) detect otherwise. A pass with nothing new starts none. A process that may
not have children (a daemonic one, as Celery's workers are) runs everything itself; on Airflow
the DAG's mapped tasks are the way to more cores.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from queue import Empty
from typing import TYPE_CHECKING, Any

from monitor.noise.marks import RUN_MEMORY, NoiseStats

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event as EventType

    from monitor.config import Config
    from monitor.models import Alert
    from monitor.partitions import DetectChunk
    from monitor.store import Store
    from monitor.store.base import TrendPoint

Item = tuple[str, Any]  # ("noise", brand) or ("detect", DetectChunk): one piece of work on the to-do list


class WorkerError(RuntimeError):
    """A worker process died (killed, out of memory) before finishing its chunk. Nothing is lost:
    every step stores what it finished, and the next run takes up the rest."""


def can_use_processes() -> bool:
    """False inside a daemonic process (Celery's workers), which may not start children."""
    return not multiprocessing.current_process().daemon


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Processes started inside begin with Ctrl+C (SIGINT) held, and let it through once they can
    take it quietly (`take_ctrl_c`): a spawned process imports for half a second first, and a
    Ctrl+C then would print a traceback from the middle of an import. This process takes one
    pressed meanwhile as the block ends, not in the middle of starting a process (which would
    leave that process running, unknown to the pool). Held, not ignored; where this process
    ignores Ctrl+C, so do the ones it starts. CPython's resource tracker is started the same way."""
    if sys.platform == "win32":  # no signal masks; a console's Ctrl+C reaches processes differently
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # first, as starting it ends with SIGINT let through again
    pressed: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    # Python runs handlers in the main thread even when another thread took the signal: record it there.
    recording = (threading.current_thread() is threading.main_thread()
                 and previous not in (None, signal.SIG_IGN, signal.SIG_DFL))
    if recording:
        signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if recording:
            signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if pressed:
            signal.raise_signal(signal.SIGINT)


def take_ctrl_c(handler: Callable[[int, Any], None] | None = None) -> None:
    """In a process started in `ctrl_c_held`: from now on Ctrl+C calls `handler` (by default, raises
    KeyboardInterrupt); one pressed while it was held arrives now. A process started by one that
    ignores Ctrl+C (a background job, a service) goes on ignoring it, as its parent does."""
    if handler is not None and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, handler)
    if sys.platform != "win32":
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class LocalPool:
    """`workers` processes at once for the pipeline's chunks: the run's own and `workers - 1`
    started on first use. Use it as a context manager (or call `close`), so they end with the run."""

    def __init__(self, config: Config, workers: int) -> None:
        if workers < 2:
            raise ValueError(f"a pool needs at least 2 workers (the run's own process is one), not {workers}")
        self.config = config
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._shared: _Shared | None = None
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
        if self._shared is not None:
            self._shared.todo.close()
            self._shared = None
        self.helpers_rss_mb = 0.0

    def share(self, work: Sequence[Item], helpers: int, store: Store, own: Callable[[], object] | None = None,
              then: Mapping[Item, Sequence[Item]] | None = None) -> list[tuple[Item, Any]]:
        """Do every item of `work` ((kind, what): ("noise", brand), ("detect", chunk)), taken from one
        to-do list by `helpers` pool processes and by this one on `store` (after `own()`, its own
        work, if given); `then[item]`: items that go on the list once `item` is done, and are done
        only once `own()` is (a brand's detection, after its noise and the run's scoring). Returns
        (item, result) pairs in no particular order. With no helpers this process does them all, in
        order."""
        then = dict(then or {})
        total = len(work) + sum(len(v) for v in then.values())
        helpers = min(helpers, self.workers - 1, total)
        if helpers < 1:
            if own is not None:
                own()
            done: list[tuple[Item, Any]] = []
            queue = list(work)
            while queue:
                item = queue.pop(0)
                done.append((item, _do(item, self.config, store)))
                queue += then.get(item, ())
            return done
        executor, shared = self._pool()
        with shared.left.get_lock():
            shared.left.value = total
        shared.own_done.clear()
        for item in work:
            shared.todo.put(item)
        taking: list[Future[tuple[list[Any], float]]] = []
        try:
            with ctrl_c_held():  # the pool's processes start on the first submit
                for _ in range(helpers):
                    taking.append(executor.submit(_take, then, helpers + 1))
            try:
                if own is not None:
                    own()
            finally:
                shared.own_done.set()
            done = _take_here(shared, then, helpers + 1, self.config, store, taking)
            self.helpers_rss_mb = 0.0
            for results, rss_mb in self._wait(taking):
                done += results
                self.helpers_rss_mb += rss_mb
        except BaseException:
            shared.own_done.set()  # so that no helper waits for it to start a follow-up item
            _stop_all(shared.todo, helpers + 1)  # the others stop at their next item
            self._wait(taking, raising=False)
            self.close()  # the list may still hold items: the next use starts on a new one
            raise
        return done

    @staticmethod
    def _wait(taking: list[Future[tuple[list[Any], float]]], raising: bool = True) -> list[tuple[list[Any], float]]:
        if not raising:
            wait(taking)
            return []
        try:
            return [future.result() for future in taking]
        except BrokenProcessPool as exc:
            raise WorkerError("a worker process died before finishing its chunk (out of memory, or killed); what "
                              "was stored is kept and the next run takes up the rest. Fewer `scale.workers` (or "
                              "a smaller `scale.memory_mb`) hold less memory at once.") from exc

    def _pool(self) -> tuple[ProcessPoolExecutor, _Shared]:
        if self._executor is None or self._shared is None:
            context = multiprocessing.get_context("spawn")
            self._shared = _Shared(context.Queue(), context.Value("i", 0), context.Event())
            self._executor = ProcessPoolExecutor(self.workers - 1, mp_context=context, initializer=_start_worker,
                                                 initargs=(self.config, self._shared))
        return self._executor, self._shared


@dataclass
class Processed:
    scored: int
    noise: NoiseStats
    alerts: list[Alert]


# What a brand's work holds, about, in one process: measured with `ru_maxrss` on the benchmark's
# stores. Detection, per post of the brand in the window the detectors read: 33,334 posts, 103 MB;
# 100,000, 189 MB. Noise (in chunks of `marking.CHUNK`), per post of the brand to judge, up to the
# marks a pass keeps in memory (`marking.RUN_MEMORY`): 33,334 posts, 219 MB; 100,000, 388 MB. A
# million posts of three brands put about 300,000 in each: then one process judges and detects alone.
DETECT_BASE_MB, DETECT_MB_PER_POST = 60.0, 0.0013
NOISE_BASE_MB, NOISE_MB_PER_POST = 136.0, 0.0025


def process_on_pool(config: Config, store: Store, pool: LocalPool, score: Callable[[], int]) -> Processed:
    """Score (`score()`, in this process) beside noise judged brand by brand, each brand's detection as
    soon as its noise is judged, as many at once as `scale.memory_mb` holds; commit the alerts here."""
    from monitor.partitions import commit_alerts, finish_detection, plan_detection, plan_noise
    from monitor.pipeline import judge_noise

    scored = 0

    def score_here() -> None:
        nonlocal scored
        scored = score()

    # Nothing new (a re-run, a quiet pass) starts no process: one read finds out.
    oldest = store.unjudged_posts(limit=1)
    brands = plan_noise(config) if oldest else []
    # Noise adds no observation, so the plan (the window, the watermark) is the one after noise.
    plan = plan_detection(config, store, partition_hours=0, judge_noise_first=False)
    # One read of the hourly counts for both estimates, from the earlier of their starts.
    judged_from = oldest[0].created_at if oldest else None
    detected_from = detection_since(config, plan.chunks)
    hourly = store.trend(None if judged_from is None or detected_from is None else min(judged_from, detected_from),
                         bucket_minutes=60) if brands or plan.chunks else []
    noise_needs = brand_needs(hourly, brands, judged_from, NOISE_BASE_MB, NOISE_MB_PER_POST, most=RUN_MEMORY)
    detect_needs = brand_needs(hourly, [c.brand for c in plan.chunks], detected_from, DETECT_BASE_MB,
                               DETECT_MB_PER_POST)
    spare = config.scale.memory_mb - own_rss_mb()
    judging = helpers_within(noise_needs, spare, pool.workers)
    detecting = helpers_within(detect_needs, spare, pool.workers)
    noise_items = [("noise", b) for b in brands]
    detect_items = [("detect", c) for c in plan.chunks]
    then: dict[Item, list[Item]] = {}
    if judging == detecting == pool.workers - 1 and set(brands) >= {c.brand for c in plan.chunks}:
        # Room for every process to detect beside its noise: a brand's chunks go on the list once
        # its noise is judged (its own marks are all its detection reads).
        for chunk in detect_items:
            then.setdefault(("noise", chunk[1].brand), []).append(chunk)
        detect_items = []
    done = pool.share(noise_items, judging, store, own=score_here, then=then)
    noise = sum((result for (kind, _), result in done if kind == "noise"), NoiseStats())
    candidates = [alert for (kind, _), found in done if kind == "detect" for alert in found]
    if oldest:
        noise += judge_noise(config, store)  # what no brand's pass took: brands no longer configured, late posts
    if detect_items:
        # A process keeps the memory it once held: the judging processes detect too only where the
        # estimate leaves room for what they hold; else new ones (or none) do.
        held = pool.helpers_rss_mb
        if detecting < 1 or helpers_within(detect_needs, spare - held, pool.workers) < detecting:
            pool.close()
        candidates += [alert for _, found in pool.share(detect_items, detecting, store) for alert in found]
    alerts = commit_alerts(store, candidates)
    finish_detection(store, plan)
    return Processed(scored, noise, alerts)


def detection_since(config: Config, chunks: Sequence[DetectChunk]) -> datetime | None:
    """Where the detectors' reads of these chunks start (None: the first post)."""
    from monitor.detection import build_detectors

    starts = [c.since for c in chunks]
    if not chunks or any(since is None for since in starts):
        return None
    detectors = build_detectors(config.detection, [b.name for b in config.brands])
    return min(since for since in starts if since is not None) - max(
        (d.history_needed() for d in detectors), default=timedelta(0))


def brand_needs(hourly: Sequence[TrendPoint], brands: Sequence[str], since: datetime | None, base_mb: float,
                mb_per_post: float, most: int | None = None) -> list[float]:
    """Each brand's estimated memory (one per entry of `brands`), largest first: `base_mb` plus
    `mb_per_post` for each of its posts in the hours from `since`'s (up to `most`), off the store's
    hourly counts (`Store.trend`), not the posts."""
    if not brands:
        return []
    start = None if since is None else since - timedelta(hours=1)  # the hour `since` falls in counts whole
    posts: dict[str, int] = {}
    for point in hourly:
        if start is None or point.bucket > start:
            posts[point.brand] = posts.get(point.brand, 0) + point.count
    return sorted((base_mb + mb_per_post * min(posts.get(b, 0), most or 2**62) for b in brands), reverse=True)


def helpers_within(needs: Sequence[float], spare_mb: float, workers: int) -> int:
    """How many pool processes may work beside this one (at most `workers - 1`): the most whose
    largest items, with the one this process takes, fit in `spare_mb` together (`needs`, largest
    first). A lone item may go to a helper while this process does its own work."""
    helpers = 0
    while helpers < workers - 1 and helpers < len(needs) and sum(needs[:helpers + 2]) <= spare_mb:
        helpers += 1
    return helpers


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now, in MB, from Linux's /proc; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def own_rss_mb() -> float:
    """This process's resident memory now (its peak where /proc is not there)."""
    import resource

    return rss_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- taking from the to-do list, in the pool's processes and in this one -------------------------

@dataclass(frozen=True)
class _Shared:
    """What the processes of a pool share: the to-do list, how many of the current share's items are
    not done yet, and whether the run's process has done its own work (follow-up items wait for it:
    a brand's detection reads the sentiments this process's scoring writes)."""

    todo: Queue[Any]
    left: Synchronized[int]
    own_done: EventType


_config: Config | None = None
_store: Store | None = None
_shared: _Shared | None = None
_working = False  # in a pool process: taking items (not waiting for the next share)
_interrupted = False  # in a pool process: Ctrl+C reached it; the run is stopping


def _start_worker(config: Config, shared: _Shared) -> None:
    global _config, _store, _shared
    from monitor.store import open_store

    _config, _store, _shared = config, open_store(config), shared
    take_ctrl_c(_on_interrupt)


def _on_interrupt(signum: int, frame: object) -> None:
    """Ctrl+C in a terminal reaches every process of the run. The run's own process says it stopped
    and ends the pool; here it stops the items being done (at once, as there). A process waiting
    for work (or still starting) prints no traceback of its own, and takes no more work."""
    global _interrupted
    _interrupted = True
    if _working:
        raise KeyboardInterrupt


def _take(then: Mapping[Item, Sequence[Item]], takers: int) -> tuple[list[Any], float]:
    """In a pool process: do items off the to-do list until its "stop"; the results, and the
    memory the process holds after."""
    global _working
    assert _config is not None and _shared is not None and _store is not None
    try:
        _working = True
        if _interrupted:
            raise KeyboardInterrupt
        return _take_here(_shared, then, takers, _config, _store), own_rss_mb()
    except BaseException:
        _stop_all(_shared.todo, takers)  # the others, this run's own process too, stop rather than wait
        raise
    finally:
        _working = False


def _take_here(shared: _Shared, then: Mapping[Item, Sequence[Item]], takers: int, config: Config, store: Store,
               helpers: Sequence[Future[Any]] = ()) -> list[tuple[Item, Any]]:
    """Do items off the list until a "stop": after each, put what it makes possible (`then`) on the
    list, and when none is left, a "stop" for every taker. A follow-up item waits for the run's
    process's own work too. `helpers`: the pool's futures, watched by this run's process while it
    waits, so a helper that failed or died is raised, not waited for."""
    todo, left = shared.todo, shared.left
    follow_ups = {item for items in then.values() for item in items}
    done = []
    while True:
        try:
            item = todo.get(timeout=0.5)
        except Empty:  # a helper that failed (or died) is raised here rather than waited for
            if any(f.done() and f.exception() is not None for f in helpers):
                LocalPool._wait(list(helpers))
            continue
        if item is None:
            return done
        if item in follow_ups:
            shared.own_done.wait()
        done.append((item, _do(item, config, store)))
        for follow in then.get(item, ()):
            todo.put(follow)
        with left.get_lock():
            left.value -= 1
            finished = left.value == 0
        if finished:
            _stop_all(todo, takers)


def _stop_all(todo: Queue[Any], takers: int) -> None:
    for _ in range(takers):
        todo.put(None)


def _do(item: Item, config: Config, store: Store) -> Any:
    from monitor.partitions import detect_chunk, judge_brand

    kind, what = item
    if kind == "noise":
        return judge_brand(config, store, what)
    if kind == "detect":
        return detect_chunk(config, store, what)
    raise ValueError(f"no such work: {kind!r}")


__all__ = ["LocalPool", "Processed", "WorkerError", "brand_needs", "can_use_processes", "helpers_within",
           "process_on_pool"]
