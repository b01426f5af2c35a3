"""Replies on X: `tweepy.Client.create_tweet(in_reply_to_tweet_id=...)` as the brand's account.

X takes posts only with a user context (OAuth 1.0a: the app's consumer key and the account's
access token); the app-only bearer token the source reads with is refused (403). Errors, as
the API v2 reference documents them: 429 (rate limit, with `x-rate-limit-reset`), 403 "You
attempted to reply to a Tweet that is deleted or not visible to you" (the original is gone),
403 otherwise (the account may not reply there), 401 (credentials revoked), 400 (the text).
"""

from __future__ import annotations

import time

import requests
import tweepy

from monitor.replies.base import FailureKind, Posted, ReplyFailed, ReplyTarget
from monitor.replies.settings import XReplySettings
from monitor.sources.x.settings import TWEEPY_HOST
from monitor.sources.x.client import _BaseURLAdapter

DELETED_HINTS = ("deleted or not visible", "not found", "does not exist")


def _detail(exc: tweepy.HTTPException) -> str:
    parts = list(exc.api_messages) or [str(exc)]
    return "; ".join(parts)[:500]


class XReplier:
    platform = "X"
    max_chars = XReplySettings.max_chars

    def __init__(self, settings: XReplySettings, credentials: dict[str, str], base_url: str) -> None:
        self.client = tweepy.Client(
            consumer_key=credentials["consumer_key"], consumer_secret=credentials["consumer_secret"],
            access_token=credentials["access_token"], access_token_secret=credentials["access_token_secret"],
            wait_on_rate_limit=False,  # a rate limit is the agent's to see, never a silent wait
        )
        self.client.session.mount(TWEEPY_HOST, _BaseURLAdapter(base_url, settings.timeout_seconds))

    def post(self, target: ReplyTarget, text: str, idempotency_key: str = "") -> Posted:
        try:
            response = self.client.create_tweet(text=text, in_reply_to_tweet_id=target.native_id, user_auth=True)
        except tweepy.TooManyRequests as exc:
            reset = exc.response.headers.get("x-rate-limit-reset", "")
            wait = max(int(reset) - time.time(), 0) if reset.isdigit() else None
            raise ReplyFailed(FailureKind.rate_limited, _detail(exc), wait) from None
        except tweepy.NotFound as exc:
            raise ReplyFailed(FailureKind.deleted, _detail(exc)) from None
        except tweepy.Forbidden as exc:
            detail = _detail(exc)
            kind = FailureKind.deleted if any(h in detail.lower() for h in DELETED_HINTS) else FailureKind.forbidden
            raise ReplyFailed(kind, detail) from None
        except tweepy.Unauthorized as exc:
            raise ReplyFailed(FailureKind.forbidden, f"credentials refused: {_detail(exc)}") from None
        except tweepy.BadRequest as exc:
            raise ReplyFailed(FailureKind.rejected, _detail(exc)) from None
        except (tweepy.TwitterServerError, requests.RequestException) as exc:
            raise ReplyFailed(FailureKind.unknown, type(exc).__name__) from None
        data = response.data if isinstance(response.data, dict) else {}
        reply_id = str(data.get("id") or "")
        if not reply_id:
            raise ReplyFailed(FailureKind.unknown, "X answered without the new post's id")
        return Posted(reply_id, f"https://x.com/i/web/status/{reply_id}")
