"""The server-rendered pages: the alert inbox with the trend, and the plain-HTML state forms.

Acknowledge/Resolve are ordinary form POSTs answered with a 303 redirect, so the
inbox works without JavaScript and a browser refresh never re-submits an action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from monitor.models import Alert, AlertState, Mention, Severity
from monitor.web import charts, queries
from monitor.web.charts import Sparkline
from monitor.web.deps import StoreDep

router = APIRouter(include_in_schema=False)

TREND_WINDOWS = [(6, "6 h"), (24, "24 h"), (72, "3 days"), (168, "7 days")]


@dataclass(frozen=True)
class AlertCard:
    alert: Alert
    mention: Mention | None
    spark: Sparkline | None
    escalated_to: Severity | None = None  # a more severe alert for the same post is in the inbox too


def _cards(store: StoreDep, alerts: list[Alert], inbox: list[Alert]) -> list[AlertCard]:
    """View models for one inbox group; `inbox` is every shown alert, to spot escalations."""
    mentions = store.get_mentions(a.mention_id for a in alerts if a.mention_id)
    worst: dict[str, Severity] = {}
    for a in inbox:
        key = a.mention_id or a.id  # storm alerts concern a brand, not one post
        if key not in worst or a.severity.rank > worst[key].rank:
            worst[key] = a.severity
    return [
        AlertCard(
            a, mentions.get(a.mention_id) if a.mention_id else None,
            charts.sparkline(queries.engagement_series(store.snapshots_for(a.mention_id))) if a.mention_id else None,
            worst[a.mention_id or a.id] if worst[a.mention_id or a.id].rank > a.severity.rank else None,
        )
        for a in queries.inbox_order(alerts)
    ]


@router.get("/", response_class=HTMLResponse)
def inbox(request: Request, store: StoreDep, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24) -> HTMLResponse:
    alerts = store.alerts(list(queries.INBOX_STATES), limit=500)
    window = queries.trend_window(store, hours)
    context = {
        "brands": [b.name for b in request.app.state.config.brands],
        "open_cards": _cards(store, [a for a in alerts if a.state == AlertState.open], alerts),
        "acknowledged_cards": _cards(store, [a for a in alerts if a.state == AlertState.acknowledged], alerts),
        "stats": queries.stats(store),
        "window": window,
        "windows": TREND_WINDOWS,
        "sentiment_chart": charts.sentiment_chart(window.points, window.until),
        "source_chart": charts.source_chart(window.points, window.until),
    }
    return request.app.state.templates.TemplateResponse(request, "inbox.html", context)


@router.post("/alerts/{alert_id:path}/state")
def change_state(store: StoreDep, alert_id: str, state: Annotated[AlertState, Form()]) -> RedirectResponse:
    try:
        store.set_alert_state(alert_id, state)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}") from None
    return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
