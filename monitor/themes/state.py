"""A brand's usual themes, kept in the store between runs.

Why in the store's key-value cursors (`Store.get_cursor` / `set_cursor`, key
`themes:<brand>`): both stores (SQLite and Elasticsearch) already keep them durably, back
them up and copy them on `earshot reindex`, so "usual" survives restarts, workers and a
change of store without a schema change. One JSON document per brand: each usual theme's
direction (its centroid, float16, base64), its name, how many posts an hour it usually
gets (an exponentially weighted average over `usual_days`), when it was first and last
seen and last alerted; the brand's background term counts for naming; and the last step
judged, which makes a run that is repeated (a retried task) judge nothing twice.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["STATE_VERSION", "ThemeState", "UsualTheme", "state_key"]

STATE_VERSION = 1
MAX_BACKGROUND_TERMS = 5000


def state_key(brand: str) -> str:
    return f"themes:{brand}"


def _vec_out(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, dtype=np.float16).tobytes()).decode("ascii")


def _vec_in(s: str) -> np.ndarray:
    v = np.frombuffer(base64.b64decode(s), dtype=np.float16).astype(np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


@dataclass
class UsualTheme:
    id: str
    name: str
    centroid: np.ndarray
    rate_per_hour: float  # EWMA of posts per hour in the theme (0 while it is absent)
    posts_seen: float  # decayed total of posts seen in it before the current step
    first_seen: datetime
    last_seen: datetime
    alerted_at: datetime | None = None
    alerted_severity: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "centroid": _vec_out(self.centroid),
                "rate_per_hour": round(self.rate_per_hour, 6), "posts_seen": round(self.posts_seen, 4),
                "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
                "alerted_at": self.alerted_at.isoformat() if self.alerted_at else None,
                "alerted_severity": self.alerted_severity}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UsualTheme:
        return cls(d["id"], d["name"], _vec_in(d["centroid"]), float(d["rate_per_hour"]), float(d["posts_seen"]),
                   datetime.fromisoformat(d["first_seen"]), datetime.fromisoformat(d["last_seen"]),
                   datetime.fromisoformat(d["alerted_at"]) if d.get("alerted_at") else None,
                   d.get("alerted_severity"))


@dataclass
class ThemeState:
    """Everything the detector remembers about one brand."""

    model_id: str  # the encoder the centroids come from: another encoder's vectors are not comparable
    started: datetime  # first step judged: alerts wait for `warmup_hours` after it
    last_step: datetime | None = None
    themes: list[UsualTheme] = field(default_factory=list)
    background: dict[str, float] = field(default_factory=dict)  # term -> decayed count of posts using it
    background_docs: float = 0.0
    # The weight the rates' averages have gathered since `started` (1 - decay^steps): a rate
    # divided by it is the usual posts an hour, right from the first day (bias correction).
    weight: float = 0.0

    def usual_rate(self, theme: UsualTheme) -> float:
        return theme.rate_per_hour / self.weight if self.weight > 0 else 0.0

    def centroids(self) -> np.ndarray:
        if not self.themes:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([t.centroid for t in self.themes])

    def to_json(self) -> str:
        terms = sorted(self.background.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_BACKGROUND_TERMS]
        return json.dumps({
            "version": STATE_VERSION, "model_id": self.model_id, "started": self.started.isoformat(),
            "last_step": self.last_step.isoformat() if self.last_step else None,
            "themes": [t.to_json() for t in self.themes],
            "background": {k: round(v, 3) for k, v in terms}, "background_docs": round(self.background_docs, 3),
            "weight": self.weight,
        }, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> ThemeState:
        """Raises ValueError on anything but a state this version wrote (the caller starts afresh)."""
        try:
            d = json.loads(raw)
            if d.get("version") != STATE_VERSION:
                raise ValueError(f"theme state version {d.get('version')!r}, expected {STATE_VERSION}")
            return cls(d["model_id"], datetime.fromisoformat(d["started"]),
                       datetime.fromisoformat(d["last_step"]) if d.get("last_step") else None,
                       [UsualTheme.from_json(t) for t in d.get("themes", [])],
                       {str(k): float(v) for k, v in d.get("background", {}).items()},
                       float(d.get("background_docs", 0.0)), float(d.get("weight", 0.0)))
        except (KeyError, TypeError, json.JSONDecodeError, base64.binascii.Error) as exc:
            raise ValueError(f"unreadable theme state: {exc}") from exc
