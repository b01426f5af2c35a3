"""The normalised records every stage of Earshot passes along.

A source turns whatever its platform returns into `Mention` and `EngagementSnapshot`;
everything downstream (sentiment, spread detection, alerts, stores, the web UI) only
ever sees these. Keeping them in one small module is what lets a new source be "one
class plus a config entry".
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC so comparisons never mix naive and aware times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Engagement(BaseModel):
    """Public interaction counts at one moment. Platforms fill what they have; the rest stays 0."""

    model_config = ConfigDict(extra="forbid")

    likes: int = Field(0, ge=0)
    reposts: int = Field(0, ge=0)
    replies: int = Field(0, ge=0)
    quotes: int = Field(0, ge=0)
    score: int = 0  # Reddit-style net votes; can be negative

    @property
    def total(self) -> int:
        """One number for "how much are people interacting", used for velocity.

        Reposts and quotes carry a post to new audiences, so they weigh more than a like.
        """
        return self.likes + 2 * (self.reposts + self.quotes) + self.replies + max(self.score, 0)


class SentimentLabel(StrEnum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Sentiment(BaseModel):
    label: SentimentLabel
    score: float = Field(ge=-1.0, le=1.0)  # P(positive) - P(negative)
    model: str


class Mention(BaseModel):
    """One public post or review that matched a brand query.

    `id` is `source:native_id`, so the same post fetched twice is the same mention.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    source: str
    native_id: str
    url: str
    author_handle: str
    author_followers: int = Field(0, ge=0)
    text: str
    title: str | None = None
    lang: str | None = None
    created_at: datetime
    brand: str
    query: str
    engagement: Engagement = Field(default_factory=Engagement)
    rating: int | None = Field(None, ge=1, le=5)
    app_version: str | None = None  # for app-store reviews: which release the reviewer ran
    sentiment: Sentiment | None = None

    _utc = field_validator("created_at")(_as_utc)

    @staticmethod
    def make_id(source: str, native_id: str) -> str:
        return f"{source}:{native_id}"

    @property
    def is_negative(self) -> bool:
        """Negative for alerting: negative text, or a 1–2 star review whatever its text says."""
        if self.rating is not None and self.rating <= 2:
            return True
        return self.sentiment is not None and self.sentiment.label == SentimentLabel.negative


class EngagementSnapshot(BaseModel):
    """Engagement of one mention as observed at one moment; the series shows how fast it spreads."""

    model_config = ConfigDict(extra="forbid")

    mention_id: str
    observed_at: datetime
    engagement: Engagement

    _utc = field_validator("observed_at")(_as_utc)


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class AlertState(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    dismissed = "dismissed"


class AlertKind(StrEnum):
    spread = "spread"  # one post taking off
    storm = "storm"  # a brand's mention volume or negative share spiking


class Alert(BaseModel):
    """Something the care team should look at, and why.

    A spread alert's `id` is `mention_id:severity`: one alert per post per severity
    level, never a repeat. A storm alert concerns a brand, not one post (`mention_id` None).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: AlertKind = AlertKind.spread
    mention_id: str | None
    brand: str
    severity: Severity
    created_at: datetime
    reason: str
    velocity_per_min: float = 0.0
    baseline_per_min: float = 0.0
    state: AlertState = AlertState.open
    topic: str | None = None  # e.g. billing, delivery, outage: what the complaint is about
    team: str | None = None  # the team that owns the topic, suggested for assignment
    assignee: str | None = None

    _utc = field_validator("created_at")(_as_utc)

    @staticmethod
    def make_id(mention_id: str, severity: Severity) -> str:
        return f"{mention_id}:{severity.value}"
