"""How far will a post spread? A self-exciting (Hawkes) estimate from its engagement snapshots.

In the spirit of SEISMIC (Zhao et al., KDD 2015): every reshare exposes the resharer's
followers to the post, and each exposed person engages with a probability that is the
post's own "infectiousness". Infectiousness is estimated as engagements observed so far
divided by the exposure the post has had so far; the remaining exposure (from the
author and from every reshare, discounted by how much of each one's attention has
already passed) times that rate, amplified by the reshares still to come, is the
predicted remaining engagement.

Two things differ from the paper, because a listening tool sees less than Twitter's
firehose: we get counts at snapshots instead of each reshare's time, so reshares are
placed at the middle of their snapshot interval; and we do not know each resharer's
followers, so a reshare reaches a per-source typical audience (`SourceProfile`).
The author's own follower count is known and is what makes a big account's complaint
look dangerous from its first few minutes.

Times are minutes since the post was created. Counts are Earshot's weighted
`Engagement.total` (what velocity is measured in) and the propagating part of it
(reposts and quotes, or Reddit's score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from monitor.models import Engagement, EngagementSnapshot, Mention

# SEISMIC's memory kernel, fitted on Twitter: flat for the first 5 minutes, then a
# power law with exponent 1 + theta. Normalised, so `kernel_cdf` is the share of a
# reshare's eventual effect that has happened `s` minutes after it.
KERNEL_PLATEAU_MINUTES = 5.0
KERNEL_THETA = 0.242

# Branching factor cap: an estimate at or above 1 (supercritical) would predict an
# infinite cascade; capping keeps "very large" finite and comparable.
MAX_BRANCHING = 0.95

# Prior on the branching factor, worth PRIOR_RESHARES observed reshares. A handful of
# reshares of a small account's post says little: without the prior, 3 reshares of a
# 600-follower post read as a supercritical cascade. With it, the estimate moves from the
# prior to the data as reshares accumulate (a Gamma-Poisson posterior mean).
PRIOR_BRANCHING = 0.25
PRIOR_RESHARES = 5.0

# Predictions are for the engagement a post will have after this long. The power-law
# kernel's tail is long (about 15% of a reshare's effect comes after three days), so
# "final" needs a horizon to be a number one can check.
HORIZON_MINUTES = 72 * 60.0


@dataclass(frozen=True)
class SourceProfile:
    """What one engagement on a platform is worth for spreading.

    `mean_degree`: typical followers of someone who reshares, i.e. how many people a
    reshare exposes. `audience_floor`: exposure assumed for an author with no (or no
    known) followers, such as a subreddit post or an app-store review page.
    `spreads`: whether engagement on this platform carries the post to new people at all
    (an app review does not get reshared).
    """

    mean_degree: float
    audience_floor: float
    spreads: bool = True


SOURCE_PROFILES: dict[str, SourceProfile] = {
    "x": SourceProfile(mean_degree=800, audience_floor=50),
    "bluesky": SourceProfile(mean_degree=300, audience_floor=30),
    "mastodon": SourceProfile(mean_degree=200, audience_floor=30),
    "threads": SourceProfile(mean_degree=500, audience_floor=50),
    # Reddit has no followers: an upvote lifts the post for the subreddit's readers.
    "reddit": SourceProfile(mean_degree=50, audience_floor=2000),
    "appstore": SourceProfile(mean_degree=0, audience_floor=500, spreads=False),
    "googleplay": SourceProfile(mean_degree=0, audience_floor=500, spreads=False),
}
DEFAULT_PROFILE = SourceProfile(mean_degree=300, audience_floor=50)


def profile_for(source: str) -> SourceProfile:
    return SOURCE_PROFILES.get(source, DEFAULT_PROFILE)


def kernel_cdf(minutes: np.ndarray | float, theta: float = KERNEL_THETA,
               plateau: float = KERNEL_PLATEAU_MINUTES) -> np.ndarray:
    """Share of a reshare's eventual effect that has happened after `minutes` (0 before it)."""
    s = np.maximum(np.asarray(minutes, dtype=float), 0.0)
    head = theta / (1 + theta)  # mass of the flat first `plateau` minutes
    with np.errstate(divide="ignore"):
        tail = 1.0 - np.power(np.maximum(s, plateau) / plateau, -theta) / (1 + theta)
    return np.where(s <= plateau, head * s / plateau, tail)


def propagating(engagement: Engagement) -> int:
    """The part of engagement that shows the post to new people: reposts, quotes, upvotes."""
    return engagement.reposts + engagement.quotes + max(engagement.score, 0)


