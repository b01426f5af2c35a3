"""Response and request models of the JSON API.

They are pydantic models (not plain dicts) so `/docs` and `/openapi.json` describe
exactly what a client gets back, and a change to the shape shows up in the schema.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from monitor.models import Alert, AlertState, Mention


class AlertOut(Alert):
    """An alert with the post it is about, so a client needs one request, not two."""

    mention: Mention | None = Field(None, description="The post; None only if it was deleted from the store.")


class StateChange(BaseModel):
    """Body of `POST /api/alerts/{alert_id}/state`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"state": "acknowledged"}]})

    state: AlertState


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


class Health(BaseModel):
    status: str = "ok"
