"""The normalised records every stage of Earshot passes along.

A source turns whatever its platform returns into `Mention` and `EngagementSnapshot`;
everything downstream (sentiment, spread detection, alerts, stores, the web UI) only
ever sees these. Keeping them in one small module is what lets a new source be "one
class plus a config entry".
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC so comparisons never mix naive and aware times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _as_utc(value)


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
        """One number for "how much are people interacting", used for velocity."""
        return engagement_total(self.likes, self.reposts, self.replies, self.quotes, self.score)


def engagement_total(likes: int, reposts: int, replies: int, quotes: int, score: int) -> int:
    """`Engagement.total` of these counts. Reposts and quotes carry a post to new audiences, so
    they weigh more than a like; a net-negative vote score adds nothing."""
    return likes + 2 * (reposts + quotes) + replies + max(score, 0)


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
    # False when the platform did not say (no `public_metrics`, a hidden score): `engagement` is then
    # a placeholder, not zeros. Sources make no snapshot of unknown engagement, so it can neither
    # lower a spread baseline nor look like a post that stopped growing.
    engagement_known: bool = True
    rating: int | None = Field(None, ge=1, le=5)
    app_version: str | None = None  # for app-store reviews: which release the reviewer ran
    sentiment: Sentiment | None = None
    # What a negative post is about (billing, outage, ...) and the team that owns that topic,
    # tagged after sentiment (monitor/topics.py) so an alert can be routed when it is raised.
    topic: str | None = None
    team: str | None = None
    # The mention id of the post this one quotes (`x:123`): a quote is a new voice about another post.
    refers_to: str | None = None
    author_verified: bool | None = None  # None: the platform did not say
    nsfw: bool = False  # the platform marks the post adult-only (Reddit's over_18)
    # A tombstone: the post was deleted, its author suspended, or it is no longer public. Its text,
    # author and URL are purged; the row stays so counts and the triage history stay whole.
    removed: str | None = None  # why: deleted / removed / suspended / protected / not_found / retention / forgotten
    removed_at: datetime | None = None

    _utc = field_validator("created_at")(_as_utc)
    _utc_removed = field_validator("removed_at")(_as_utc_or_none)

    @staticmethod
    def make_id(source: str, native_id: str) -> str:
        return f"{source}:{native_id}"

    @property
    def is_negative(self) -> bool:
        """Negative for alerting: negative text, or a 1–2 star review whatever its text says."""
        return counts_as_negative(self.rating, self.sentiment.label if self.sentiment is not None else None)


def counts_as_negative(rating: int | None, label: SentimentLabel | None) -> bool:
    """`Mention.is_negative`'s rule, for a post known by its rating and sentiment label alone."""
    return (rating is not None and rating <= 2) or label == SentimentLabel.negative


class UnscoredPost(NamedTuple):
    """What scoring reads of a mention, and no more: a store reads a run's pending posts as these
    rather than as whole `Mention`s (building a `Mention` for every row read cost about 2 s of the
    4 s scoring takes at 100,000 posts without the model). A `Mention` has the same attributes, so
    either can be scored."""

    id: str
    text: str
    title: str | None = None
    lang: str | None = None
    rating: int | None = None

    @classmethod
    def of(cls, mention: Mention) -> UnscoredPost:
        return cls(mention.id, mention.text, mention.title, mention.lang, mention.rating)


class EngagementSnapshot(BaseModel):
    """Engagement of one mention as observed at one moment; the series shows how fast it spreads."""

    model_config = ConfigDict(extra="forbid")

    mention_id: str
    observed_at: datetime
    engagement: Engagement

    _utc = field_validator("observed_at")(_as_utc)


