"""Simulated cascades: a marked Hawkes process with SEISMIC's power-law memory kernel.

Every post starts with its author exposing it to their followers; each exposed person
may like, reply or reshare, and each reshare exposes the resharer's own followers. A
post's infectiousness and the resharers' audiences set its branching factor (reshares
caused per reshare). Follower counts are heavy-tailed and drawn per resharer, which the
detector never sees: it only gets the counts at snapshots, as a platform API gives them.
That, plus per-post kernel exponents and audiences that differ from the detector's
source profiles, keeps the estimator from being tested on its own assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HORIZON_MINUTES = 72 * 60.0


@dataclass(frozen=True)
class SourceTruth:
    """How a simulated platform really behaves (the detector's profile is only a guess of it)."""

    resharer_median_followers: float
    resharer_sigma: float  # log-normal spread of resharers' followers: the heavy tail


SOURCES: dict[str, tuple[float, SourceTruth]] = {  # name: (share of posts, truth)
    "x": (0.6, SourceTruth(250, 1.5)),
    "bluesky": (0.25, SourceTruth(100, 1.4)),
    "mastodon": (0.15, SourceTruth(80, 1.3)),
}


@dataclass(frozen=True)
class CascadeSpec:
    source: str
    author_followers: int
    branching: float  # expected reshares caused by one reshare
    theta: float  # kernel exponent
    plateau: float  # kernel's flat head, minutes
    likes_per_reshare: float
    replies_per_reshare: float
    quote_share: float
    resharer_median: float
    resharer_sigma: float

    @property
    def mean_resharer_followers(self) -> float:
        return self.resharer_median * float(np.exp(self.resharer_sigma**2 / 2))

    @property
    def reshare_per_exposure(self) -> float:
        return self.branching / self.mean_resharer_followers


@dataclass
class Cascade:
    """Event times (minutes since posting) by kind, up to the horizon."""

    spec: CascadeSpec
    reposts: np.ndarray
    quotes: np.ndarray
    likes: np.ndarray
    replies: np.ndarray

    def counts_at(self, minutes: np.ndarray) -> dict[str, np.ndarray]:
        return {kind: np.searchsorted(np.sort(getattr(self, kind)), minutes, side="right")
                for kind in ("likes", "reposts", "replies", "quotes")}

    def weighted_at(self, minutes: np.ndarray) -> np.ndarray:
        """Earshot's `Engagement.total` at each time: likes + 2 x (reposts + quotes) + replies."""
        c = self.counts_at(minutes)
        return c["likes"] + 2 * (c["reposts"] + c["quotes"]) + c["replies"]

    @property
    def final(self) -> int:
        return len(self.likes) + 2 * (len(self.reposts) + len(self.quotes)) + len(self.replies)

    def half_time(self) -> float:
        """Minutes until the post has half of its final weighted engagement."""
        times = np.concatenate([self.likes, self.replies, self.reposts, self.reposts, self.quotes, self.quotes])
        if len(times) == 0:
            return float("inf")
        times.sort()
        return float(times[int(np.ceil(len(times) / 2)) - 1])


def sample_delays(rng: np.random.Generator, size: int, theta: float, plateau: float) -> np.ndarray:
    """Inverse-CDF draws from the normalised SEISMIC kernel (flat head, power-law tail)."""
    u = rng.random(size)
    head = theta / (1 + theta)
    tail = plateau * np.power(np.maximum((1 - u) * (1 + theta), 1e-300), -1 / theta)
    return np.where(u <= head, u / head * plateau, tail)


AUTHOR_MEDIAN_FOLLOWERS = 1500.0
AUTHOR_SIGMA = 1.9


def draw_spec(rng: np.random.Generator, author_median: float = AUTHOR_MEDIAN_FOLLOWERS) -> CascadeSpec:
    """One post's hidden parameters: who wrote it, how catchy it is, how its platform behaves."""
    names = list(SOURCES)
    shares = np.array([SOURCES[n][0] for n in names])
    source = names[rng.choice(len(names), p=shares / shares.sum())]
    truth = SOURCES[source][1]
    followers = int(np.clip(rng.lognormal(np.log(author_median), AUTHOR_SIGMA), 0, 5_000_000))
    return CascadeSpec(
        source=source,
        author_followers=followers,
        branching=float(0.95 * rng.beta(1.5, 3.5)),
        theta=float(rng.uniform(0.18, 0.32)),
        plateau=float(rng.uniform(3, 8)),
        likes_per_reshare=float(rng.lognormal(np.log(4), 0.5)),
        replies_per_reshare=float(rng.lognormal(np.log(0.6), 0.6)),
        quote_share=float(rng.uniform(0.05, 0.2)),
        resharer_median=float(truth.resharer_median_followers * rng.lognormal(0, 0.4)),
        resharer_sigma=truth.resharer_sigma,
    )


def simulate(spec: CascadeSpec, rng: np.random.Generator, horizon: float = HORIZON_MINUTES,
             max_reshares: int = 200_000) -> Cascade:
    """Generation by generation: each spreader's followers yield reshares, likes and replies."""
    p = spec.reshare_per_exposure
    spreaders_t = np.array([0.0])
    spreaders_n = np.array([float(spec.author_followers)])
    reshares, likes, replies = [], [], []
    total = 0
    while len(spreaders_t) and total < max_reshares:
        exposure = spreaders_n * p
        n_children = rng.poisson(exposure)
        n_likes = rng.poisson(exposure * spec.likes_per_reshare)
        n_replies = rng.poisson(exposure * spec.replies_per_reshare)
        for counts, out in ((n_likes, likes), (n_replies, replies)):
            parents = np.repeat(spreaders_t, counts)
            t = parents + sample_delays(rng, len(parents), spec.theta, spec.plateau)
            out.append(t[t <= horizon])
        parents = np.repeat(spreaders_t, n_children)
        t = parents + sample_delays(rng, len(parents), spec.theta, spec.plateau)
        t = t[t <= horizon]
        reshares.append(t)
        total += len(t)
        spreaders_t = t
        spreaders_n = rng.lognormal(np.log(spec.resharer_median), spec.resharer_sigma, len(t))
    all_reshares = np.concatenate(reshares) if reshares else np.zeros(0)
    is_quote = rng.random(len(all_reshares)) < spec.quote_share
    return Cascade(
        spec=spec,
        reposts=np.sort(all_reshares[~is_quote]),
        quotes=np.sort(all_reshares[is_quote]),
        likes=np.sort(np.concatenate(likes)) if likes else np.zeros(0),
        replies=np.sort(np.concatenate(replies)) if replies else np.zeros(0),
    )


def snapshot_minutes(horizon: float = HORIZON_MINUTES, every: float = 5.0, first: float | None = None) -> np.ndarray:
    """When a poller looks at a post: every `every` minutes for 6 hours, then every 30, then hourly.

    A search poller first sees a post at its next run after the post was created, so
    `first` (minutes after posting) lies anywhere in (0, every]; None means `every`, the
    latest possible first look. Backing off is what a real poller does to stay inside API
    quotas once a post is old.
    """
    start = every if first is None else first
    head = np.arange(start, 6 * 60 + 1e-9, every)
    middle = np.arange(6 * 60 + 30, 24 * 60 + 1e-9, 30.0)
    late = np.arange(25 * 60, horizon + 1e-9, 60.0)
    return np.concatenate([head, middle, late])
