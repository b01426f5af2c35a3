"""The JSON API: the inbox, triage actions, metrics and trend the page shows, for scripts and integrations.

Every route needs `Authorization: Bearer <token>` (or a signed-in session; writes
with a session also need `X-CSRF-Token`). Writes are recorded in the alert's audit
trail under the caller's name.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from monitor import triage
from monitor.models import Alert, AlertEvent, AlertState, Severity
from monitor.store.base import InvalidQuery
from monitor.store.paging import MAX_CURSOR_CHARS
from monitor.web import queries
from monitor.web.auth import ApiActor, PrincipalDep
from monitor.web.cases import Filters
from monitor.web.decoding import StrictRoute
from monitor.web.deps import ConfigDep, NowDep, StoreDep
from monitor.web.metrics import metrics_window
from monitor.web.schemas import (
    AlertDetailOut, AlertOut, AssignmentIn, Health, InboxOut, MetricsOut, NoteIn, QuarantinedOut, QuarantineOut, StateChange,
    StatsOut, TaxonomyOut, TopicOut, TrendOut, TrendPointOut,
)

log = logging.getLogger(__name__)
router = APIRouter(route_class=StrictRoute)

NOT_FOUND = {status.HTTP_404_NOT_FOUND: {"description": "No alert with that id"}}
UNAUTHORIZED = {status.HTTP_401_UNAUTHORIZED: {"description": "Missing or wrong bearer token"}}
WRITE_ERRORS = {
    **NOT_FOUND,
    status.HTTP_403_FORBIDDEN: {"description": "A session cookie without its X-CSRF-Token"},
    status.HTTP_409_CONFLICT: {"description": "Not allowed from the alert's state, or someone else changed it first"},
}


def _alert(store: StoreDep, alert_id: str) -> Alert:
    alert = store.get_alert(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
    return alert


def _out(store: StoreDep, alert_id: str) -> AlertOut:
    return queries.with_mentions(store, [_alert(store, alert_id)])[0]


@router.get("/api/alerts", response_model=list[AlertOut], responses=UNAUTHORIZED, tags=["alerts"])
def list_alerts(
    store: StoreDep,
    principal: PrincipalDep,
    state: Annotated[
        list[AlertState] | None, Query(description="Repeat to combine. Default: open and acknowledged (the inbox).")
    ] = None,
    brand: Annotated[str, Query(description="Only this brand.")] = "",
    topic: Annotated[str, Query(description="Only this topic (the alert's, else its post's).")] = "",
    team: Annotated[str, Query(description="Only this owning team.")] = "",
    assignee: Annotated[str, Query(description="A person or team; `me` or `unassigned`.")] = "",
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    """Alerts newest first, each with its post embedded; filters combine (all must hold)."""
    filters = Filters(brand=brand, topic=topic, team=team, assignee=assignee, severity=severity.value if severity else "")
    found = store.alerts(state or list(triage.ACTIVE_STATES), limit=queries.COUNT_LIMIT if filters.active else limit)
    alerts = queries.with_mentions(store, found)
    if filters.active:
        alerts = [a for a in alerts if filters.alert(a, a.mention, principal.name)][:limit]
    return alerts


@router.get("/api/inbox", response_model=InboxOut, responses={
    **UNAUTHORIZED, status.HTTP_422_UNPROCESSABLE_CONTENT: {"description": "A cursor that is not one"}}, tags=["alerts"])
def inbox(
    store: StoreDep,
    principal: PrincipalDep,
    state: Annotated[AlertState | None, Query(description="open or acknowledged: that group of the inbox; "
                                                          "resolved or dismissed: the closed cases.")] = None,
    brand: Annotated[str, Query(max_length=200)] = "",
    topic: Annotated[str, Query(max_length=200, description="The alert's topic, else its post's.")] = "",
    team: Annotated[str, Query(max_length=200)] = "",
    assignee: Annotated[str, Query(max_length=200, description="A person or team; `me` or `unassigned`.")] = "",
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    cursor: Annotated[str, Query(max_length=MAX_CURSOR_CHARS, description="`next_cursor` of the previous page.")] = "",
) -> InboxOut:
    """The inbox as the page shows it: one case per post, open first, then most severe and newest,
    a keyset page at a time; filters apply to each case's primary alert."""
    filters = Filters(brand=brand, topic=topic, team=team, assignee=assignee,
                      severity=severity.value if severity else "", state=state.value if state else "")
    try:
        page = store.alert_cases(filters.case_query(principal.name, limit, cursor or None))
    except InvalidQuery as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return InboxOut(cases=queries.with_mentions(store, page.primaries), counts=page.counts,
                    next_cursor=page.next_cursor)


@router.get("/api/alerts/{alert_id:alert_id}/events", response_model=list[AlertEvent],
            responses={**NOT_FOUND, **UNAUTHORIZED}, tags=["alerts"])
def alert_events(store: StoreDep, alert_id: str) -> list[AlertEvent]:
    """The alert's audit trail, oldest first: state changes, assignments and notes, with who and when."""
    _alert(store, alert_id)
    return store.alert_events([alert_id])


@router.get("/api/alerts/{alert_id:alert_id}", response_model=AlertDetailOut,
            responses={**NOT_FOUND, **UNAUTHORIZED}, tags=["alerts"])
