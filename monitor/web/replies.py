"""Replying from the alert page (a plain form) and the API: the reply desk (monitor/replies/desk.py) behind both.

The form answers with a 303 back to the alert's page, where the reply panel shows the outcome:
the link to the posted reply, or what went wrong and a button to try again. Nothing is retried
unless the agent presses it. The API returns the same outcome as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from monitor.models import Alert, Mention
from monitor.replies.desk import ReplyAttempt, ReplyDesk, ReplyError, ReplyInFlight, reply_attempts
from monitor.triage import TriageError
from monitor.web.api import UNAUTHORIZED, WRITE_ERRORS
from monitor.web.auth import ApiActor, FormActor, safe_next
from monitor.web.decoding import StrictRoute
from monitor.web.deps import StoreDep
from monitor.web.templating import render

router = APIRouter(route_class=StrictRoute)

MAX_REPLY_CHARS = 10_000  # the longest any platform takes (Reddit); each platform's own limit is checked too


def desk_of(request: Request) -> ReplyDesk:
    return request.app.state.replies


def _clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock


class ReplyIn(BaseModel):
    """Body of `POST /api/alerts/{alert_id}/replies`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "Sorry about that, Ana: "
                                                                               "we have refunded the charge."}]})
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)


class ReplyOut(BaseModel):
    """A reply attempt and its outcome."""

    id: str
    at: datetime
    actor: str
    text: str
    status: str = Field(description="posted, failed, or pending (sent; outcome not known yet)")
    url: str | None = Field(None, description="The posted reply")
    error: str | None = Field(None, description="Why it failed, for the agent")
    failure: str | None = Field(None, description="rate_limited, deleted, forbidden, rejected or unknown")
    already_posted: bool = Field(False, description="This text was posted before; nothing was sent now")


def _out(attempt: ReplyAttempt, failure: str | None = None, already: bool = False) -> ReplyOut:
    return ReplyOut(id=attempt.id, at=attempt.at, actor=attempt.actor, text=attempt.text, status=attempt.status.value,
                    url=attempt.url, error=attempt.error, failure=failure, already_posted=already)


def reply_context(request: Request, alert: Alert, mention: Mention | None, alert_ids: list[str],
                  events: list[Any], agent: str, use: int | None) -> dict[str, Any]:
    """What the alert page's reply panel shows: can the agent reply (or why not), saved replies, attempts."""
    desk = desk_of(request)
    saved = desk.saved_replies(mention, alert, agent)
    draft = saved[use].text if use is not None and 0 <= use < len(saved) else ""
    return {"reply": {"availability": desk.availability(mention), "saved": saved, "draft": draft,
                      "attempts": reply_attempts(e for e in events if e.alert_id in alert_ids)}}


@router.post("/alerts/{alert_id:alert_id}/reply", include_in_schema=False)
def reply_form(
    request: Request, store: StoreDep, actor: FormActor, alert_id: str,
    text: Annotated[str, Form(max_length=MAX_REPLY_CHARS)] = "", next: Annotated[str, Form()] = "/",
) -> Response:
    back = safe_next(next)
    try:
        desk_of(request).send(store, alert_id, text, actor.actor, _clock(request))
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {exc.args[0]!r}") from None
    except TriageError as exc:
        code = status.HTTP_409_CONFLICT if isinstance(exc, ReplyInFlight) else status.HTTP_422_UNPROCESSABLE_CONTENT
        if not isinstance(exc, ReplyError):
            code = status.HTTP_409_CONFLICT
        return render(request, "error.html", {"title": "The reply was not sent", "message": str(exc), "back": back},
                      status_code=code)
    return RedirectResponse(back.split("#")[0] + "#replies", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/api/alerts/{alert_id:alert_id}/replies", response_model=ReplyOut, tags=["triage"],
             responses={
                 **WRITE_ERRORS, **UNAUTHORIZED,
                 status.HTTP_409_CONFLICT: {"description": "The same reply is already on its way, or the alert "
                                                           "kept changing"},
                 status.HTTP_422_UNPROCESSABLE_CONTENT: {"description": "No write access to the platform, nothing "
                                                         "to reply to, or a text the platform cannot take"},
             })
def reply_api(request: Request, store: StoreDep, alert_id: str, body: ReplyIn, actor: ApiActor) -> ReplyOut:
    """Post a reply to the alert's post on its platform, once per text: the same text again returns the
    first reply (`already_posted`). A refusal by the platform is the answer's `failure` (status 200),
    recorded in the audit trail; sending the same text again is the request to retry."""
    try:
        outcome = desk_of(request).send(store, alert_id, body.text, actor.actor, _clock(request))
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {exc.args[0]!r}") from None
    except ReplyInFlight as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ReplyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except TriageError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _out(outcome.attempt, outcome.failure.kind.value if outcome.failure else None, outcome.already_posted)
