"""The JSON API: the same inbox and trend the page shows, for scripts and integrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from monitor.models import AlertState
from monitor.web import queries
from monitor.web.deps import StoreDep
from monitor.web.schemas import AlertOut, Health, StateChange, StatsOut, TrendOut, TrendPointOut

router = APIRouter()

NOT_FOUND = {status.HTTP_404_NOT_FOUND: {"description": "No alert with that id"}}


def _alert_or_404(store: StoreDep, alert_id: str) -> AlertOut:
    alert = store.get_alert(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
    return queries.with_mentions(store, [alert])[0]


@router.get("/api/alerts", response_model=list[AlertOut], tags=["alerts"])
def list_alerts(
    store: StoreDep,
    state: Annotated[
        list[AlertState] | None, Query(description="Repeat to combine. Default: open and acknowledged (the inbox).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    """Alerts newest first, each with its mention embedded."""
    return queries.with_mentions(store, store.alerts(state or list(queries.INBOX_STATES), limit=limit))


@router.get("/api/alerts/{alert_id:path}", response_model=AlertOut, responses=NOT_FOUND, tags=["alerts"])
def get_alert(store: StoreDep, alert_id: str) -> AlertOut:
    return _alert_or_404(store, alert_id)


@router.post("/api/alerts/{alert_id:path}/state", response_model=AlertOut, responses=NOT_FOUND, tags=["alerts"])
def set_alert_state(store: StoreDep, alert_id: str, change: StateChange) -> AlertOut:
    """Move an alert through its lifecycle (acknowledge, resolve, dismiss, or reopen)."""
    _alert_or_404(store, alert_id)
    try:
        store.set_alert_state(alert_id, change.state)
    except KeyError:  # deleted between the check and the update
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}") from None
    return _alert_or_404(store, alert_id)


@router.get("/api/trend", response_model=TrendOut, tags=["trend"])
def trend(store: StoreDep, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24) -> TrendOut:
    """Mentions per hour by source and sentiment, for the `hours` ending at the newest observation."""
    window = queries.trend_window(store, hours)
    points = [TrendPointOut(bucket=p.bucket, source=p.source, label=p.label, count=p.count) for p in window.points]
    return TrendOut(hours=hours, since=window.since, until=window.until, points=points)


@router.get("/api/stats", response_model=StatsOut, tags=["trend"])
def stats(store: StoreDep) -> StatsOut:
    return queries.stats(store)


@router.get("/healthz", response_model=Health, tags=["ops"],
            responses={503: {"description": "The store cannot be read"}})
def healthz(store: StoreDep) -> Health | JSONResponse:
    """Liveness that also proves the store answers, so a broken database fails the probe."""
    try:
        store.count_mentions()
    except Exception as exc:  # noqa: BLE001 - any store failure means unhealthy
        return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
    return Health()
