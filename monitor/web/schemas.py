"""Response and request models of the JSON API.

They are pydantic models (not plain dicts) so `/docs` and `/openapi.json` describe
exactly what a client gets back, and a change to the shape shows up in the schema.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.models import Alert, AlertEvent, AlertState, Mention

ApplyTo = Literal["alert", "post"]
APPLY_TO_DESCRIPTION = (
    "`alert`: this alert only. `post`: every alert of the same post for which the action makes sense "
    "(what the inbox card does when a post escalated from warning to critical)."
)


class AlertOut(Alert):
    """An alert with the post it is about, so a client needs one request, not two."""

    mention: Mention | None = Field(None, description="The post; None only if it was deleted from the store.")


class AlertDetailOut(AlertOut):
    """One alert with its audit trail and the other alerts of the same post (its escalation)."""

    events: list[AlertEvent] = Field(description="The audit trail, oldest first: who did what, and when.")
    related: list[Alert] = Field(description="The post's other alerts (other severities), lowest severity first.")


class StateChange(BaseModel):
    """Body of `POST /api/alerts/{alert_id}/state`: acknowledge, resolve, dismiss or reopen (`open`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"state": "acknowledged"},
        {"state": "dismissed", "reason": "Not about us: a different Brisa"},
    ]})

    state: AlertState
    reason: str | None = Field(None, max_length=4000, description="Why; required to dismiss.")
    apply_to: ApplyTo = Field("alert", description=APPLY_TO_DESCRIPTION)

    @model_validator(mode="after")
    def _reason(self) -> StateChange:
        if self.state == AlertState.dismissed and not (self.reason or "").strip():
            raise ValueError("dismissing an alert needs a reason")
        return self


class AssignmentIn(BaseModel):
    """Body of `POST /api/alerts/{alert_id}/assignee`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "Billing care"}]})

    assignee: str | None = Field(max_length=200, description="A person or a team; null or blank unassigns.")
    apply_to: ApplyTo = Field("alert", description=APPLY_TO_DESCRIPTION)


class NoteIn(BaseModel):
    """Body of `POST /api/alerts/{alert_id}/notes`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "Called the customer back."}]})

    text: str = Field(min_length=1, max_length=4000)


class DayCount(BaseModel):
    day: date
    alerts: int


class MetricsOut(BaseModel):
    """How the care team handled the alerts created in [since, until). Times are in minutes."""

    days: float
    since: datetime
    until: datetime
    alerts: int
    alerts_per_day: float
    open: int
    acknowledged: int
    resolved: int
    dismissed: int
    responded: int = Field(description="Alerts someone acted on (acknowledged, assigned, noted, resolved or dismissed).")
    median_first_response_minutes: float | None = Field(description="Created -> first action, median.")
    mean_first_response_minutes: float | None
    median_resolve_minutes: float | None = Field(description="Created -> resolved, median over resolved alerts.")
    mean_resolve_minutes: float | None
    resolution_rate: float | None = Field(description="Resolved / alerts not dismissed as noise (0-1).")
    dismissed_share: float | None = Field(description="Dismissed as noise / all alerts (0-1).")
    per_day: list[DayCount] = Field(description="Alerts created on each UTC day of the window.")


class TopicOut(BaseModel):
    name: str
    team: str | None


class TaxonomyOut(BaseModel):
    """The configured topics and teams: values for the `topic`, `team` and `assignee` filters."""

    topics: list[TopicOut]
    teams: list[str]


class TrendPointOut(BaseModel):
    bucket: datetime = Field(description="Start of the hour (UTC).")
    source: str
    label: str = Field(description="negative, neutral, positive or unscored.")
    count: int


class TrendOut(BaseModel):
    """Mentions per hour by source and sentiment over a window ending at `until`.

    `until` is the newest engagement observation, not the wall clock: a replayed
    recording then shows its own hours instead of an empty chart.
    """

    hours: int
    since: datetime
    until: datetime
    points: list[TrendPointOut]


class StatsOut(BaseModel):
    mentions: int
    snapshots: int
    alerts: dict[AlertState, int] = Field(description="Number of alerts in each state.")
    open_alerts: int
    latest_observation: datetime | None = Field(description="Newest engagement snapshot: the pipeline's 'now'.")


class InboxOut(BaseModel):
    """One page of the inbox: a case per post (or storm), as the inbox page shows them."""

    cases: list[AlertOut] = Field(description="Each case's primary alert (its post's most severe open or "
                                              "acknowledged alert), with its post; open cases first.")
    counts: dict[AlertState, int] = Field(description="Cases matching the filters (but `state`), per case state.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class MentionPageOut(BaseModel):
    """One page of a mention search."""

    mentions: list[Mention]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next: str | None = Field(description="The next page's address (this search and its cursor); null on the last.")


class Health(BaseModel):
    status: str = "ok"


class QuarantinedOut(BaseModel):
    """A record set aside because it could not be read or stored (see `earshot quarantine`)."""

    source: str
    where: str = Field(description="Position in the source: file and line, or page and item.")
    reason: str
    head: str = Field(description="The start of the raw record, escaped to printable text.")
    at: datetime | None = Field(None, description="When it was first quarantined.")


class QuarantineOut(BaseModel):
    total: int
    records: list[QuarantinedOut]
