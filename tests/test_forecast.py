"""The cascade-size forecast: a Hawkes/SEISMIC estimate from engagement snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from benchmarks.hawkes import CascadeSpec, sample_delays, simulate
from monitor.forecast import (
    KERNEL_THETA,
    MAX_BRANCHING,
    SOURCE_PROFILES,
    forecast,
    forecast_counts,
    kernel_cdf,
    profile_for,
)
from monitor.models import Engagement, EngagementSnapshot, Mention

X = SOURCE_PROFILES["x"]
EVERY_5_MIN_FOR_12H = np.arange(0, 12 * 60 + 1, 5.0)


def observe(spec: CascadeSpec, seed: int, minutes: np.ndarray = EVERY_5_MIN_FOR_12H):
    """A simulated cascade seen the way a poller sees it: (cascade, reshares, weighted totals) at each poll."""
    cascade = simulate(spec, np.random.default_rng(seed))
    counts = cascade.counts_at(minutes)
    total = counts["likes"] + 2 * (counts["reposts"] + counts["quotes"]) + counts["replies"]
    return cascade, counts["reposts"] + counts["quotes"], total


def x_post(branching: float, followers: int = 50_000) -> CascadeSpec:
    """A post whose resharers have, on average, exactly the audience the x profile assumes."""
    sigma = 1.0
    return CascadeSpec(source="x", author_followers=followers, branching=branching, theta=KERNEL_THETA, plateau=5.0,
                       likes_per_reshare=4.0, replies_per_reshare=0.5, quote_share=0.1,
                       resharer_median=X.mean_degree / np.exp(sigma**2 / 2), resharer_sigma=sigma)


def test_the_kernel_is_flat_for_five_minutes_then_a_normalised_power_law():
    assert kernel_cdf(0.0) == 0.0
    assert kernel_cdf(2.5) == pytest.approx(kernel_cdf(5.0) / 2)  # flat head: linear CDF
    assert kernel_cdf(5.0) == pytest.approx(KERNEL_THETA / (1 + KERNEL_THETA))
    assert 0.45 < kernel_cdf(28.0) < 0.55  # half of a reshare's effect within ~half an hour
    assert kernel_cdf(1e9) == pytest.approx(1.0, abs=0.01)
    times = np.linspace(0, 5000, 200)
    assert np.all(np.diff(kernel_cdf(times)) >= 0)


def test_the_kernel_matches_the_simulator_it_is_tested_against():
    delays = sample_delays(np.random.default_rng(0), 200_000, KERNEL_THETA, 5.0)
    for minutes in (2.0, 5.0, 30.0, 240.0):
        assert np.mean(delays <= minutes) == pytest.approx(float(kernel_cdf(minutes)), abs=0.01)


@pytest.mark.parametrize("branching", [0.3, 0.7])
def test_the_estimator_recovers_the_branching_factor_roughly(branching):
    estimates = []
    for seed in range(12):
        _, reshares, total = observe(x_post(branching), seed)
        estimates.append(forecast_counts(EVERY_5_MIN_FOR_12H, reshares, total, 50_000, X).branching[-1])
    assert abs(np.median(estimates) - branching) < 0.15


def test_after_an_hour_the_final_size_is_predicted_within_a_quarter():
    errors, naive = [], []
    one_hour = int(np.searchsorted(EVERY_5_MIN_FOR_12H, 60))
    for seed in range(12):
        cascade, reshares, total = observe(x_post(0.5), seed)
        predicted = forecast_counts(EVERY_5_MIN_FOR_12H, reshares, total, 50_000, X).predicted_final[one_hour]
        errors.append(abs(predicted - cascade.final) / cascade.final)
        naive.append(abs(total[one_hour] - cascade.final) / cascade.final)
    assert np.median(errors) < 0.25
    assert np.median(errors) < np.median(naive) / 2  # far better than "what it has now"


def test_each_prediction_uses_only_the_snapshots_up_to_it():
    _, reshares, total = observe(x_post(0.6), seed=3)
    whole = forecast_counts(EVERY_5_MIN_FOR_12H, reshares, total, 50_000, X).predicted_final
    for k in (1, 5, 20, 80):
        prefix = forecast_counts(EVERY_5_MIN_FOR_12H[:k], reshares[:k], total[:k], 50_000, X).predicted_final
        assert prefix == pytest.approx(whole[:k])


def test_the_same_early_engagement_means_more_from_a_small_account():
    """SEISMIC's point: 40 reshares of a 500-follower post show far catchier content than
    40 reshares of a 500,000-follower post, so it is predicted to travel further."""
    minutes, reshares, total = [0, 10], [0, 40], [0, 300]
    small = forecast_counts(minutes, reshares, total, 500, X)
    big = forecast_counts(minutes, reshares, total, 500_000, X)
    assert small.branching[-1] > big.branching[-1]
    assert small.predicted_final[-1] > big.predicted_final[-1] > 300


def test_an_app_review_does_not_cascade():
    review = forecast_counts([0, 10, 20], [0, 0, 0], [0, 5, 9], 0, profile_for("appstore"))
    assert review.branching.tolist() == [0, 0, 0]
    tweet = forecast_counts([0, 10, 20], [0, 2, 4], [0, 5, 9], 0, profile_for("x"))
    assert review.predicted_final[-1] < tweet.predicted_final[-1]


def test_branching_is_capped_so_a_supercritical_start_predicts_a_finite_size():
    f = forecast_counts([0, 5, 10], [0, 400, 1500], [0, 1000, 4000], 300, X)
    assert f.branching[-1] == MAX_BRANCHING
    assert np.isfinite(f.predicted_final).all()


def test_no_engagement_predicts_nothing_and_dips_are_not_negative():
    assert forecast_counts([0, 5, 10], [0, 0, 0], [0, 0, 0], 1000, X).predicted_final.tolist() == [0, 0, 0]
    dipped = forecast_counts([0, 5, 10, 15], [0, 3, 2, 2], [0, 20, 15, 16], 1000, X)
    assert (dipped.engagement == [0, 20, 20, 20]).all()
    assert (np.diff(dipped.predicted_final[1:]) <= 1e-9).all()  # no new engagement: the outlook only shrinks


def test_forecast_reads_mentions_and_snapshots():
    created = datetime(2026, 1, 1, 9, tzinfo=UTC)
    mention = Mention(id="x:1", source="x", native_id="1", url="https://x.com/a/1", author_handle="a",
                      author_followers=2000, text="t", created_at=created, brand="Acme", query="acme")
    snaps = [EngagementSnapshot(mention_id="x:1", observed_at=created + timedelta(minutes=m),
                                engagement=Engagement(likes=n, reposts=n // 4)) for m, n in ((5, 8), (10, 20), (15, 36))]
    out = forecast(mention, snaps)
    assert [f.at for f in out] == [s.observed_at for s in snaps]
    assert [f.engagement for f in out] == [s.engagement.total for s in snaps]
    assert all(f.predicted_final > f.engagement for f in out)
