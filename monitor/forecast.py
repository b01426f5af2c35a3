"""How far will a post spread? A growth model fitted on real retweet cascades.

In the spirit of Szabo & Huberman (2010): a post's final size is its size now times a
growth factor that depends on its age. Two things make it better than their single factor
per age, and both were kept only because they lowered the out-of-fold error on real
cascades (`benchmarks/fit_spread.py`):

* the factor also depends on the post's recent momentum, its rate over the last 5, 15,
  30 and 60 minutes relative to its average rate since posting (a post still accelerating
  grows more than one that has stalled at the same size); it deliberately does not depend
  on size, see `features`;
* instead of one factor, three quantiles of it (10th, 50th, 90th percentile) are fitted
  by quantile regression, so every forecast comes with a band and a probability of
  reaching any level (`probability_at_least`).

The model works in log space, log(1 + final) - log(1 + now), and its coefficients vary
smoothly with the post's age (piecewise linear in log-age between knots from 5 minutes
to 2 days), so a forecast at 37 minutes is between those at 20 and 40, never an artefact
of one age's fit. All features are ratios or logs of Earshot's weighted engagement, so the
same model applies to any count a platform gives, though its shapes come from X retweet
cascades (the only real cascades with timing we have). The fitted coefficients, the data
and the out-of-fold figures ship in `monitor/spread_model.json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)
MAX_MOMENTUM = 6.0
_Z90 = 1.2815515655446004  # the standard normal's 90th percentile


@dataclass(frozen=True)
class GrowthModel:
    """Quantile regressions of log growth on momentum features, with coefficients per age knot."""

    knots_minutes: tuple[float, ...]  # ages at which coefficients are fitted
    lags_minutes: tuple[float, ...]  # momentum: rate over each of these last minutes / lifetime rate
    coefficients: dict[float, np.ndarray]  # quantile -> (features, knots)
    provenance: dict

    @property
    def n_features(self) -> int:
        return 1 + len(self.lags_minutes)  # intercept, one share per lag

    def features(self, minutes: np.ndarray, engagement: np.ndarray) -> np.ndarray:
        """(snapshots, features) for one post: 1 and its momentum over each lag."""
        return features(minutes, engagement, self.lags_minutes)

    def _basis(self, minutes: np.ndarray) -> np.ndarray:
        """Hat functions over log-age: each age's weight on the knots either side of it."""
        knots = np.log(np.asarray(self.knots_minutes))
        age = np.clip(np.log(np.maximum(minutes, 1e-9)), knots[0], knots[-1])
        eye = np.eye(len(knots))
        return np.stack([np.interp(age, knots, eye[k]) for k in range(len(knots))], axis=-1)

    def design(self, minutes: np.ndarray, engagement: np.ndarray) -> np.ndarray:
        """(snapshots, features x knots): the features spread over the age knots."""
        x = self.features(minutes, engagement)
        b = self._basis(minutes)
        return np.einsum("ij,ik->ijk", x, b).reshape(len(minutes), -1)

    def log_growth(self, minutes: np.ndarray, engagement: np.ndarray) -> dict[float, np.ndarray]:
        """Quantiles of log(1 + final) - log(1 + now) at each snapshot: never negative, never crossing,
        never beyond the largest growth seen in fitting."""
        z = self.design(minutes, engagement)
        raw = np.stack([z @ self.coefficients[q].reshape(-1) for q in QUANTILES])
        top = float(self.provenance.get("max_log_growth", np.inf))
        ordered = np.maximum.accumulate(np.clip(raw, 0.0, top), axis=0)
        return dict(zip(QUANTILES, ordered, strict=True))

    def to_json(self) -> dict:
        return {
            "knots_minutes": list(self.knots_minutes),
            "lags_minutes": list(self.lags_minutes),
            "coefficients": {str(q): c.round(6).tolist() for q, c in self.coefficients.items()},
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: dict) -> GrowthModel:
        model = cls(tuple(data["knots_minutes"]), tuple(data["lags_minutes"]),
                    {float(q): np.asarray(c, dtype=float) for q, c in data["coefficients"].items()},
                    data.get("provenance", {}))
        shape = (model.n_features, len(model.knots_minutes))
        if set(model.coefficients) != set(QUANTILES) or any(c.shape != shape for c in model.coefficients.values()):
            raise ValueError(f"growth model needs quantiles {QUANTILES} with coefficients of shape {shape}")
        return model


