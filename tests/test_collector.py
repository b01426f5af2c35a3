"""The pipeline's steps run with the cycle collector woken less often, and give the process its
own thresholds back however they end."""

from __future__ import annotations

import gc

import pytest

from monitor import pipeline
from monitor.collector import YOUNG_ALLOCATIONS, fewer_collections
from monitor.sources import Batch


@pytest.fixture(autouse=True)
def default_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_a_block_collects_in_larger_steps_and_the_thresholds_come_back_after():
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_ALLOCATIONS, 20, 100)
        with fewer_collections():  # a step inside a step: same thresholds, and the outer ones after
            assert gc.get_threshold() == (YOUNG_ALLOCATIONS, 20, 100)
        assert gc.get_threshold() == (YOUNG_ALLOCATIONS, 20, 100)
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_the_process_raised_itself_are_not_lowered():
    gc.set_threshold(100_000, 50, 1_000)
    with fewer_collections():
        assert gc.get_threshold() == (100_000, 50, 1_000)
    assert gc.get_threshold() == (100_000, 50, 1_000)


def test_a_step_that_fails_gives_the_thresholds_back_too(config, store):
    seen = []

    class Failing:
        def fetch(self, brands, cursor) -> Batch:
            seen.append(gc.get_threshold())
            raise RuntimeError("the platform is down")

    with pytest.raises(RuntimeError, match="the platform is down"):
        pipeline.ingest(config, store, "replay", source=Failing())
    assert seen == [(YOUNG_ALLOCATIONS, 20, 100)]  # the step ran with the larger steps
    assert gc.get_threshold() == (700, 10, 10)
