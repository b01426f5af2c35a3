"""The Elasticsearch store's alert side: alerts, the triage audit trail and the outbox.

`record_alert_event` has to append an event *and* apply it, atomically, with no
multi-document transactions. The commit point is one single-document write: the update
of the alert, guarded by `if_seq_no`/`if_primary_term`, which sets the new state,
assignee and handling times *and* keeps the event itself in the alert (`last_event`).
Then the event is copied into `P-alert_events`. So:

* two agents acting at once both read the alert, but only one update matches its
  `_seq_no`; the other gets a 409, reads the alert again and re-applies its event to what
  is there now, with the rule the caller passed (`monitor.triage.apply_event`): a state
  event that expected the old state is refused there (`triage.StateConflict`, the web
  answers 409, as with SQLite) and nothing is stored; a note or an assignment is simply
  applied after the other change. The store re-runs the rule; it never knows it;
* if the writer stops between the two writes, the event is not lost: it is in the
  alert's `last_event`, `alert_events()` reads it from there, and the next change to the
  alert copies it into the index before replacing it;
* the order of events recorded at the same time is the alerts index's `_seq_no` of the
  update that applied each (one shard, so a total order, like SQLite's rowid).

Other changes to an alert (`update_alert`, a delivery) are read-modify-write through
`_update_alert`, guarded by `if_seq_no` in the same way.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, ConflictError, NotFoundError, TransportError

from monitor.models import Alert, AlertEvent, AlertState
from monitor.store.base import (
    AlertChange, AlertContention, AlertHandling, ApplyEvent, CasePage, CaseQuery, InvalidQuery,
)
from monitor.store.cases import page_of_cases
from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch.indices import (
    CONFLICT_ATTEMPTS, IDS_PER_LOOKUP, PAGE, ConcurrentWriteError, IndexClient,
)

log = logging.getLogger(__name__)

TRIAGE_ATTEMPTS = 8  # a person's action on an alert: attempts before answering "try again"


class AlertWriteContention(ConcurrentWriteError, AlertContention):
    """An alert kept changing under a person's action: a conflict to report (triage answers "reload")."""