class Reading(NamedTuple):
    """An `EngagementSnapshot` of a known post as its time and counts, and no more: spread
    detection reads the snapshots of every copy cluster in its window each run and sums them
    field by field (`monitor.noise.clusters.merge_copies`), tens of thousands of them at 100,000
    posts, where building and validating two models per snapshot was half the cost."""

    observed_at: datetime
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    score: int = 0

    @classmethod
    def of(cls, snapshot: EngagementSnapshot) -> Reading:
        e = snapshot.engagement
        return cls(snapshot.observed_at, e.likes, e.reposts, e.replies, e.quotes, e.score)

    @property
    def total(self) -> int:
        return engagement_total(self.likes, self.reposts, self.replies, self.quotes, self.score)


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
    health = "health"  # the pipeline itself: a failing or silent source, errors climbing, an outbox growing
    theme = "theme"  # a complaint theme that is new or growing fast (monitor/themes/)


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
    assignee: str | None = None  # a person or a team
    # Handling times, stamped by the store as the triage trail grows (monitor/triage.py), so
    # time-to-first-response and time-to-resolve are a subtraction, not a replay of events.
    first_response_at: datetime | None = None  # first triage action of any kind (state, assignment, note)
    acknowledged_at: datetime | None = None  # first time acknowledged
    resolved_at: datetime | None = None  # cleared when the alert is reopened
    dismissed_at: datetime | None = None  # cleared when the alert is reopened

    _utc = field_validator("created_at")(_as_utc)
    _utc_handling = field_validator("first_response_at", "acknowledged_at", "resolved_at", "dismissed_at")(
        _as_utc_or_none
    )

    @staticmethod
    def make_id(mention_id: str, severity: Severity) -> str:
        return f"{mention_id}:{severity.value}"


class AlertEventKind(StrEnum):
    state = "state"  # moved from `from_state` to `to_state`
    assignment = "assignment"  # `assignee` is the new assignee (None: unassigned)
    note = "note"  # a comment in `text`; changes nothing else
    spam = "spam"  # a person's verdict on the post's spam flag, in `text` ("not spam" / "spam"); see monitor/noise
    # Replies posted on the platform (monitor/replies/): the attempt is recorded *before* the
    # platform is called (`text` is the reply), then its outcome: `reply_posted` (`text` is the
    # link to the posted reply; the alert's first response) or `reply_failed` (`text` says why).
    reply = "reply"
    reply_posted = "reply_posted"
    reply_failed = "reply_failed"


REPLY_KINDS = frozenset({AlertEventKind.reply, AlertEventKind.reply_posted, AlertEventKind.reply_failed})


class AlertEvent(BaseModel):
    """One entry of an alert's audit trail: who did what, and when.

    Events are only ever appended, never edited: the trail is the record of what the
    care team did, and the alert's state, assignee and handling times follow from it.
    A state event names the state it expects to leave (`from_state`), so two agents
    acting on the same alert at once cannot both win (the store checks it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid4().hex)
    alert_id: str
    at: datetime
    actor: str = Field(min_length=1, max_length=200)
    kind: AlertEventKind
    from_state: AlertState | None = None
    to_state: AlertState | None = None
    assignee: str | None = Field(None, max_length=200)
    text: str | None = Field(None, max_length=4000)  # the note, or the reason for a state change

    _utc = field_validator("at")(_as_utc)

    @model_validator(mode="after")
    def _complete(self) -> AlertEvent:
        if self.kind == AlertEventKind.state:
            if self.from_state is None or self.to_state is None:
                raise ValueError("a state event needs from_state and to_state")
            if self.to_state == AlertState.dismissed and not (self.text or "").strip():
                raise ValueError("dismissing an alert needs a reason")
        elif self.from_state is not None or self.to_state is not None:
            raise ValueError(f"a {self.kind.value} event has no from_state/to_state")
        if self.kind == AlertEventKind.note and not (self.text or "").strip():
            raise ValueError("a note needs text")
        if self.kind in REPLY_KINDS and not (self.text or "").strip():
            raise ValueError(f"a {self.kind.value} event needs text")
        if self.kind != AlertEventKind.assignment and self.assignee is not None:
            raise ValueError(f"a {self.kind.value} event has no assignee")
        return self
