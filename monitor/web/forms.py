"""The triage forms behind the inbox cards and the alert page.

Each is an ordinary form POST carrying the session's CSRF token, answered with a
303 redirect back to where the agent was (`next`, a local path), so a refresh never
re-submits an action. A card's actions apply to the whole post (every alert of an
escalated post), as `monitor.triage`'s `*_case` functions define.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from monitor import triage
from monitor.models import AlertState
from monitor.web.auth import FormActor, safe_next
from monitor.web.decoding import StrictRoute
from monitor.web.deps import NowDep, StoreDep
from monitor.web.templating import render

router = APIRouter(include_in_schema=False, route_class=StrictRoute)

Next = Annotated[str, Form()]


def _done(next_: str) -> RedirectResponse:
    return RedirectResponse(safe_next(next_), status_code=status.HTTP_303_SEE_OTHER)


def _problem(request: Request, exc: Exception, next_: str) -> Response:
    if isinstance(exc, KeyError):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {exc.args[0]!r}")
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if isinstance(exc, triage.MissingReason) else status.HTTP_409_CONFLICT
    return render(request, "error.html", {"title": "That action could not be applied", "message": str(exc),
                                          "back": safe_next(next_)}, status_code=code)


@router.post("/alerts/{alert_id:alert_id}/state")
def change_state(
    request: Request, store: StoreDep, actor: FormActor, now: NowDep, alert_id: str,
    state: Annotated[AlertState, Form()], reason: Annotated[str, Form(max_length=4000)] = "", next: Next = "/",
) -> Response:
    try:
        triage.change_case_state(store, alert_id, state, actor.actor, now, reason)
    except (KeyError, triage.TriageError) as exc:
        return _problem(request, exc, next)
    return _done(next)


@router.post("/alerts/{alert_id:alert_id}/assign")
def assign(
    request: Request, store: StoreDep, actor: FormActor, now: NowDep, alert_id: str,
    assignee: Annotated[str, Form(max_length=200)] = "", next: Next = "/",
) -> Response:
    try:
        triage.assign_case(store, alert_id, assignee, actor.actor, now)
    except (KeyError, triage.TriageError) as exc:
        return _problem(request, exc, next)
    return _done(next)


@router.post("/alerts/{alert_id:alert_id}/notes")
def add_note(
    request: Request, store: StoreDep, actor: FormActor, now: NowDep, alert_id: str,
    text: Annotated[str, Form(max_length=4000)] = "", next: Next = "/",
) -> Response:
    try:
        triage.add_note(store, alert_id, text, actor.actor, now)
    except (KeyError, triage.TriageError) as exc:
        return _problem(request, exc, next)
    return _done(next)
