"""Replies on Reddit: praw's `Submission.reply` / `Comment.reply` as the brand's account.

Reddit takes comments only from a user: a script app with the account's username and password
(the source's app-only token speaks for nobody and gets USER_REQUIRED). Refusals come back two
ways, both handled: HTTP statuses (429 rate limit, 403 banned or suspended) and, with status 200,
`json.errors` entries such as RATELIMIT, DELETED_LINK / DELETED_COMMENT (the original is gone)
and THREAD_LOCKED / TOO_OLD (no more replies there).

Nothing is retried here: prawcore would repeat a POST after a 5xx or a dropped connection, when
the comment may already exist, and praw would wait out a short RATELIMIT and post again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import praw
import prawcore
from praw.exceptions import RedditAPIException
from prawcore.sessions import RetryStrategy

from monitor.replies.base import FailureKind, Posted, ReplyFailed, ReplyTarget
from monitor.replies.settings import RedditReplySettings

PUBLIC_URL = "https://www.reddit.com"
KINDS = {
    "RATELIMIT": FailureKind.rate_limited,
    "DELETED_LINK": FailureKind.deleted, "DELETED_COMMENT": FailureKind.deleted, "NOT_FOUND": FailureKind.deleted,
    "THREAD_LOCKED": FailureKind.forbidden, "TOO_OLD": FailureKind.forbidden, "USER_REQUIRED": FailureKind.forbidden,
    "SUBREDDIT_NOTALLOWED": FailureKind.forbidden, "BANNED_FROM_SUBREDDIT": FailureKind.forbidden,
}


class _NoRetry(RetryStrategy):
    """One attempt per request, no sleep before it."""

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> RetryStrategy:
        return self

    def should_retry_on_failure(self) -> bool:
        return False


def _token_url(settings: RedditReplySettings, base_url: str) -> str:
    if settings.token_url:
        return settings.token_url.rstrip("/")
    return PUBLIC_URL if urlsplit(base_url).netloc.endswith("reddit.com") else base_url


class RedditReplier:
    platform = "Reddit"
    max_chars = RedditReplySettings.max_chars

    def __init__(self, settings: RedditReplySettings, credentials: dict[str, str], base_url: str) -> None:
        self.reddit = praw.Reddit(
            client_id=credentials["client_id"], client_secret=credentials["client_secret"],
            username=credentials["username"], password=credentials["password"], user_agent=settings.user_agent,
            oauth_url=base_url, reddit_url=_token_url(settings, base_url), timeout=int(settings.timeout_seconds),
            ratelimit_seconds=0, check_for_updates=False, check_for_async=False,
        )
        # prawcore's own retries, off: a retried POST may post twice (the session is praw's `_core`).
        self.reddit._core._retry_strategy_class = _NoRetry

    def post(self, target: ReplyTarget, text: str, idempotency_key: str = "") -> Posted:
        kind, _, short_id = target.native_id.partition("_")
        thing = self.reddit.submission(id=short_id) if kind == "t3" else self.reddit.comment(id=short_id)
        try:
            comment = thing.reply(text)
        except RedditAPIException as exc:
            first = exc.items[0]
            detail = "; ".join(f"{i.error_type}: {i.message}" for i in exc.items)[:500]
            raise ReplyFailed(KINDS.get(first.error_type, FailureKind.rejected), detail) from None
        except prawcore.TooManyRequests as exc:
            raise ReplyFailed(FailureKind.rate_limited, "429 Too Many Requests",
                              _seconds(exc.response.headers.get("x-ratelimit-reset"))) from None
        except prawcore.NotFound:
            raise ReplyFailed(FailureKind.deleted, "404 Not Found") from None
        except (prawcore.Forbidden, prawcore.OAuthException, prawcore.InvalidToken,
                prawcore.InsufficientScope) as exc:
            raise ReplyFailed(FailureKind.forbidden, f"{type(exc).__name__}: {exc}"[:300]) from None
        except prawcore.BadRequest as exc:
            raise ReplyFailed(FailureKind.rejected, str(exc)[:300]) from None
        except prawcore.ResponseException as exc:
            if exc.response.status_code == 429:  # on the token request, which prawcore does not type
                raise ReplyFailed(FailureKind.rate_limited, "429 Too Many Requests",
                                  _seconds(exc.response.headers.get("x-ratelimit-reset"))) from None
            raise ReplyFailed(FailureKind.unknown, f"HTTP {exc.response.status_code}") from None
        except prawcore.PrawcoreException as exc:  # 5xx, network, a garbled answer: the reply may exist
            raise ReplyFailed(FailureKind.unknown, type(exc).__name__) from None
        if comment is None:
            raise ReplyFailed(FailureKind.unknown, "Reddit answered without the new comment")
        return Posted(comment.fullname, PUBLIC_URL + comment.permalink)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
