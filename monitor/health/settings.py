"""`health`: when the pipeline itself deserves an alert. Pydantic only: the config imports it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    """Thresholds of the pipeline-health checks (monitor/health/checks.py).

    Each check judges a source or a channel against its own history, so a source that
    posts once a day is not "silent" after an hour, and one that posts every minute is
    noticed within the hour. Health alerts go through the same channels as mention
    alerts; each channel's `route.health` sets which of them it wants.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    check_minutes: int = Field(5, ge=1, le=24 * 60)  # how often the `earshot_health` DAG checks
    # Silent: no new post for `silence_factor` times the source's usual gap between posts
    # (the median gap of its last `history_posts` posts), and never less than `min_silence_minutes`.
    silence_factor: float = Field(10.0, gt=1)
    min_silence_minutes: float = Field(60.0, gt=0)
    min_history_posts: int = Field(10, ge=3)  # fewer posts than this: the usual gap is not known yet
    history_posts: int = Field(200, ge=10, le=5000)
    # Failing: this many failed runs in a row (Airflow: a task failing after its retries) or one
    # failure retrying cannot fix (credentials rejected, invalid config).
    failures_in_a_row: int = Field(3, ge=1, le=100)
    # Error rate climbing: over the last `error_window` runs, at least `min_errors` failed, making a
    # share of `error_rate` or more, and higher than over the runs before them.
    error_window: int = Field(10, ge=3, le=100)
    error_rate: float = Field(0.3, gt=0, le=1)
    min_errors: int = Field(3, ge=1)
    # Outbox growing: a channel holding at least `outbox_min` undelivered alerts, more at each of
    # the last `outbox_checks` checks.
    outbox_min: int = Field(10, ge=1)
    outbox_checks: int = Field(3, ge=2, le=50)
