"""The server-rendered pages: the inbox (cases, filters, metrics, trend) and an alert's detail page.

Pages only read; the triage actions are plain-HTML form POSTs in `forms.py`, so
the UI works without JavaScript (the page carries none at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from monitor.models import Alert, AlertState, Severity
from monitor.store.base import InvalidQuery
from monitor.store.paging import MAX_CURSOR_CHARS
from monitor.triage import ACTIVE_STATES, TRANSITIONS, TrailEntry, case_trail
from monitor.web import charts, queries
from monitor.web.auth import PrincipalDep
from monitor.web.cases import ME, UNASSIGNED, Case, Filters, build_cases, filter_options
from monitor.web.decoding import StrictRoute
from monitor.web.deps import ConfigDep, NowDep, StoreDep
from monitor.web.metrics import metrics_window
from monitor.web.replies import reply_context
from monitor.web.templating import render

router = APIRouter(include_in_schema=False, route_class=StrictRoute)

TREND_WINDOWS = [(6, "6 h"), (24, "24 h"), (72, "3 days"), (168, "7 days")]
METRIC_WINDOWS = [(7, "7 d"), (30, "30 d"), (90, "90 d")]
INBOX_PAGE = 25  # cases per page: what an agent scans at once, and what one response renders
STATE_CHOICES = [("open", "Needs attention"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved"),
                 ("dismissed", "Dismissed")]
DISMISS_REASONS = ["Not about us", "Spam or bot", "Duplicate of another alert", "Already handled elsewhere",
                   "Not a complaint"]


def _people(config: ConfigDep, principal_name: str) -> list[str]:
    people = [m for team in config.topics.teams for m in team.members]
    people += [u.actor for u in config.web.auth.users]
    return list(dict.fromkeys([principal_name, *people]))


def inbox_filters(brand: str, topic: str, team: str, assignee: str, severity: str, state: str) -> Filters:
    """The filters from the query string; 422 for a severity or state that does not exist."""
    if severity and severity not in {s.value for s in Severity}:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "severity: info, warning or critical")
    if state and state not in {s.value for s in AlertState}:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "state: open, acknowledged, resolved or dismissed")
    return Filters(brand=brand, topic=topic, team=team, assignee=assignee, severity=severity, state=state)


@router.get("/", response_class=HTMLResponse)
def inbox(
    request: Request,
    store: StoreDep,
    config: ConfigDep,
    principal: PrincipalDep,
    now: NowDep,
    hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
    days: Annotated[int, Query(ge=1, le=365)] = 7,
    brand: str = "",
    topic: str = "",
    team: str = "",
    assignee: str = "",
    severity: str = "",
    state: str = "",
    cursor: Annotated[str, Query(max_length=MAX_CURSOR_CHARS)] = "",
) -> Response:
    """The inbox: one page of cases (the store picks and orders them), the totals, metrics and trend.

    Only the page's cards are built and rendered; the next page is a link carrying the keyset
    cursor and every filter, so any page of the inbox can be bookmarked and reached."""
    filters = inbox_filters(brand, topic, team, assignee, severity, state)
    try:
        page = store.alert_cases(filters.case_query(principal.name, INBOX_PAGE, cursor or None))
    except InvalidQuery as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    cases = build_cases(store, page.primaries)
    closed = filters.state not in ("", *ACTIVE_STATES)  # listing resolved or dismissed cases
    total_cases = sum(page.counts.values())
    if filters.active:  # "showing N of M": M counts every open or acknowledged case
        total_cases = sum(store.alert_cases(Filters().case_query(principal.name, 0)).counts.values())
    window = queries.trend_window(store, hours)
    teams = config.topics.team_names()
    params = {"hours": hours if hours != 24 else None, "days": days if days != 7 else None, **filters.as_params()}
    paged = {**params, "cursor": cursor or None}
    context = {
        "open_cases": [] if closed else [c for c in cases if c.state == AlertState.open],
        "acknowledged_cases": [] if closed else [c for c in cases if c.state != AlertState.open],
        "closed_cases": cases if closed else [],
        "counts": page.counts,
        "shown_cases": sum(n for s, n in page.counts.items() if not filters.state or s.value == filters.state),
        "total_cases": total_cases,
        "next_cursor": page.next_cursor,
        "first_page": not cursor,
        "page_size": INBOX_PAGE,
        "filters": filters,
        "options": filter_options([b.name for b in config.brands], [t.name for t in config.topics.taxonomy],
                                  teams, _people(config, principal.name), cases, filters),
        "me": ME, "unassigned": UNASSIGNED,
        "states": STATE_CHOICES,
        "teams": teams,
        "people": _people(config, principal.name),
        "dismiss_reasons": DISMISS_REASONS,
        "params": params,
        "paged": paged,
        "here": request.url.path + ("?" + request.url.query if request.url.query else ""),
        "metrics": metrics_window(store, days, now),
        "metric_windows": METRIC_WINDOWS,
        "stats": queries.stats(store),
        "window": window,
        "windows": TREND_WINDOWS,
        "sentiment_chart": charts.sentiment_chart(window.points, window.until),
        "source_chart": charts.source_chart(window.points, window.until),
    }
    return render(request, "inbox.html", context)


@dataclass(frozen=True)
class TimelineItem:
    """A line of the alert page's activity: an alert Earshot raised, or an action by a person."""

    at: datetime
    raised: Alert | None = None
    entry: TrailEntry | None = None


def _timeline(case: Case, trail: list[TrailEntry]) -> list[TimelineItem]:
    items = [TimelineItem(a.created_at, raised=a) for a in case.alerts]
    items += [TimelineItem(e.at, entry=e) for e in trail]
    return sorted(items, key=lambda i: (i.at, i.entry is not None))


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, store: StoreDep,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """Input Earshot set aside (undecodable, oversized, malformed records), so an operator can fix its source."""
    return render(request, "quarantine.html", {
        "records": store.quarantined(limit), "total": store.count_quarantined(), "limit": limit,
        "stats": queries.stats(store),
    })


@router.get("/alerts/{alert_id:alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, store: StoreDep, config: ConfigDep, principal: PrincipalDep,
               alert_id: str, use: Annotated[int | None, Query(ge=0, le=1000)] = None) -> Response:
    """One case: the post, its escalation, every action available, and the full audit trail."""
    alert = store.get_alert(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
    case: Case = build_cases(store, [alert], pick_primary=True)[0]
    severities = {a.id: a.severity for a in case.alerts}
    states = {a.state for a in case.alerts}
    events = store.alert_events(severities)
    context = {
        **reply_context(request, case.primary, case.mention, list(severities), events, principal.name, use),
        "case": case,
        "alert": alert,
        "timeline": _timeline(case, case_trail(events)),
        "severities": severities,
        "can": {target.value: any(target in TRANSITIONS[s] for s in states) for target in AlertState},
        "teams": config.topics.team_names(),
        "people": _people(config, principal.name),
        "dismiss_reasons": DISMISS_REASONS,
        "here": request.url.path,
        "stats": queries.stats(store),
        "severity_order": [s.value for s in reversed(Severity)],
    }
    return render(request, "alert.html", context)
