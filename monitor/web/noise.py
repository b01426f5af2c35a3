"""Spam verdicts from the inbox and the API: "not spam", and "spam" again to undo it.

Both go through `monitor.triage.mark_spam`, so each is an entry in the alert's audit trail
(who, when, why) and survives re-judging (monitor/noise). The card shows the flag with its
reasons, and a cluster of copies as "posted 37 times by 30 accounts" (`monitor.web.cases`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from monitor import triage
from monitor.web.api import WRITE_ERRORS, _triage_errors
from monitor.web.auth import ApiActor, FormActor
from monitor.web.decoding import StrictRoute
from monitor.web.deps import NowDep, StoreDep
from monitor.web.forms import Next, _done, _problem

router = APIRouter(route_class=StrictRoute)


class SpamVerdictIn(BaseModel):
    """Body of `POST /api/alerts/{alert_id}/spam`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"not_spam": True, "reason": "A real customer quoting the promo"}]})

    not_spam: bool = Field(description="true: the post is not spam (clears the flag); false: it is spam after all.")
    reason: str | None = Field(None, max_length=4000)


class SpamFlagOut(BaseModel):
    mention_id: str
    spam: bool = Field(description="Flagged as spam now (the scorer's verdict, unless a person said otherwise).")
    not_spam: bool = Field(description="A person marked it not spam.")
    score: float
    reasons: list[str]


@router.post("/api/alerts/{alert_id:alert_id}/spam", response_model=SpamFlagOut, responses=WRITE_ERRORS,
             tags=["triage"])
def set_spam_verdict(store: StoreDep, alert_id: str, verdict: SpamVerdictIn, actor: ApiActor,
                     now: NowDep) -> SpamFlagOut:
    """Mark the alert's post as not spam (or as spam again), recorded in the audit trail."""
    try:
        mark = triage.mark_spam(store, alert_id, verdict.not_spam, actor.actor, now, verdict.reason)
    except (KeyError, triage.TriageError) as exc:
        raise _triage_errors(exc) from None
    return SpamFlagOut(mention_id=mark.mention_id, spam=mark.is_spam, not_spam=mark.not_spam,
                       score=mark.spam_score, reasons=list(mark.spam_reasons))


@router.post("/alerts/{alert_id:alert_id}/spam", include_in_schema=False)
def spam_form(
    request: Request, store: StoreDep, actor: FormActor, now: NowDep, alert_id: str,
    verdict: Annotated[str, Form(max_length=20)], reason: Annotated[str, Form(max_length=4000)] = "", next: Next = "/",
) -> Response:
    if verdict not in ("not_spam", "spam"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "verdict: not_spam or spam")
    try:
        triage.mark_spam(store, alert_id, verdict == "not_spam", actor.actor, now, reason)
    except (KeyError, triage.TriageError) as exc:
        return _problem(request, exc, next)
    return _done(next)
