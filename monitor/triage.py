"""Triage: the alert lifecycle, and the append-only audit trail it is recorded in.

The state machine (every other move is refused)::

    open ──acknowledge──▶ acknowledged ──resolve──▶ resolved ──reopen──▶ open
      │                        │
      ├──resolve───────────────┼──────────────▶ resolved
      └──dismiss (reason)──────┴──dismiss (reason)──▶ dismissed ──reopen──▶ open

Why these moves and no others:

* `open` means "nobody has responded yet". Once acknowledged, an alert never goes back
  to `open` by itself: un-acknowledging would erase a first response and make the
  "needs attention" list lie. Acknowledging is optional: an agent may resolve or
  dismiss straight away (that is the first response then).
* `resolved` (we handled it) and `dismissed` (noise: not about us, spam, a duplicate...)
  are closed. Dismissing needs a reason, because "noise" is a judgement the team must be
  able to review, and the share of noise is how detection gets tuned.
* A closed alert can be reopened (the problem came back, or it was closed by mistake);
  it returns to `open`, clears its resolution/dismissal time and keeps its first response.
* A move to the state an alert is already in is refused rather than recorded, so the
  trail only holds things that happened.

A reply posted on the platform (monitor/replies/) is a response too: its attempt is recorded
before the platform is called (`reply`, not yet a response: the customer saw nothing), then its
outcome, `reply_posted` (the first response; an open alert becomes acknowledged, since someone
answered) or `reply_failed` (no response).

Every change is an `AlertEvent` (who, when, what), appended by the store in the same
step that applies it, and checked against the state it expects to leave: two agents
clicking at once cannot both "win". The alert record carries the derived handling times
(`first_response_at`, `acknowledged_at`, `resolved_at`, `dismissed_at`), so metrics
never need to replay events.

The rules live here and only here; stores persist. `record` hands the store the event
and the rule (`apply_event`), and the store runs the rule inside its own atomic step, on
the alert as stored at that moment, re-running it if another writer got in between
(`Store.record_alert_event` says why the rule goes to the store rather than the result).

A post that escalates (warning, then critical) has one alert per severity. The inbox
shows it as one *case*; the `*_case` functions here apply an action to every alert of
that post for which it makes sense.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.models import Alert, AlertEvent, AlertEventKind, AlertState
from monitor.store.base import AlertContention

if TYPE_CHECKING:
    from monitor.noise.marks import NoiseMark
    from monitor.store.base import Store

TRANSITIONS: dict[AlertState, frozenset[AlertState]] = {
    AlertState.open: frozenset({AlertState.acknowledged, AlertState.resolved, AlertState.dismissed}),
    AlertState.acknowledged: frozenset({AlertState.resolved, AlertState.dismissed}),
    AlertState.resolved: frozenset({AlertState.open}),
    AlertState.dismissed: frozenset({AlertState.open}),
}
ACTIVE_STATES: tuple[AlertState, ...] = (AlertState.open, AlertState.acknowledged)  # the inbox
CLOSED_STATES: tuple[AlertState, ...] = (AlertState.resolved, AlertState.dismissed)

# Verbs for the audit trail and the buttons; "reopen" is a move to `open`.
VERBS: dict[AlertState, str] = {
    AlertState.open: "reopened",
    AlertState.acknowledged: "acknowledged",
    AlertState.resolved: "resolved",
    AlertState.dismissed: "dismissed",
}


class TriageError(Exception):
    """An action that cannot be applied; the message says why, in words for the agent."""


class InvalidTransition(TriageError):
    def __init__(self, alert_id: str, current: AlertState, target: AlertState) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing"
        super().__init__(f"alert {alert_id} is {current.value}: it cannot become {target.value} (allowed: {allowed})")
        self.alert_id, self.current, self.target = alert_id, current, target


class StateConflict(TriageError):
    """The alert changed since the action was decided (another agent acted first)."""

    def __init__(self, alert: Alert, expected: AlertState) -> None:
        super().__init__(
            f"alert {alert.id} is now {alert.state.value}, not {expected.value}: someone else changed it; reload"
        )
        self.alert, self.expected = alert, expected


class MissingReason(TriageError):
    pass


class AlertBusy(TriageError):
    """Others kept changing the alert while this action was being recorded; nothing was recorded."""


def can_move(current: AlertState, target: AlertState) -> bool:
    return target in TRANSITIONS[current]


def state_stamps(alert: Alert, state: AlertState, at: datetime) -> dict[str, Any]:
    """The handling-time fields a move to `state` at `at` sets (the same rules in every store).

    `acknowledged_at` is the first acknowledgement; a resolution or dismissal is stamped
    each time it happens; reopening clears both, because the alert is no longer closed.
    """
    stamps: dict[str, Any] = {"state": state}
    if state != AlertState.open and alert.first_response_at is None:
        stamps["first_response_at"] = at
    if state == AlertState.acknowledged and alert.acknowledged_at is None:
        stamps["acknowledged_at"] = at
    elif state == AlertState.resolved:
        stamps.update(resolved_at=at, dismissed_at=None)
    elif state == AlertState.dismissed:
        stamps.update(dismissed_at=at, resolved_at=None)
    elif state == AlertState.open:
        stamps.update(resolved_at=None, dismissed_at=None)
    return stamps


def apply_event(alert: Alert, event: AlertEvent) -> Alert:
    """The alert after `event`: the rule every store runs inside `record_alert_event`.

    Raises StateConflict when a state event expects a state the alert is no longer in,
    and InvalidTransition for a move the state machine does not allow.
    """
    if event.alert_id != alert.id:
        raise ValueError(f"event for {event.alert_id} applied to alert {alert.id}")
    update: dict[str, Any] = {}
    # Any action by a person is a response, except a reply not (yet) posted: the customer saw nothing.
    if alert.first_response_at is None and event.kind not in (AlertEventKind.reply, AlertEventKind.reply_failed):
        update["first_response_at"] = event.at
    if event.kind == AlertEventKind.state:
        assert event.from_state is not None and event.to_state is not None  # the model guarantees it
        if alert.state != event.from_state:
            raise StateConflict(alert, event.from_state)
        if not can_move(event.from_state, event.to_state):
            raise InvalidTransition(alert.id, event.from_state, event.to_state)
        update.update(state_stamps(alert, event.to_state, event.at))
    elif event.kind == AlertEventKind.assignment:
        update["assignee"] = event.assignee
    elif event.kind == AlertEventKind.reply_posted and alert.state == AlertState.open:
        update.update(state_stamps(alert, AlertState.acknowledged, event.at))  # answered: no longer "needs attention"
    return alert.model_copy(update=update)


def record(store: Store, event: AlertEvent) -> Alert:
    """Append `event` to the trail and apply it, atomically: how every action reaches a store.

    StateConflict if another agent changed the alert first, InvalidTransition for a move the
    state machine refuses, AlertBusy if the alert kept changing under the action: in each case
    nothing is recorded. KeyError for an unknown alert.
    """
    try:
        return store.record_alert_event(event, apply_event)
    except AlertContention as exc:
        raise AlertBusy(str(exc)) from exc


def set_state(store: Store, alert_id: str, state: AlertState, at: datetime) -> Alert:
    """Move an alert and stamp its handling times, with no audit entry and no transition check
    (for tools and tests; people's actions go through `record`). KeyError if unknown."""
    return store.update_alert(alert_id, lambda alert: alert.model_copy(update=state_stamps(alert, state, at)))


# -- actions ----------------------------------------------------------------------


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _require(store: Store, alert_id: str) -> Alert:
    alert = store.get_alert(alert_id)
    if alert is None:
        raise KeyError(alert_id)
    return alert


def change_state(
    store: Store, alert_id: str, target: AlertState, actor: str, at: datetime, reason: str | None = None
) -> Alert:
    """Move one alert; KeyError if unknown, TriageError if the move is not allowed."""
    alert = _require(store, alert_id)
    reason = _clean(reason)
    if target == AlertState.dismissed and reason is None:
        raise MissingReason("dismissing an alert needs a reason (for example: not about us, spam, duplicate)")
    if not can_move(alert.state, target):
        raise InvalidTransition(alert.id, alert.state, target)
    event = AlertEvent(alert_id=alert.id, at=at, actor=actor, kind=AlertEventKind.state,
                       from_state=alert.state, to_state=target, text=reason)
    return record(store, event)


def assign(store: Store, alert_id: str, assignee: str | None, actor: str, at: datetime) -> Alert:
    """Assign one alert to a person or team (None or blank: unassign); no event if nothing changes."""
    alert = _require(store, alert_id)
    assignee = _clean(assignee)
    if alert.assignee == assignee:
        return alert
    return record(store, AlertEvent(alert_id=alert.id, at=at, actor=actor, kind=AlertEventKind.assignment,
                                    assignee=assignee))


def add_note(store: Store, alert_id: str, text: str, actor: str, at: datetime) -> AlertEvent:
    _require(store, alert_id)
    text_ = _clean(text)
    if text_ is None:
        raise TriageError("a note needs some text")
    event = AlertEvent(alert_id=alert_id, at=at, actor=actor, kind=AlertEventKind.note, text=text_)
    record(store, event)
    return event


def mark_spam(store: Store, alert_id: str, not_spam: bool, actor: str, at: datetime,
              reason: str | None = None) -> NoiseMark:
    """A person's word on the spam flag of the alert's post: "not spam" (`not_spam`), or "spam"
    again to undo it. Recorded in the alert's audit trail (who, when, why), then applied to the
    post's noise mark, which re-judging never overturns. No event if nothing changes.

    TriageError for a storm alert (no post) or a post not judged yet; KeyError for an unknown alert.
    """
    alert = _require(store, alert_id)
    if alert.mention_id is None:
        raise TriageError("a storm alert is about a brand, not one post: there is no spam flag to change")
    mark = store.noise_of([alert.mention_id]).get(alert.mention_id)
    if mark is None:
        raise TriageError("this post has not been checked for spam yet; try again after the next run")
    if mark.not_spam == not_spam:
        return mark
    verdict = "not spam" if not_spam else "spam"
    reason = _clean(reason)
    record(store, AlertEvent(alert_id=alert.id, at=at, actor=actor, kind=AlertEventKind.spam,
                             text=f"{verdict}: {reason}" if reason else verdict))
    return store.set_not_spam(alert.mention_id, not_spam)


# -- cases: one post, all its alerts ------------------------------------------------


def case_key(alert: Alert) -> str:
    """Alerts with the same key are one case: a post's alerts, or a storm alert on its own."""
    return f"post:{alert.mention_id}" if alert.mention_id else f"alert:{alert.id}"


def case_alerts(store: Store, alert: Alert) -> list[Alert]:
    """Every alert of the post `alert` is about (at every severity, in every state), lowest severity first."""
    if alert.mention_id is None:
        return [alert]
    found = store.alerts_for([alert.mention_id]) or [alert]
    return sorted(found, key=lambda a: (a.severity.rank, a.created_at, a.id))


def change_case_state(
    store: Store, alert_id: str, target: AlertState, actor: str, at: datetime, reason: str | None = None
) -> list[Alert]:
    """Apply a move to every alert of the post for which it is allowed (what a card's button does).

    Acknowledging a case acknowledges its open alerts; resolving or dismissing closes its
    open and acknowledged ones; reopening reopens its closed ones. Alerts another agent
    moved meanwhile are left as they are. Raises InvalidTransition if no alert can move.
    """
    alert = _require(store, alert_id)
    reason = _clean(reason)
    if target == AlertState.dismissed and reason is None:
        raise MissingReason("dismissing an alert needs a reason (for example: not about us, spam, duplicate)")
    movable = [a for a in case_alerts(store, alert) if can_move(a.state, target)]
    if not movable:
        raise InvalidTransition(alert.id, alert.state, target)
    moved: list[Alert] = []
    for member in movable:
        event = AlertEvent(alert_id=member.id, at=at, actor=actor, kind=AlertEventKind.state,
                           from_state=member.state, to_state=target, text=reason)
        try:
            moved.append(record(store, event))
        except StateConflict:
            continue
    if not moved:
        raise StateConflict(_require(store, alert_id), alert.state)
    return moved


def assign_case(store: Store, alert_id: str, assignee: str | None, actor: str, at: datetime) -> list[Alert]:
    """Assign the post's active alerts (or just this one, if none is active)."""
    alert = _require(store, alert_id)
    members = [a for a in case_alerts(store, alert) if a.state in ACTIVE_STATES] or [alert]
    return [assign(store, a.id, assignee, actor, at) for a in members]


# -- the trail, as people read it ------------------------------------------------------


@dataclass(frozen=True)
class TrailEntry:
    """One action in a case's history; an action applied to several alerts of the post is one entry."""

    at: datetime
    actor: str
    kind: AlertEventKind
    from_state: AlertState | None
    to_state: AlertState | None
    assignee: str | None
    text: str | None
    alert_ids: tuple[str, ...]

    @property
    def summary(self) -> str:
        if self.kind == AlertEventKind.state:
            assert self.to_state is not None
            return VERBS[self.to_state]
        if self.kind == AlertEventKind.assignment:
            return f"assigned to {self.assignee}" if self.assignee else "unassigned"
        if self.kind == AlertEventKind.spam:
            return "marked as " + (self.text or "spam").split(":", 1)[0]
        if self.kind == AlertEventKind.reply:
            return "sent a reply"
        if self.kind == AlertEventKind.reply_posted:
            return "reply posted"
        if self.kind == AlertEventKind.reply_failed:
            return "reply failed"
        return "added a note"


def case_trail(events: Iterable[AlertEvent]) -> list[TrailEntry]:
    """Events oldest first, with one entry per action (same time, actor and content) across alerts."""
    entries: dict[tuple[Any, ...], list[AlertEvent]] = {}
    for event in events:
        key = (event.at, event.actor, event.kind, event.from_state, event.to_state, event.assignee, event.text)
        if event.kind == AlertEventKind.state:
            key = key[:3] + (None,) + key[4:]  # members may have left different states in one action
        entries.setdefault(key, []).append(event)
    trail = [
        TrailEntry(group[0].at, group[0].actor, group[0].kind, group[0].from_state, group[0].to_state,
                   group[0].assignee, group[0].text, tuple(e.alert_id for e in group))
        for group in entries.values()
    ]
    return sorted(trail, key=lambda e: e.at)

