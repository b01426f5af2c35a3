"""Sending: each channel gets what it has not received yet, once, without blocking the others.

Every alert is stored first; `deliver` then sends each channel what it has not yet
received, oldest first, and records each delivery as soon as it succeeds.

The guarantee: each alert reaches each channel once, however many runs deliver at the
same time, except that a sender killed between a channel accepting an alert and
recording it causes one resend after its claim lapses (`LEASE`), carrying the same
`Idempotency-Key` so a receiver can drop it. Before sending, a run claims the
(alert, channel) delivery in the store; a claim held by another live run is skipped. A channel
that is down keeps its alerts in the outbox (sent, in order, on a later run) and never
blocks the others: channels are served in parallel, so a slow or failing one does not
even delay them.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.alerts.base import AlertChannel, AlertRejected, DeliveryError
from monitor.models import Alert, utcnow

if TYPE_CHECKING:
    from monitor.store import Store

__all__ = ["LEASE", "DeliveryReport", "deliver", "sender_id"]

log = logging.getLogger(__name__)


# How long a claim on one delivery lasts: longer than one send with all its retries
# (attempts x timeout + backoff, or an SMTP session), so a live sender never loses it; a
# crashed sender's deliveries wait this long for a successor.
LEASE = timedelta(minutes=5)


def sender_id() -> str:
    """Who claims deliveries: unique per process and call, readable in the store."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class DeliveryReport:
    sent: dict[str, int] = field(default_factory=dict)  # per channel name, this run
    failed: dict[str, str] = field(default_factory=dict)  # channel name -> why its outbox is not empty
    skipped: dict[str, int] = field(default_factory=dict)  # turned away by the channel's route
    claimed_elsewhere: dict[str, int] = field(default_factory=dict)  # being sent by another run
    held_as_spam: dict[str, int] = field(default_factory=dict)  # on posts flagged as spam: kept in the outbox


@dataclass(frozen=True)
class _Event:
    kind: str  # claim | sent | rejected | failed | done
    channel: AlertChannel
    alert: Alert | None = None
    error: str = ""
    kept: int = 0
    reply: queue.Queue[bool] | None = None  # for a claim: whether this run may send