@dataclass(frozen=True)
class Forecast:
    """The prediction made at one snapshot."""

    at: datetime
    engagement: float  # weighted engagement so far
    predicted_final: float  # weighted engagement expected by HORIZON_MINUTES after posting
    branching: float  # estimated reshares caused by each reshare (capped at MAX_BRANCHING)
    rate_per_exposure: float  # weighted engagement per person exposed: the post's infectiousness


@dataclass(frozen=True)
class ForecastArrays:
    """`forecast_counts` output, one entry per snapshot."""

    engagement: np.ndarray
    predicted_final: np.ndarray
    branching: np.ndarray
    rate_per_exposure: np.ndarray


def forecast_counts(
    minutes: Sequence[float] | np.ndarray,
    spreading: Sequence[float] | np.ndarray,
    total: Sequence[float] | np.ndarray,
    author_followers: float,
    profile: SourceProfile = DEFAULT_PROFILE,
    horizon_minutes: float = HORIZON_MINUTES,
) -> ForecastArrays:
    """Predicted final engagement at each snapshot of one post (snapshots oldest first).

    `minutes` since posting, with the cumulative propagating count (`spreading`) and
    weighted total at each. Each prediction uses only the snapshots up to it, so the
    series can be computed at once or snapshot by snapshot with the same result.
    """
    t = np.maximum(np.asarray(minutes, dtype=float), 0.0)
    n = len(t)
    # Counts are cumulative; a dip (an unlike, a deleted reply) is not negative engagement.
    r = np.maximum.accumulate(np.maximum(np.asarray(spreading, dtype=float), 0.0)) if n else np.zeros(0)
    e = np.maximum.accumulate(np.maximum(np.asarray(total, dtype=float), 0.0)) if n else np.zeros(0)
    if n == 0:
        empty = np.zeros(0)
        return ForecastArrays(empty, empty, empty, empty)

    reach = max(float(author_followers), profile.audience_floor)
    degree = profile.mean_degree if profile.spreads else 0.0
    previous = np.concatenate([[0.0], t[:-1]])
    mid = (previous + t) / 2  # reshares seen in an interval are placed at its middle
    new_reshares = np.diff(np.concatenate([[0.0], r]))

    # exposure[j] = people exposed up to snapshot j; remaining[j] = exposure still to come
    # by the horizon from everything that has already happened.
    lag = t[:, None] - mid[None, :]
    seen = np.tril(np.ones((n, n), dtype=bool))
    done_k = np.where(seen, kernel_cdf(lag), 0.0)
    final_k = kernel_cdf(horizon_minutes - mid)[None, :] * seen
    exposure = reach * kernel_cdf(t) + degree * done_k @ new_reshares
    remaining = reach * (kernel_cdf(horizon_minutes) - kernel_cdf(t)) + degree * (final_k - done_k) @ new_reshares
    remaining = np.maximum(remaining, 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(exposure > 0, e / exposure, 0.0)
    branching = np.zeros(n)
    if degree > 0:
        # Posterior mean of reshares per exposed person, times the audience of a reshare.
        prior_exposure = PRIOR_RESHARES * degree / PRIOR_BRANCHING
        branching = np.minimum(degree * (r + PRIOR_RESHARES) / (exposure + prior_exposure), MAX_BRANCHING)
    # Reshares still to come expose more people, who reshare in turn: a geometric series,
    # limited to the share of each new generation's effect that lands before the horizon.
    amplification = 1.0 / (1.0 - branching * kernel_cdf(horizon_minutes - t))
    predicted = e + rate * remaining * amplification
    return ForecastArrays(e, predicted, branching, rate)


def forecast(mention: Mention, snapshots: Sequence[EngagementSnapshot],
             horizon_minutes: float = HORIZON_MINUTES) -> list[Forecast]:
    """One `Forecast` per snapshot of `mention` (snapshots oldest first)."""
    if not snapshots:
        return []
    minutes = [(s.observed_at - mention.created_at).total_seconds() / 60 for s in snapshots]
    arrays = forecast_counts(
        minutes,
        [propagating(s.engagement) for s in snapshots],
        [s.engagement.total for s in snapshots],
        mention.author_followers,
        profile_for(mention.source),
        horizon_minutes,
    )
    return [
        Forecast(s.observed_at, float(arrays.engagement[i]), float(arrays.predicted_final[i]),
                 float(arrays.branching[i]), float(arrays.rate_per_exposure[i]))
        for i, s in enumerate(snapshots)
    ]