class Alerts(IndexClient):
    """Alerts, their handling and audit trail, and which channel has which: what detect, notify and the web use."""

    @property
    def _alerts(self) -> str:
        return self.names.index("alerts")

    def add_alert(self, alert: Alert) -> bool:
        body = docs.alert_doc(alert)
        try:
            self.client.create(index=self._alerts, id=docs.safe_id(alert.id), document=body, refresh=self.refresh)
            self._wrote(self._alerts)
        except ConflictError:
            return False
        return True

    def get_alert(self, alert_id: str) -> Alert | None:
        resp = self._get(self._alerts, alert_id)
        return docs.alert_from_doc(resp["_source"]) if resp.get("found") else None

    def alerts_for(self, mention_ids: Iterable[str]) -> list[Alert]:
        ids = list(dict.fromkeys(mention_ids))
        found: list[Alert] = []
        for start in range(0, len(ids), PAGE):
            hits = self._hits(self._alerts, q.terms("mention_id", ids[start : start + PAGE]), q.ALERTS_OLDEST_FIRST)
            found += [docs.alert_from_doc(hit["_source"]) for hit in hits]
        return found

    def alerts(self, states: Sequence[AlertState] | None = None, limit: int = 200) -> list[Alert]:
        query = q.alerts_in_states([s.value for s in states] if states else None)
        hits = self._hits(self._alerts, query, q.ALERTS_NEWEST_FIRST, limit)
        return [docs.alert_from_doc(hit["_source"]) for hit in hits]

    def count_alerts_by_state(self) -> dict[AlertState, int]:
        body = self._search(self._alerts, q.match_all(), size=0, aggs=q.state_counts())
        found = q.parse_state_counts(body)
        return {state: found.get(state.value, 0) for state in AlertState}

    def alert_cases(self, query: CaseQuery) -> CasePage:
        """The alerts of the states (and brand) asked for, from the query; grouped into cases,
        filtered, ordered and paged in Python (`monitor.store.cases`), since a query cannot pick a
        group's most severe member. Reads every such alert: fine for the open inbox of a care team,
        not for years of closed alerts."""
        if query.limit < 0:
            raise InvalidQuery("limit: 0 or more")
        states = [AlertState(s).value for s in query.states] or [s.value for s in AlertState]
        hits = self._hits(self._alerts, q.case_candidates(states, query.brand), q.ALERTS_NEWEST_FIRST)
        alerts = [docs.alert_from_doc(hit["_source"]) for hit in hits]
        return page_of_cases(alerts, query, self._post_tags)

    def _post_tags(self, mention_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        found: dict[str, tuple[str | None, str | None]] = {}
        for start in range(0, len(mention_ids), IDS_PER_LOOKUP):
            chunk = mention_ids[start : start + IDS_PER_LOOKUP]
            body = self._search(self.names.pattern("mentions"), q.ids(chunk), size=len(chunk),
                                source_includes=["topic", "team"])
            found.update({hit["_id"]: (hit["_source"].get("topic"), hit["_source"].get("team"))
                          for hit in body["hits"]["hits"]})
        return found

    def _update_alert(self, alert_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Alert:
        """Read the alert, apply `change` (a partial document, None for no change), write it back
        only if nobody wrote in between; KeyError if there is no such alert."""
        for attempt in range(CONFLICT_ATTEMPTS):
            resp = self._get(self._alerts, alert_id)
            if not resp.get("found"):
                raise KeyError(alert_id)
            source = resp["_source"]
            partial = change(source)
            if not partial:
                return docs.alert_from_doc(source)
            try:
                self.client.update(
                    index=self._alerts, id=docs.safe_id(alert_id), doc=partial, refresh=self.refresh,
                    if_seq_no=resp["_seq_no"], if_primary_term=resp["_primary_term"],
                )
            except ConflictError:
                time.sleep(min(0.05 * 2**attempt, 1.0))
                continue
            self._wrote(self._alerts)
            return docs.alert_from_doc({**source, **partial})
        raise ConcurrentWriteError(f"alert {alert_id} kept changing under this update")

    def update_alert(self, alert_id: str, change: AlertChange) -> Alert:
        now = self._now()
        return self._update_alert(
            alert_id, lambda doc: docs.handling_change(doc, change(docs.alert_from_doc(doc)), now))

    # -- the triage audit trail -----------------------------------------------------

    @property
    def _events(self) -> str:
        return self.names.index("alert_events")

    def record_alert_event(self, event: AlertEvent, apply: ApplyEvent) -> Alert:
        """Apply `event` to its alert and append it to the trail; see the module docstring for how."""
        if not isinstance(event, AlertEvent):
            raise TypeError(f"expected an AlertEvent, got {type(event).__name__}")
        for attempt in range(TRIAGE_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0.01, min(0.02 * 2**attempt, 0.5)))  # jitter: no lockstep
            resp = self._get(self._alerts, event.alert_id)
            if not resp.get("found"):
                raise KeyError(event.alert_id)
            source, seq_no = resp["_source"], resp["_seq_no"]
            alert = docs.alert_from_doc(source)
            pending = source.get("last_event")
            if pending and pending.get("id") == event.id:
                self._append_event(pending, seq_no)  # a retry: finish what the first attempt began
                return alert
            if self._get(self._events, event.id).get("found"):
                return alert  # recorded before: a retry changes nothing
            updated = apply(alert, event)  # the rules refusing it (a state conflict...): nothing is written
            if pending:  # the previous event, in case its writer stopped before copying it
                self._append_event(pending, seq_no)
            body = docs.event_doc(event, brand=alert.brand, recorded_at=self._now())
            try:
                result = self.client.update(
                    index=self._alerts, id=docs.safe_id(event.alert_id), refresh=self.refresh,
                    doc={**docs.handling_change(source, updated, event.at), "last_event": body},
                    if_seq_no=seq_no, if_primary_term=resp["_primary_term"],
                )
            except ConflictError:
                continue  # someone else changed the alert: read it again and re-apply
            self._wrote(self._alerts)
            try:
                self._append_event(body, result["_seq_no"])
            except (ApiError, TransportError) as exc:  # applied and kept in the alert; copied at its next change
                log.warning("event %s of alert %s is applied but not yet in %s: %s",
                            event.id, event.alert_id, self._events, exc)
            return updated
        raise AlertWriteContention(f"alert {event.alert_id} kept changing under this action; reload and try again")

    def _append_event(self, body: dict[str, Any], seq: int) -> None:
        """Copy an applied event into the append-only index; already there is fine."""
        try:
            self.client.create(
                index=self._events, id=docs.safe_id(body["id"]), document={**body, "seq": seq}, refresh=self.refresh
            )
            self._wrote(self._events)
        except ConflictError:
            pass

    def alert_events(self, alert_ids: Iterable[str]) -> list[AlertEvent]:
        ids = list(dict.fromkeys(alert_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            for hit in self._hits(self._events, q.terms("alert_id", chunk), q.EVENTS_OLDEST_FIRST):
                found[hit["_source"]["id"]] = hit["_source"]
            # An event applied whose copy into the index has not happened (yet): it is in its alert.
            body = self._search(self._alerts, q.ids([docs.safe_id(a) for a in chunk]), size=len(chunk),
                                seq_no_primary_term=True, source_includes=["last_event"])
            for hit in body["hits"]["hits"]:
                pending = hit["_source"].get("last_event")
                if pending and pending["id"] not in found:
                    found[pending["id"]] = {**pending, "seq": hit["_seq_no"]}
        return [docs.event_from_doc(doc) for doc in sorted(found.values(), key=docs.event_order)]

    def alerts_created(self, since: datetime, until: datetime) -> list[Alert]:
        hits = self._hits(self._alerts, q.between("created_at", since, until), q.ALERTS_OLDEST_FIRST)
        return [docs.alert_from_doc(hit["_source"]) for hit in hits]

    def alert_handling(self, since: datetime, until: datetime) -> list[AlertHandling]:
        fields = ["state", "created_at", "first_response_at", "resolved_at"]
        hits = self._hits(self._alerts, q.between("created_at", since, until), q.ALERTS_OLDEST_FIRST,
                          source_includes=fields)
        return [AlertHandling(AlertState(doc["state"]), docs.parse_iso(doc["created_at"]),
                              docs.parse_iso(doc["first_response_at"]) if doc.get("first_response_at") else None,
                              docs.parse_iso(doc["resolved_at"]) if doc.get("resolved_at") else None)
                for doc in (hit["_source"] for hit in hits)]

    def undelivered_alerts(self, channel: str) -> list[Alert]:
        """The search finds the candidates; each is read back by id (real-time), because a delivery
        recorded a moment ago is not refreshed into search yet (deliveries never force a refresh)."""
        hits = list(self._hits(self._alerts, q.not_delivered_to(channel), q.ALERTS_OLDEST_FIRST,
                               source_includes=["id"]))
        out: list[Alert] = []
        for start in range(0, len(hits), IDS_PER_LOOKUP):
            chunk = hits[start : start + IDS_PER_LOOKUP]
            body = self.client.mget(docs=[{"_index": hit["_index"], "_id": hit["_id"]} for hit in chunk]).body
            out += [docs.alert_from_doc(doc["_source"]) for doc in body["docs"]
                    if doc.get("found") and channel not in (doc["_source"].get("delivered_to") or [])]
        return out

    def claim_delivery(self, alert_id: str, channel: str, owner: str, until: datetime, now: datetime) -> bool:
        """One conditional write decides: create the claim if there is none, or take over an
        expired one guarded by `if_seq_no`, so of two senders only one wins."""
        key = docs.delivery_id(alert_id, channel)
        if self._get(self.names.index("deliveries"), key).get("found"):
            return False
        claims = self.names.index("delivery_claims")
        held = self._get(claims, key)
        body = docs.claim_doc(alert_id, channel, owner, until)
        try:
            if not held.get("found"):
                self.client.create(index=claims, id=key, document=body, refresh=self.refresh)
                return True
            current = held["_source"]
            if current["owner"] != owner and docs.parse_iso(current["expires_at"]) > now:
                return False
            self.client.index(index=claims, id=key, document=body, refresh=self.refresh,
                              if_seq_no=held["_seq_no"], if_primary_term=held["_primary_term"])
            return True
        except ConflictError:
            return False  # another sender claimed it in between

    def release_delivery(self, alert_id: str, channel: str, owner: str) -> None:
        claims = self.names.index("delivery_claims")
        key = docs.delivery_id(alert_id, channel)
        held = self._get(claims, key)
        if held.get("found") and held["_source"]["owner"] == owner:
            try:
                self.client.delete(index=claims, id=key, refresh=self.refresh,
                                   if_seq_no=held["_seq_no"], if_primary_term=held["_primary_term"])
            except (ConflictError, NotFoundError):
                pass  # taken over or released meanwhile: not ours any more

    def mark_delivered(self, alert_id: str, channel: str) -> None:
        """Log the delivery, then take the alert out of the channel's outbox.

        In that order: a crash in between leaves the alert in the outbox, so it is sent
        again (at least once) rather than never.
        """
        try:
            self.client.create(
                index=self.names.index("deliveries"), id=docs.delivery_id(alert_id, channel),
                document=docs.delivery_doc(alert_id, channel, self._now()), refresh=self.refresh,
            )
            self._wrote(self.names.index("deliveries"))
        except ConflictError:
            pass  # delivered before; still make sure the alert says so
        try:
            self._update_alert(alert_id, lambda doc: docs.add_delivery(doc, channel))
        except KeyError:
            pass  # as in SQLite, a delivery of an unknown alert is only logged
        self.client.options(ignore_status=404).delete(
            index=self.names.index("delivery_claims"), id=docs.delivery_id(alert_id, channel), refresh=self.refresh)
