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
from monitor.triage import TRANSITIONS, TrailEntry, case_trail
from monitor.web import charts, queries
from monitor.web.auth import PrincipalDep
from monitor.web.cases import ME, UNASSIGNED, Case, Filters, build_cases, filter_options
from monitor.web.decoding import StrictRoute
from monitor.web.deps import ConfigDep, NowDep, StoreDep
from monitor.web.metrics import metrics_window
from monitor.web.templating import render

router = APIRouter(include_in_schema=False, route_class=StrictRoute)

TREND_WINDOWS = [(6, "6 h"), (24, "24 h"), (72, "3 days"), (168, "7 days")]
METRIC_WINDOWS = [(7, "7 d"), (30, "30 d"), (90, "90 d")]
DISMISS_REASONS = ["Not about us", "Spam or bot", "Duplicate of another alert", "Already handled elsewhere",
                   "Not a complaint"]


def _people(config: ConfigDep, principal_name: str) -> list[str]:
    people = [m for team in config.topics.teams for m in team.members]
    people += [u.actor for u in config.web.auth.users]
    return list(dict.fromkeys([principal_name, *people]))


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
) -> Response:
    filters = Filters(brand=brand, topic=topic, team=team, assignee=assignee, severity=severity)
    cases = build_cases(store, store.alerts(list(queries.INBOX_STATES), limit=500))
    shown = [c for c in cases if filters.case(c, principal.name)]
    window = queries.trend_window(store, hours)
    teams = config.topics.team_names()
    params = {"hours": hours if hours != 24 else None, "days": days if days != 7 else None, **filters.as_params()}
    context = {
        "open_cases": [c for c in shown if c.state == AlertState.open],
        "acknowledged_cases": [c for c in shown if c.state != AlertState.open],
        "total_cases": len(cases),
        "filters": filters,
        "options": filter_options([b.name for b in config.brands], [t.name for t in config.topics.taxonomy],
                                  teams, _people(config, principal.name), cases),
        "me": ME, "unassigned": UNASSIGNED,
        "teams": teams,
        "people": _people(config, principal.name),
        "dismiss_reasons": DISMISS_REASONS,
        "params": params,
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
               alert_id: str) -> Response:
    """One case: the post, its escalation, every action available, and the full audit trail."""
    alert = store.get_alert(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
    case: Case = build_cases(store, [alert])[0]
    severities = {a.id: a.severity for a in case.alerts}
    states = {a.state for a in case.alerts}
    context = {
        "case": case,
        "alert": alert,
        "timeline": _timeline(case, case_trail(store.alert_events(severities))),
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
