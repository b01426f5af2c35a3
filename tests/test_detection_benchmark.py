"""The detection benchmark simulates polling the way Earshot's sources really poll."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.detection_eval import default_poll_minutes, main, simulate_brand
from benchmarks.hawkes import snapshot_minutes


def test_a_poller_first_sees_a_post_within_its_first_interval_then_backs_off():
    polls = snapshot_minutes(every=5.0, first=1.5)
    assert polls[0] == 1.5
    head = polls[polls <= 6 * 60]
    assert np.allclose(np.diff(head), 5.0)
    assert np.allclose(np.diff(polls[(polls > 6 * 60) & (polls <= 24 * 60)]), 30.0)
    assert snapshot_minutes(every=5.0)[0] == 5.0  # worst case: the end of the interval


def test_each_simulated_source_is_polled_at_the_product_default():
    assert default_poll_minutes("x") == 2.0
    brand = simulate_brand(60, seed=3, poll_every=None)
    for mid, polls in brand.polls.items():
        every = default_poll_minutes(brand.mentions[mid].source)
        assert 0 < polls[0] <= every
        assert np.isclose(polls[1] - polls[0], every)


def test_polling_does_not_change_the_simulated_cascades():
    a = simulate_brand(40, seed=5, poll_every=5.0)
    b = simulate_brand(40, seed=5, poll_every=None, late_first_look=True)
    assert a.finals == b.finals


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_and_prints_its_targets(capsys):
    assert main(["--posts", "300", "--series", "2"]) == 0
    out = capsys.readouterr().out
    assert "Earshot defaults (velocity + forecast)" in out
    assert "source default polls (x 2, bluesky 10, mastodon 5 min)" in out
    assert "spread: precision" in out and "storms: precision" in out