def features(minutes: np.ndarray, engagement: np.ndarray, lags: tuple[float, ...]) -> np.ndarray:
    """Momentum at each snapshot of one post (minutes since posting, ascending).

    For each lag, the post's rate over its last `lag` minutes relative to its average rate
    since posting: above 1 it is accelerating, below 1 slowing down, 0 stalled. While a
    post is younger than the lag, both rates are the same and the feature is 1, as it is
    for a post with no engagement yet, so a quiet young post is never read as a stalled or
    a racing one. Clipped at `MAX_MOMENTUM`, beyond which the fit has too few examples.

    There is deliberately no size feature: the growth factor is scale-free (as in
    Szabo & Huberman), which is what lets a model fitted on widely shared cascades
    forecast an ordinary post (see `benchmarks/fit_spread.py` on selection).

    The engagement `lag` minutes earlier is read off the post's curve by linear
    interpolation between snapshots, with no engagement at the moment of posting, so
    irregular polls give the same features as regular ones would.
    """
    t = np.asarray(minutes, dtype=float)
    e = np.maximum.accumulate(np.maximum(np.asarray(engagement, dtype=float), 0.0))
    curve_t, curve_e = np.concatenate([[0.0], t]), np.concatenate([[0.0], e])
    cols = [np.ones(len(t))]
    with np.errstate(divide="ignore", invalid="ignore"):
        for lag in lags:
            span = np.minimum(lag, t)
            gained = e - np.interp(t - span, curve_t, curve_e)
            momentum = np.where(e > 0, (gained / span) / (e / t), 1.0)
            cols.append(np.clip(momentum, 0.0, MAX_MOMENTUM))
    return np.column_stack(cols)


@cache
def default_model() -> GrowthModel:
    """The model fitted on real cascades that ships with Earshot (`benchmarks/fit_spread.py` writes it)."""
    text = (resources.files("monitor") / "spread_model.json").read_text(encoding="utf-8")
    return GrowthModel.from_json(json.loads(text))


@dataclass(frozen=True)
class Forecast:
    """Final-size forecast at each snapshot of one post, in the units of its engagement."""

    engagement: np.ndarray  # engagement so far (cumulative, dips ignored)
    low: np.ndarray  # 10th percentile of the final size
    median: np.ndarray
    high: np.ndarray  # 90th percentile
    log_now: np.ndarray
    log_growth: dict[float, np.ndarray]

    def probability_at_least(self, level: float | np.ndarray) -> np.ndarray:
        """P(final >= level) at each snapshot."""
        return probability_at_least(self.log_now, self.log_growth, np.broadcast_to(level, self.log_now.shape))


def probability_at_least(log_now: np.ndarray, growth: dict[float, np.ndarray], level: np.ndarray) -> np.ndarray:
    """P(final >= level) per row, from the growth quantiles read as a two-piece normal in log space.

    At or past the level already: 1. An unknown level (nan): 0.
    """
    need = np.log1p(np.nan_to_num(np.asarray(level, dtype=float), nan=np.inf)) - log_now
    mid = growth[0.5]
    spread = np.where(need >= mid, growth[0.9] - mid, mid - growth[0.1]) / _Z90
    with np.errstate(invalid="ignore"):
        p = normal_sf((need - mid) / np.maximum(spread, 1e-6))
    return np.where(need <= 0, 1.0, np.where(np.isfinite(need), p, 0.0))


def normal_sf(z: np.ndarray) -> np.ndarray:
    """P(Z > z) for a standard normal, vectorised (Abramowitz & Stegun 7.1.26, error < 1.5e-7)."""
    x = np.abs(np.asarray(z, dtype=float)) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    tail = 0.5 * poly * np.exp(-x * x)  # P(Z > |z|)
    return np.where(np.asarray(z) >= 0, tail, 1.0 - tail)


