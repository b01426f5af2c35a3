"""Python's cycle collector, woken less often while a pipeline step runs, or not at all.

A step builds and drops hundreds of thousands of small objects (parsed events, mentions,
readings, rows), next to none of them in reference cycles. At the interpreter's default
(a young-generation pass every 700 allocations, and every so often a pass over everything
alive) the collector ran thousands of times in a run and found next to nothing: about 2 s of
the 37 s that ingesting, scoring and detecting 100,000 posts took without the model
(`benchmarks.pipeline_scale --no-model`). Every step still collects, only in larger steps,
so garbage that does form cycles is freed as before, a little later. Where a bounded piece of
work is known to make no cycles at all (the noise step's chunks), the collector is paused for it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Measured on the steps at 100,000 posts: ingest 15.6 -> 14.5 s, detection 5.8 -> 5.0 s, scoring
# 4.1 -> 3.9 s; 20,000 gave most of it, 200,000 nothing more.
YOUNG_ALLOCATIONS = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within the block (or the decorated function), collect after `YOUNG_ALLOCATIONS`
    allocations, not the interpreter's default; the thresholds in force before come back after,
    so nested steps and whatever else runs in the process keep their own."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_ALLOCATIONS), max(before[1], 20), max(before[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off within the block. For bounded work that makes no reference cycles:
    judging a noise chunk allocates some hundred thousand small objects (tuples, strings, marks),
    and the collections they set off walked every object of the process (in the pipeline: models,
    configs, the whole run), a seventh of the step. Freed objects are still freed at once
    (reference counting); the collector runs again as before after the block."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
