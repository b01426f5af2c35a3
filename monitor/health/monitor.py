"""Raising pipeline-health alerts: state kept in the store, one alert per incident, delivered at once.

The state lives in the store's key-value cursors (both stores have them, so no schema
change): each source's last runs, each channel's last outbox sizes, and the incidents
("episodes") currently open. An episode opens with one alert and stays open, raising
nothing more, until its condition clears: a failing source alerts once, not at every
retry or poll, and alerts again only if it fails again after recovering.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from monitor.health import checks
from monitor.health.checks import Check, Finding, Run
from monitor.models import Alert, AlertKind, utcnow

if TYPE_CHECKING:
    from monitor.alerts import AlertChannel
    from monitor.config import Config
    from monitor.store import Store

__all__ = [
    "PIPELINE", "HealthMonitor", "alert_for", "deliver_now",
]

log = logging.getLogger(__name__)

PIPELINE = "(pipeline)"  # the `brand` of health alerts: they concern Earshot itself, not a brand
RUNS_KEPT = 100  # runs remembered per source: enough for the error-rate windows
_RUNS = "health:runs:{}"
_OUTBOX = "health:outbox:{}"
_OPEN = "health:open"


def alert_for(finding: Finding, now: datetime) -> Alert:
    """The alert for a new episode; its id names the check, the subject and when the episode began."""
    return Alert(
        id=f"health:{finding.key}:{now.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        kind=AlertKind.health,
        mention_id=None,
        brand=PIPELINE,
        severity=finding.severity,
        created_at=now,
        reason=finding.reason,
        topic=finding.check.value,
    )


class HealthMonitor:
    """The health checks of one config over one store; `clock` is injected so tests never read the wall."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.settings = config.health
        self.store = store
        self.clock = clock

    # -- what happened -----------------------------------------------------------------

    def runs(self, source: str) -> list[Run]:
        raw = self.store.get_cursor(_RUNS.format(source))
        if not raw:
            return []
        try:
            return [Run(datetime.fromisoformat(at), bool(ok), error) for at, ok, error in json.loads(raw)]
        except (ValueError, TypeError):  # unreadable state only costs history, never a run
            log.warning("health: the run history of %s is unreadable; starting it afresh", source)
            return []

    def record_run(self, source: str, ok: bool, error: str = "") -> list[Alert]:
        """Remember one ingest run; a success closes the source's failure episode, failures may open one."""
        runs = [*self.runs(source), Run(self.clock(), ok, error[:500])][-RUNS_KEPT:]
        self.store.set_cursor(_RUNS.format(source), json.dumps([[r.at.isoformat(), r.ok, r.error] for r in runs]))
        if not self.settings.enabled:
            return []
        raised = self._judge(Check.error_rate, source, checks.error_rate(source, runs, self.settings))
        if ok:
            self._close(Finding(Check.source_failed, source, "").key)
            return raised
        if finding := checks.failing(source, runs, self.settings):
            raised += self._open(finding)
        return raised

    def source_failed(self, source: str, error: str, attempts: int = 1) -> list[Alert]:
        """A source that failed for good (Airflow gave up on its task, or the error cannot be retried)."""
        if not self.settings.enabled:
            return []
        return self._open(checks.failed(source, error, attempts))

    def task_failed(self, task: str, error: str, attempts: int = 1) -> list[Alert]:
        """A pipeline task that gave up (Airflow's on_failure_callback); one alert until it succeeds again."""
        if not self.settings.enabled:
            return []
        return self._open(checks.task_failed(task, error, attempts))

    def task_succeeded(self, task: str) -> None:
        self._close(f"{Check.task_failed.value}:{task}")

    # -- periodic checks ------------------------------------------------------------------

    def check_sources(self, sources: Sequence[str] | None = None) -> list[Alert]:
        """Silence of each live source (replays are triggered by hand: their silence means nothing)."""
        if not self.settings.enabled:
            return []
        now = self.clock()
        raised: list[Alert] = []
        live = self.config.live_sources()
        for name in sources if sources is not None else list(live):
            if name not in live:
                continue
            since = datetime(1970, 1, 1, tzinfo=UTC)
            posts = [m.created_at for m in self.store.recent_mentions(name, since, limit=self.settings.history_posts)]
            finding = checks.silence(name, posts, now, self.settings, live[name].poll_seconds)
            raised += self._judge(Check.source_silent, name, finding)
        return raised

    def check_outboxes(self, channels: Sequence[AlertChannel]) -> list[Alert]:
        """Each channel's outbox size, remembered; a steadily growing one is a channel not delivering."""
        if not self.settings.enabled:
            return []
        raised: list[Alert] = []
        keep = self.settings.outbox_checks
        for channel in channels:
            waiting = sum(channel.route.accepts(a) for a in self.store.undelivered_alerts(channel.name))
            key = _OUTBOX.format(channel.name)
            try:
                sizes = [int(n) for n in json.loads(self.store.get_cursor(key) or "[]")]
            except (ValueError, TypeError):
                sizes = []
            sizes = [*sizes, waiting][-keep:]
            self.store.set_cursor(key, json.dumps(sizes))
            raised += self._judge(Check.outbox_growing, channel.name, checks.outbox(channel.label, sizes,
                                                                                      self.settings))
        return raised

    def check(self, channels: Sequence[AlertChannel] = (), sources: Sequence[str] | None = None) -> list[Alert]:
        return self.check_sources(sources) + self.check_outboxes(channels)

    # -- episodes ---------------------------------------------------------------------------

    def open_episodes(self) -> dict[str, str]:
        try:
            value = json.loads(self.store.get_cursor(_OPEN) or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _judge(self, check: Check, subject: str, finding: Finding | None) -> list[Alert]:
        if finding is None:
            self._close(f"{check.value}:{subject}")
            return []
        return self._open(finding)

    def _open(self, finding: Finding) -> list[Alert]:
        episodes = self.open_episodes()
        if finding.key in episodes:
            return []  # already raised for this incident
        alert = alert_for(finding, self.clock())
        self.store.add_alert(alert)
        episodes[finding.key] = alert.id
        self.store.set_cursor(_OPEN, json.dumps(episodes, sort_keys=True))
        log.info("pipeline health: %s", finding.reason)  # the alert itself goes through the channels
        return [alert]

    def _close(self, key: str) -> None:
        episodes = self.open_episodes()
        if episodes.pop(key, None) is not None:
            self.store.set_cursor(_OPEN, json.dumps(episodes, sort_keys=True))


def deliver_now(config: Config, store: Store, channels: Sequence[AlertChannel] | None = None) -> None:
    """Send what was just raised, through the configured channels and their routes.

    Used where no delivery step follows (an Airflow failure callback). A channel that
    fails keeps the alert in its outbox; the next delivery run sends it.
    """
    from monitor.alerts import build_channels, deliver

    deliver(store, list(channels) if channels is not None else build_channels(config.alerts, [b.name for b in config.brands], config.base_dir),
            lease=timedelta(seconds=config.alerts.delivery_lease_seconds))