def forecast(minutes: np.ndarray, engagement: np.ndarray, model: GrowthModel | None = None) -> Forecast:
    """The forecast at each snapshot of one post; each uses only the snapshots up to it."""
    model = model or default_model()
    t = np.asarray(minutes, dtype=float)
    e = np.maximum.accumulate(np.maximum(np.asarray(engagement, dtype=float), 0.0)) if len(t) else np.zeros(0)
    growth = model.log_growth(t, e) if len(t) else {q: np.zeros(0) for q in QUANTILES}
    log_now = np.log1p(e)
    final = {q: np.expm1(log_now + g) for q, g in growth.items()}
    return Forecast(e, final[0.1], final[0.5], final[0.9], log_now, growth)


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """`np.interp` row by row: x (n, m) into each row's own ascending xp (n, k) / fp (n, k); x >= xp[:, 0]."""
    k = xp.shape[1]
    j = np.clip((xp[:, None, :] <= x[:, :, None]).sum(axis=2) - 1, 0, k - 2)
    rows = np.arange(len(x))[:, None]
    x0, x1, y0, y1 = xp[rows, j], xp[rows, j + 1], fp[rows, j], fp[rows, j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (y1 - y0) / (x1 - x0) * (x - x0) + y0
    out = np.where(x == x0, y0, out)
    return np.where(x >= xp[:, -1:], fp[:, -1:], out)


@dataclass(frozen=True)
class Forecasts:
    """The forecasts of many posts as flat arrays: every post's snapshots one after the other, in
    the order the posts were given (post i's rows are `offsets[i]:offsets[i + 1]`).

    Detection over a big brand's week forecasts some hundred thousand posts; one `Forecast` per
    post (seven small arrays and a dict each) was most of the memory detection held.
    """

    offsets: np.ndarray
    engagement: np.ndarray
    low: np.ndarray
    median: np.ndarray
    high: np.ndarray
    log_now: np.ndarray
    log_growth: dict[float, np.ndarray]

    @classmethod
    def of(cls, forecasts: Sequence[Forecast]) -> Forecasts:
        """One `Forecast` per post, laid out flat (benchmarks pass forecasts fitted without the post)."""
        offsets = np.concatenate([[0], np.cumsum([len(f.median) for f in forecasts])]).astype(np.int64)
        flat = [np.concatenate([getattr(f, name) for f in forecasts]) for name in
                ("engagement", "low", "median", "high", "log_now")]
        return cls(offsets, *flat, {q: np.concatenate([f.log_growth[q] for f in forecasts]) for q in QUANTILES})

    def post(self, i: int) -> Forecast:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return Forecast(self.engagement[a:b], self.low[a:b], self.median[a:b], self.high[a:b], self.log_now[a:b],
                        {q: g[a:b] for q, g in self.log_growth.items()})


def forecast_flat(curves: Sequence[tuple[np.ndarray, np.ndarray]], model: GrowthModel | None = None) -> Forecasts:
    """`forecast` for many posts at once, as numpy arrays over all posts with the same number of snapshots.

    Detecting over a day of a big brand forecasts a hundred thousand posts; one at a time, the
    per-call overhead of a dozen small numpy operations was most of detection's time.
    """
    model = model or default_model()
    lengths = np.fromiter((len(t) for t, _ in curves), dtype=np.int64, count=len(curves))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = int(offsets[-1])
    out_e, out_low, out_mid, out_high, out_now = (np.zeros(rows) for _ in range(5))
    out_growth = {q: np.zeros(rows) for q in QUANTILES}
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(lengths.tolist()):
        if n:
            by_length.setdefault(n, []).append(i)
    top = float(model.provenance.get("max_log_growth", np.inf))
    knots = np.log(np.asarray(model.knots_minutes))
    eye = np.eye(len(knots))
    coefficients = np.stack([model.coefficients[q].reshape(-1) for q in QUANTILES], axis=1)
    for length, members in by_length.items():
        t = np.array([np.asarray(curves[i][0], dtype=float) for i in members])
        e = np.maximum.accumulate(np.maximum(np.array([np.asarray(curves[i][1], dtype=float) for i in members]),
                                             0.0), axis=1)
        curve_t = np.concatenate([np.zeros((len(t), 1)), t], axis=1)
        curve_e = np.concatenate([np.zeros((len(t), 1)), e], axis=1)
        cols = [np.ones_like(t)]
        with np.errstate(divide="ignore", invalid="ignore"):
            for lag in model.lags_minutes:
                span = np.minimum(lag, t)
                gained = e - _interp_rows(t - span, curve_t, curve_e)
                momentum = np.where(e > 0, (gained / span) / (e / t), 1.0)
                cols.append(np.clip(momentum, 0.0, MAX_MOMENTUM))
        x = np.stack(cols, axis=-1)  # (posts, snapshots, features)
        age = np.clip(np.log(np.maximum(t, 1e-9)), knots[0], knots[-1])
        basis = np.stack([np.interp(age, knots, eye[k]) for k in range(len(knots))], axis=-1)
        z = np.einsum("psj,psk->psjk", x, basis).reshape(len(t), length, -1)
        raw = np.moveaxis(z @ coefficients, -1, 0)  # (quantiles, posts, snapshots)
        ordered = np.maximum.accumulate(np.clip(raw, 0.0, top), axis=0)
        log_now = np.log1p(e)
        final = np.expm1(log_now[None] + ordered)
        # Where each member's rows go in the flat arrays.
        at = (offsets[np.asarray(members)][:, None] + np.arange(length)[None, :]).ravel()
        out_e[at], out_now[at] = e.ravel(), log_now.ravel()
        out_low[at], out_mid[at], out_high[at] = final[0].ravel(), final[1].ravel(), final[2].ravel()
        for n, q in enumerate(QUANTILES):
            out_growth[q][at] = ordered[n].ravel()
    return Forecasts(offsets, out_e, out_low, out_mid, out_high, out_now, out_growth)
