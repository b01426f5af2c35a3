"""Replies on Mastodon: Mastodon.py's `status_post(in_reply_to_id=...)` with the brand account's token.

The token needs the `write:statuses` scope (403 "outside the authorized scopes" otherwise).
A reply to a status that is gone is 404 "does not appear to exist"; 429 carries the reset
time. Each attempt is sent with an `Idempotency-Key`, which Mastodon honours for an hour:
one more guard against the same attempt being posted twice.
"""

from __future__ import annotations

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from monitor.replies.base import FailureKind, Posted, ReplyFailed, ReplyTarget
from monitor.replies.settings import MastodonReplySettings


def _detail(exc: Exception) -> str:
    # Mastodon.py's args: (message, status code, reason, error text from the body)
    parts = [str(a) for a in exc.args[1:] if a not in (None, "")] or [str(a) for a in exc.args[:1]]
    return " ".join(parts)[:300] or type(exc).__name__


class MastodonReplier:
    platform = "Mastodon"
    max_chars = MastodonReplySettings.max_chars

    def __init__(self, settings: MastodonReplySettings, credentials: dict[str, str], base_url: str) -> None:
        self.settings = settings
        self.api = Mastodon(access_token=credentials["access_token"], api_base_url=base_url,
                            ratelimit_method="throw", request_timeout=settings.timeout_seconds,
                            version_check_mode="none", session=requests.Session())

    def post(self, target: ReplyTarget, text: str, idempotency_key: str = "") -> Posted:
        try:
            status = self.api.status_post(text, in_reply_to_id=target.native_id, visibility=self.settings.visibility,
                                          idempotency_key=idempotency_key or None)
        except MastodonRatelimitError as exc:
            raise ReplyFailed(FailureKind.rate_limited, _detail(exc)) from None
        except MastodonNotFoundError as exc:
            raise ReplyFailed(FailureKind.deleted, _detail(exc)) from None
        except MastodonUnauthorizedError as exc:
            raise ReplyFailed(FailureKind.forbidden, f"token refused: {_detail(exc)}") from None
        except (MastodonNetworkError, MastodonServerError) as exc:
            raise ReplyFailed(FailureKind.unknown, type(exc).__name__) from None
        except MastodonAPIError as exc:
            status_code = exc.args[1] if len(exc.args) > 1 else None
            kind = {403: FailureKind.forbidden, 429: FailureKind.rate_limited}.get(status_code, FailureKind.rejected)
            raise ReplyFailed(kind, _detail(exc)) from None
        reply_id = str(status.get("id") or "")
        if not reply_id:
            raise ReplyFailed(FailureKind.unknown, "Mastodon answered without the new status")
        return Posted(reply_id, str(status.get("url") or status.get("uri") or ""))