def deliver(store: Store, channels: Sequence[AlertChannel], *, owner: str | None = None,
            lease: timedelta = LEASE, clock: Callable[[], datetime] = utcnow) -> DeliveryReport:
    """Send every channel its undelivered alerts, oldest first; record each delivery at once.

    Routing: an alert a channel's `route` does not accept is recorded as handled for that
    channel without being sent. The outbox is "alerts not recorded for this channel", so an
    unrecorded filtered alert would be re-read and re-judged on every run, forever, and the
    outbox would only grow. Recording it settles the decision once. The consequence is
    deliberate: widening a route later does not replay old alerts into a channel (a flood
    of stale alerts is not what a care team wants); new alerts follow the new route.

    Failures: DeliveryError stops that channel for this run (later alerts wait, order is
    kept); AlertRejected skips only that alert (it stays in the outbox and is tried once
    per run). Any other exception from a channel is a bug, and treated as a rejection of
    that alert only (logged without its message, which could quote a secret): one alert a
    channel cannot handle never blocks the ones after it.

    Concurrency: each alert is claimed (`Store.claim_delivery`, for `lease`) just before
    it is sent and the claim dropped when it is recorded or fails; an alert another run
    has claimed is left to that run.

    Threads: each channel with work sends from its own thread; all store reads and writes
    happen on the calling thread, so stores need not be thread-safe.
    """
    owner = owner or sender_id()
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ValueError(f"two channels share a name (each delivery is recorded by name): {names}")
    report = DeliveryReport()
    work: list[tuple[AlertChannel, list[Alert]]] = []
    for channel in channels:
        wanted: list[Alert] = []
        pending = store.undelivered_alerts(channel.name)
        # Alerts on posts flagged as spam (monitor/noise) are not sent: they wait in the outbox,
        # shown in the inbox with the flag; if someone marks the post "not spam", the next run sends them.
        spam = {mid for mid, mark in store.noise_of({a.mention_id for a in pending if a.mention_id}).items()
                if mark.is_spam}
        for alert in pending:
            if alert.mention_id in spam:
                report.held_as_spam[channel.name] = report.held_as_spam.get(channel.name, 0) + 1
            elif channel.route.accepts(alert):
                wanted.append(alert)
            else:
                store.mark_delivered(alert.id, channel.name)
                report.skipped[channel.name] = report.skipped.get(channel.name, 0) + 1
        report.sent[channel.name] = 0
        if wanted:
            work.append((channel, wanted))
    if not work:
        return report
    mentions = store.get_mentions({a.mention_id for _, alerts in work for a in alerts if a.mention_id})

    events: queue.Queue[_Event] = queue.Queue()
    stop = threading.Event()

    def answer(reply: queue.Queue[bool]) -> bool:
        """Whether this run may send; no, if it stops before it says (a claim it made lapses)."""
        while True:
            try:
                return reply.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    return False

    def drain(channel: AlertChannel, alerts: list[Alert]) -> None:
        try:
            for i, alert in enumerate(alerts):
                if stop.is_set():
                    return
                reply: queue.Queue[bool] = queue.Queue(maxsize=1)
                events.put(_Event("claim", channel, alert, reply=reply))
                if not answer(reply):
                    continue  # delivered meanwhile, being sent by another run, or this run is stopping
                mention = mentions.get(alert.mention_id) if alert.mention_id else None
                try:
                    channel.send(alert, mention)
                except AlertRejected as exc:
                    events.put(_Event("rejected", channel, alert, str(exc)))
                    continue
                except DeliveryError as exc:
                    events.put(_Event("failed", channel, alert, str(exc), kept=len(alerts) - i))
                    return
                except Exception as exc:  # noqa: BLE001 - a broken channel must not take the others down
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    error = f"{type(exc).__name__} at {where.filename}:{where.lineno} (a bug in the channel)"
                    events.put(_Event("rejected", channel, alert, error))
                    continue
                events.put(_Event("sent", channel, alert))
        finally:
            events.put(_Event("done", channel))

    threads = [threading.Thread(target=drain, args=item, name=f"earshot-alerts:{item[0].name}", daemon=True)
               for item in work]
    for thread in threads:
        thread.start()
    running = len(threads)

    def record(event: _Event) -> None:
        """A sender's outcome, in the store: sent (delivered), or not (its claim dropped)."""
        name = event.channel.name
        assert event.alert is not None or event.kind == "failed"
        if event.kind == "sent":
            store.mark_delivered(event.alert.id, name)
            report.sent[name] += 1
        elif event.kind == "rejected":
            store.release_delivery(event.alert.id, name, owner)
            log.warning("alert channel %s refused alert %s; it stays in the outbox: %s",
                        event.channel.label, event.alert.id, event.error)
            report.failed.setdefault(name, event.error)
        else:
            if event.alert is not None:
                store.release_delivery(event.alert.id, name, owner)
            log.warning("alert channel %s is failing, %d alert(s) kept in the outbox: %s",
                        event.channel.label, event.kept, event.error)
            report.failed[name] = event.error

    in_hand: _Event | None = None  # taken off the queue and not settled yet
    try:
        while running:
            in_hand = event = events.get()
            name = event.channel.name
            if event.kind == "done":
                running -= 1
            elif event.kind == "claim":
                assert event.alert is not None and event.reply is not None
                ok = False
                try:
                    now = clock()
                    ok = store.claim_delivery(event.alert.id, name, owner, now + lease, now)
                finally:
                    event.reply.put(ok)  # never leave a sender waiting, even if the store failed
                if not ok:
                    report.claimed_elsewhere[name] = report.claimed_elsewhere.get(name, 0) + 1
            else:
                record(event)
            in_hand = None
    except Exception:  # the store failed: stop sending what could not be recorded
        _wind_down(threads, events, stop, None, in_hand)
        raise
    except BaseException:  # Ctrl+C: stop sending, and record what was sent
        _wind_down(threads, events, stop, record, in_hand)
        raise
    for thread in threads:
        thread.join()
    return report


def _wind_down(threads: list[threading.Thread], events: queue.Queue[_Event], stop: threading.Event,
               record: Callable[[_Event], None] | None, in_hand: _Event | None) -> None:
    """Let the senders finish the alert each is sending, grant no new claim, and `record` what they
    report (`in_hand` first: the event the run was stopped in the middle of). An alert a channel
    accepted as the run was stopped is thus recorded as delivered, not sent again once its claim
    lapses. With no `record` (the store is what failed), the claims lapse, and the next run sends
    those alerts: the one resend the guarantee allows."""
    stop.set()

    def settle(event: _Event) -> None:
        nonlocal record
        if event.reply is not None:
            if event.reply.empty():  # not answered, or answered and taken (then no one reads this one)
                event.reply.put(False)
        elif event.kind != "done" and record is not None:
            try:
                record(event)  # recording twice is harmless: a delivery is kept once, a claim dropped once
            except Exception as exc:  # noqa: BLE001 - the run is being stopped already
                log.warning("could not record what alert channel %s reported, %s (its claim lapses, and the next "
                            "run sends it again): %s", event.channel.label, event.kind, exc)
                record = None

    if in_hand is not None:
        settle(in_hand)
    while True:
        try:
            settle(events.get(timeout=0.05))
        except queue.Empty:
            if not any(thread.is_alive() for thread in threads):
                return