def get_alert(store: StoreDep, alert_id: str) -> AlertDetailOut:
    """One alert with its post, its audit trail and the post's other alerts."""
    out = _out(store, alert_id)
    related = [a for a in triage.case_alerts(store, out) if a.id != out.id]
    return AlertDetailOut(**out.model_dump(), events=store.alert_events([alert_id]), related=related)


def _triage_errors(exc: Exception) -> HTTPException:
    if isinstance(exc, KeyError):
        return HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {exc.args[0]!r}")
    if isinstance(exc, triage.MissingReason):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


@router.post("/api/alerts/{alert_id:alert_id}/state", response_model=AlertOut, responses=WRITE_ERRORS, tags=["triage"])
def set_alert_state(store: StoreDep, alert_id: str, change: StateChange, actor: ApiActor, now: NowDep) -> AlertOut:
    """Acknowledge, resolve, dismiss (with a reason) or reopen (`open`) an alert.

    Allowed: open -> acknowledged | resolved | dismissed; acknowledged -> resolved |
    dismissed; resolved | dismissed -> open. Anything else is 409.
    """
    try:
        if change.apply_to == "post":
            triage.change_case_state(store, alert_id, change.state, actor.actor, now, change.reason)
        else:
            triage.change_state(store, alert_id, change.state, actor.actor, now, change.reason)
    except (KeyError, triage.TriageError) as exc:
        raise _triage_errors(exc) from None
    return _out(store, alert_id)


@router.post("/api/alerts/{alert_id:alert_id}/assignee", response_model=AlertOut, responses=WRITE_ERRORS, tags=["triage"])
def set_assignee(store: StoreDep, alert_id: str, change: AssignmentIn, actor: ApiActor, now: NowDep) -> AlertOut:
    """Assign the alert to a person or a team (null unassigns)."""
    try:
        if change.apply_to == "post":
            triage.assign_case(store, alert_id, change.assignee, actor.actor, now)
        else:
            triage.assign(store, alert_id, change.assignee, actor.actor, now)
    except (KeyError, triage.TriageError) as exc:
        raise _triage_errors(exc) from None
    return _out(store, alert_id)


@router.post("/api/alerts/{alert_id:alert_id}/notes", response_model=AlertEvent, status_code=status.HTTP_201_CREATED,
             responses=WRITE_ERRORS, tags=["triage"])
def add_note(store: StoreDep, alert_id: str, note: NoteIn, actor: ApiActor, now: NowDep) -> AlertEvent:
    """Add a note to the alert's audit trail."""
    try:
        return triage.add_note(store, alert_id, note.text, actor.actor, now)
    except (KeyError, triage.TriageError) as exc:
        raise _triage_errors(exc) from None


@router.get("/api/metrics", response_model=MetricsOut, responses=UNAUTHORIZED, tags=["triage"])
def metrics(store: StoreDep, now: NowDep, days: Annotated[int, Query(ge=1, le=365)] = 7) -> MetricsOut:
    """Time to first response and to resolve, resolution rate, alerts per day and the share dismissed
    as noise, over the alerts created in the last `days` days."""
    return metrics_window(store, days, now)


@router.get("/api/quarantine", response_model=QuarantineOut, responses=UNAUTHORIZED, tags=["operations"])
def quarantine(store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> QuarantineOut:
    """Records the sources gave that could not be read or stored, newest first: what to fix upstream."""
    records = [QuarantinedOut(source=q.source, where=q.where, reason=q.reason, head=q.head, at=q.at)
               for q in store.quarantined(limit)]
    return QuarantineOut(total=store.count_quarantined(), records=records)


@router.get("/api/topics", response_model=TaxonomyOut, responses=UNAUTHORIZED, tags=["triage"])
def topics(config: ConfigDep) -> TaxonomyOut:
    """The configured topics and the teams that own them."""
    return TaxonomyOut(topics=[TopicOut(name=t.name, team=t.team) for t in config.topics.taxonomy],
                       teams=config.topics.team_names())


@router.get("/api/trend", response_model=TrendOut, responses=UNAUTHORIZED, tags=["trend"])
def trend(store: StoreDep, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24) -> TrendOut:
    """Mentions per hour by source and sentiment, for the `hours` ending at the newest observation."""
    window = queries.trend_window(store, hours)
    points = [TrendPointOut(bucket=p.bucket, source=p.source, label=p.label, count=p.count) for p in window.points]
    return TrendOut(hours=hours, since=window.since, until=window.until, points=points)


@router.get("/api/stats", response_model=StatsOut, responses=UNAUTHORIZED, tags=["trend"])
def stats(store: StoreDep) -> StatsOut:
    return queries.stats(store)


@router.get("/healthz", response_model=Health, tags=["ops"],
            responses={503: {"description": "The store cannot be read"}})
def healthz(store: StoreDep) -> Health | JSONResponse:
    """Liveness that also proves the store answers, so a broken database fails the probe. Needs no sign-in."""
    try:
        store.count_mentions()
    except Exception:  # noqa: BLE001 - any store failure means unhealthy
        log.exception("health check: the store cannot be read")  # details in the log: this endpoint is public
        return JSONResponse({"status": "error"}, status_code=503)
    return Health()
