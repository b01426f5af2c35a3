"""The reply desk: whether a post can be answered from the inbox (and why not), and posting a reply once.

Never posted twice. A reply is identified by its post and its text: the same text sent again
for the same post (a double click, two agents, a refreshed form, a retry after a crash) is the
same reply. Before the platform is called, the attempt is appended to the alert's audit trail
(`AlertEventKind.reply`) under an id made of that identity and the attempt's number; the store
writes an event id once, so of two agents sending the same text at once exactly one records the
attempt and calls the platform. Then its outcome is appended: `reply_posted` with the link (the
alert's first response, in the metrics as in the trail), or `reply_failed` with why.

Retried only on request. A failed attempt stays failed: nothing here calls the platform again
by itself. Sending the same text again after a failure is the agent's request to retry and
makes attempt number n+1. An attempt with no outcome (the process died while the platform was
being called) blocks its text: the reply may exist, so the agent is told to check the post.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from monitor.config import Config
from monitor.models import Alert, AlertEvent, AlertEventKind, Mention
from monitor.plugins import UnknownPlugin
from monitor.replies import reply_plugin
from monitor.replies.base import FailureKind, Posted, Replier, ReplyFailed, ReplyTarget
from monitor.replies.credentials import find_credentials
from monitor.replies.saved import FilledReply, saved_replies_for
from monitor.replies.settings import ReplySettings
from monitor.store.base import AlertContention, Store
from monitor.triage import AlertBusy, TriageError, apply_event, case_alerts, record

log = logging.getLogger(__name__)

ATTEMPT_PREFIX = "reply-"


class ReplyError(TriageError):
    """A reply that cannot be sent; the message says why, in words for the agent."""


class ReplyUnavailable(ReplyError):
    """The post's platform cannot be replied to from Earshot (no replier, no credentials...)."""


class ReplyInFlight(ReplyError):
    """The same reply was already sent and its outcome is not known (yet): it is not sent again."""


@dataclass(frozen=True)
class Availability:
    """Whether the reply button works for a post, and if not, why (shown beside the disabled button)."""

    platform: str
    max_chars: int
    reason: str | None = None  # None: replies can be posted

    @property
    def can_reply(self) -> bool:
        return self.reason is None


class AttemptStatus(StrEnum):
    pending = "pending"
    posted = "posted"
    failed = "failed"


@dataclass(frozen=True)
class ReplyAttempt:
    """One attempt to post a reply, as the audit trail tells it."""

    id: str
    at: datetime
    actor: str
    text: str
    status: AttemptStatus
    url: str | None = None  # posted: the link to the reply
    error: str | None = None  # failed: why, in the agent's words

    @property
    def key(self) -> str:
        return self.id.rsplit("-", 1)[0]


@dataclass(frozen=True)
class ReplyOutcome:
    attempt: ReplyAttempt
    failure: ReplyFailed | None = None
    already_posted: bool = False  # this text was posted before: nothing was sent now

    @property
    def posted(self) -> bool:
        return self.attempt.status == AttemptStatus.posted


