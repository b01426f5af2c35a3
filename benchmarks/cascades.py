"""Real retweet cascades as a brand's stream of posts, polled the way a source polls them.

`../shared/data/cascades/twitter1516_dev.jsonl` holds retweet cascades from the
Twitter15/16 propagation trees: for each source tweet, the minutes after posting of every
retweet. They were picked because they were widely shared (every one has at least 55
retweets), so on their own they are no brand's stream: a brand's posts are mostly ordinary
ones that few people reshare. `brand_stream` mixes them with ordinary posts:

* `ORDINARY_PER_CASCADE` (9) ordinary posts per real cascade, so the real cascades are the
  most shared 10% of the brand's posts, and the benchmark's positives (the top 5% of the
  real cascades) its top 0.5%;
* an ordinary post ends with no retweet at all with probability `ORDINARY_SILENT` (0.6),
  else with s retweets, 1 <= s <= 54, P(s) proportional to s^-2 (retweet counts follow a
  power law with a tail exponent near 2);
* its retweets keep a real shape: s retweet times drawn without replacement from a random
  real cascade;
* posts are spread uniformly over `DAYS` (28) days, real and ordinary shuffled together.

Every retweet weighs 2 in Earshot's weighted engagement (`Engagement.total`), which is
what the detector sees. Used by `benchmarks.spread_real` and `benchmarks.fit_spread`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ORDINARY_PER_CASCADE = 9
ORDINARY_SILENT = 0.6
ORDINARY_MAX = 54  # one fewer than the smallest real cascade
DAYS = 28
POLL_MINUTES = 5.0
FOLLOW_MINUTES = 48 * 60.0
WEIGHT = 2  # Engagement.total counts a repost twice


def shared_data_dir() -> Path:
    """`$EARSHOT_SHARED_DATA` if set, else `<repo>/../shared/data` (the dev and CI layout)."""
    env = os.environ.get("EARSHOT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def default_cascades() -> Path:
    return shared_data_dir() / "cascades" / "twitter1516_dev.jsonl"


@dataclass(frozen=True)
class Cascade:
    id: str
    delays: np.ndarray  # minutes after posting of each retweet, sorted

    @property
    def final(self) -> int:
        return len(self.delays)


def load_cascades(path: str | Path) -> list[Cascade]:
    """One `Cascade` a line; a line that is not one is an error naming file and line."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                delays = np.sort(np.asarray(row["delays"], dtype=float))
                out.append(Cascade(str(row["id"]), delays))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: not a cascade ({exc})") from None
    if not out:
        raise ValueError(f"{path}: no cascades")
    return out


@dataclass(frozen=True)
class StreamPost:
    """One post of the simulated brand stream."""

    id: str
    posted: float  # minutes after the stream's start
    delays: np.ndarray  # minutes after posting of each retweet
    real: bool  # a real cascade (may be a positive) or an ordinary post (never one)

    @property
    def final(self) -> int:
        return len(self.delays)

    def polls(self, rng: np.random.Generator, every: float = POLL_MINUTES,
              until: float = FOLLOW_MINUTES) -> np.ndarray:
        """Minutes after posting of each poll: a poller first sees a post at a random moment of its interval."""
        return np.arange(rng.uniform(1e-6, every), until + 1e-9, every)

    def engagement_at(self, minutes: np.ndarray) -> np.ndarray:
        """Weighted engagement (2 per retweet) seen at each of `minutes`."""
        return WEIGHT * np.searchsorted(self.delays, minutes, side="right").astype(float)


def ordinary_sizes(n: int, rng: np.random.Generator) -> np.ndarray:
    sizes = np.arange(1, ORDINARY_MAX + 1)
    pmf = sizes ** -2.0
    drawn = rng.choice(sizes, size=n, p=pmf / pmf.sum())
    return np.where(rng.random(n) < ORDINARY_SILENT, 0, drawn)


def brand_stream(cascades: Sequence[Cascade], seed: int = 0, ordinary_per_cascade: int = ORDINARY_PER_CASCADE,
                 days: float = DAYS) -> list[StreamPost]:
    """The real cascades and their ordinary companions, in posting order."""
    rng = np.random.default_rng(seed)
    posts = [StreamPost(c.id, 0.0, c.delays, True) for c in cascades]
    for i, size in enumerate(ordinary_sizes(len(cascades) * ordinary_per_cascade, rng)):
        shape = cascades[int(rng.integers(len(cascades)))].delays
        delays = np.sort(rng.choice(shape, size=int(size), replace=False)) if size else np.zeros(0)
        posts.append(StreamPost(f"ordinary-{i}", 0.0, delays, False))
    times = np.sort(rng.uniform(0, days * 24 * 60, len(posts)))
    order = rng.permutation(len(posts))
    return [StreamPost(posts[j].id, float(t), posts[j].delays, posts[j].real) for t, j in zip(times, order, strict=True)]