def normalise(text: str) -> str:
    """The reply as it is posted and identified: NFC, Unix line ends, no surrounding blanks."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def reply_key(mention_id: str, text: str) -> str:
    """The identity of a reply: its post and its (normalised) text."""
    digest = hashlib.sha256(f"{mention_id}\n{normalise(text)}".encode()).hexdigest()[:24]
    return f"{ATTEMPT_PREFIX}{digest}"


def reply_attempts(events: Iterable[AlertEvent]) -> list[ReplyAttempt]:
    """The reply attempts of a case, oldest first, each with its outcome (if any yet)."""
    started: dict[str, AlertEvent] = {}
    posted: dict[str, str] = {}
    failed: dict[str, str] = {}
    for event in events:
        if event.kind == AlertEventKind.reply:
            started.setdefault(event.id, event)
        elif event.kind == AlertEventKind.reply_posted:
            posted.setdefault(event.id.split(":posted", 1)[0], event.text or "")
        elif event.kind == AlertEventKind.reply_failed:
            failed.setdefault(event.id.split(":failed", 1)[0], event.text or "")
    attempts = []
    for attempt_id, event in started.items():
        status = (AttemptStatus.posted if attempt_id in posted else
                  AttemptStatus.failed if attempt_id in failed else AttemptStatus.pending)
        attempts.append(ReplyAttempt(attempt_id, event.at, event.actor, event.text or "", status,
                                     url=posted.get(attempt_id), error=failed.get(attempt_id)))
    return sorted(attempts, key=lambda a: a.at)


@dataclass
class ReplyDesk:
    """Replies for one config: availability per post, saved replies, and `send`.

    `environ` is where credentials are looked up (the process environment by default);
    `repliers` replaces the configured repliers by source name (tests, embedding callers).
    """

    config: Config
    environ: Mapping[str, str] | None = None
    repliers: dict[str, Replier] = field(default_factory=dict)

    # -- what the page shows

    def settings(self, source: str) -> ReplySettings | None:
        try:
            plugin = reply_plugin(source)
        except UnknownPlugin:
            return None
        return plugin.settings(self.config.replies.platforms.get(source))

    def availability(self, mention: Mention | None) -> Availability:
        if mention is None:
            return Availability("", 0, "this alert is about the brand's volume, not one post: "
                                       "there is nothing to reply to")
        settings = self.settings(mention.source)
        if mention.source in self.repliers:
            replier = self.repliers[mention.source]
            return Availability(replier.platform, replier.max_chars)
        if settings is None:
            return Availability(mention.source, 0,
                                f"Earshot cannot post on {mention.source} (no reply plugin for this source)")
        if not settings.enabled:
            return Availability(settings.platform, settings.max_chars, f"replies on {settings.platform} are turned "
                                f"off (replies.platforms.{mention.source}.enabled)")
        found = find_credentials(settings, self.environ)
        if not found.complete:
            return Availability(settings.platform, settings.max_chars,
                                f"no write access to {settings.platform}: set {', '.join(found.missing)}")
        return Availability(settings.platform, settings.max_chars)

    def saved_replies(self, mention: Mention | None, alert: Alert, agent: str) -> list[FilledReply]:
        topic = (mention.topic if mention else None) or alert.topic
        values = {"author": (mention.author_handle.lstrip("@") if mention else None), "brand": alert.brand,
                  "topic": topic, "agent": agent, "team": (mention.team if mention else None) or alert.team}
        return saved_replies_for(self.config.replies.saved, lang=mention.lang if mention else None,
                                 topic=topic, values=values)

    def replier(self, source: str) -> Replier:
        """The replier for `source`'s posts, built once; ReplyUnavailable if it cannot be built."""
        if source in self.repliers:
            return self.repliers[source]
        settings = self.settings(source)
        if settings is None:
            raise ReplyUnavailable(f"Earshot cannot post on {source} (no reply plugin for this source)")
        found = find_credentials(settings, self.environ)
        if not found.complete:
            raise ReplyUnavailable(f"no write access to {settings.platform}: set {', '.join(found.missing)}")
        base_url = settings.base_url(self.config.sources.get(source))
        try:
            replier: Replier = reply_plugin(source).build(settings, found.values, base_url)
        except ValueError as exc:  # our own checks of a credential's shape; they never quote its value
            raise ReplyUnavailable(f"the {settings.platform} credentials cannot be used: {exc}") from None
        self.repliers[source] = replier
        return replier

    # -- sending

    def send(self, store: Store, alert_id: str, text: str, actor: str, clock: Callable[[], datetime]) -> ReplyOutcome:
        """Post `text` as a reply to the alert's post, once; the outcome is in the trail and returned.

        KeyError for an unknown alert; ReplyError for a reply that cannot be sent (nothing to
        answer, empty or too long, no write access) and ReplyInFlight when the same reply is
        already on its way. A platform's refusal is not raised: it is the outcome (`failure`),
        recorded for the agent to read and, if they want, retry.
        """
        alert = store.get_alert(alert_id)
        if alert is None:
            raise KeyError(alert_id)
        mention = store.get_mention(alert.mention_id) if alert.mention_id else None
        available = self.availability(mention)
        if not available.can_reply or mention is None:
            raise ReplyUnavailable(available.reason or "nothing to reply to")
        body = normalise(text)
        if not body:
            raise ReplyError("a reply needs some text")
        if len(body) > available.max_chars:
            raise ReplyError(f"{available.platform} takes replies of at most {available.max_chars} characters; "
                             f"this one has {len(body)}")
        replier = self.replier(mention.source)

        members = case_alerts(store, alert)
        key = reply_key(mention.id, body)
        mine = [a for a in reply_attempts(store.alert_events(a.id for a in members)) if a.key == key]
        if done := next((a for a in mine if a.status == AttemptStatus.posted), None):
            return ReplyOutcome(done, already_posted=True)
        if mine and mine[-1].status == AttemptStatus.pending:
            raise ReplyInFlight(_in_flight(mine[-1]))

        attempt = AlertEvent(id=f"{key}-{len(mine) + 1}", alert_id=alert.id, at=clock(), actor=actor,
                             kind=AlertEventKind.reply, text=body)
        if not _claim(store, attempt):
            latest = [a for a in reply_attempts(store.alert_events([alert.id])) if a.id == attempt.id]
            raise ReplyInFlight(_in_flight(latest[0]) if latest else "this reply is being sent by someone else")
        started = ReplyAttempt(attempt.id, attempt.at, actor, body, AttemptStatus.pending)

        target = ReplyTarget(mention.source, mention.native_id, mention.url, mention.author_handle)
        try:
            posted: Posted = replier.post(target, body, attempt.id)
        except ReplyFailed as exc:
            return self._failed(store, alert, started, exc, clock)
        except Exception as exc:  # noqa: BLE001 - an SDK's surprise: the reply may or may not exist
            log.warning("reply %s on %s: %s", attempt.id, mention.source, type(exc).__name__)
            failure = ReplyFailed(FailureKind.unknown, f"{type(exc).__name__} while posting")
            return self._failed(store, alert, started, failure, clock)
        at = clock()
        # The link is shown as a link: only a web address the platform gave, else the post's own.
        url = posted.url if posted.url.startswith(("https://", "http://")) else mention.url
        for member in members:  # every alert of the post is answered by it
            record(store, AlertEvent(id=f"{attempt.id}:posted:{member.id}", alert_id=member.id, at=at, actor=actor,
                                     kind=AlertEventKind.reply_posted, text=url))
        return ReplyOutcome(ReplyAttempt(attempt.id, attempt.at, actor, body, AttemptStatus.posted, url=url))

    def _failed(self, store: Store, alert: Alert, started: ReplyAttempt, failure: ReplyFailed,
                 clock: Callable[[], datetime]) -> ReplyOutcome:
        message = str(failure)[:3900]
        record(store, AlertEvent(id=f"{started.id}:failed", alert_id=alert.id, at=clock(), actor=started.actor,
                                 kind=AlertEventKind.reply_failed, text=message))
        return ReplyOutcome(ReplyAttempt(started.id, started.at, started.actor, started.text, AttemptStatus.failed,
                                         error=message), failure=failure)


def _in_flight(attempt: ReplyAttempt) -> str:
    return (f"this reply was sent by {attempt.actor} at {attempt.at:%Y-%m-%d %H:%M} UTC and its outcome is not "
            "known: it is not sent again, so it cannot be posted twice. Check the post on the platform.")


def _claim(store: Store, attempt: AlertEvent) -> bool:
    """Record the attempt; True only if this call wrote it (not another agent's identical attempt).

    The store returns the result of `apply` when it wrote the event, and the alert as stored when
    the event id was there already; which of the two came back says who recorded it.
    """
    produced: list[Alert] = []

    def apply(alert: Alert, event: AlertEvent) -> Alert:
        produced.append(apply_event(alert, event))
        return produced[-1]

    try:
        stored = store.record_alert_event(attempt, apply)
    except AlertContention as exc:
        raise AlertBusy(str(exc)) from exc
    return bool(produced) and stored is produced[-1]
