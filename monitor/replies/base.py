"""What a platform's replier is: one small class per platform behind the `Replier` protocol.

A replier posts one text as a reply to one post and says where the reply is, or raises
`ReplyFailed` with the kind of failure, so the inbox can tell the agent what happened in the
same words whatever the platform: rate-limited (try later), the original is gone, the account
may not reply there, the platform refused the text, or the outcome is unknown (the request
went out and no answer came back: the reply may exist, so nothing is retried by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class FailureKind(StrEnum):
    rate_limited = "rate_limited"  # the platform asks to wait (HTTP 429, Reddit's RATELIMIT)
    deleted = "deleted"  # the post replied to no longer exists (or is not visible to the account)
    forbidden = "forbidden"  # credentials rejected, or the account may not reply there (403, locked thread)
    rejected = "rejected"  # the platform refused the reply itself (too long, empty, duplicate)
    unknown = "unknown"  # no usable answer (timeout, 5xx, garbled): the reply may or may not exist


# What the agent reads first, before the platform's own message.
FAILURE_TEXT: dict[FailureKind, str] = {
    FailureKind.rate_limited: "rate limited by the platform; try again later",
    FailureKind.deleted: "the original post was deleted or is no longer visible",
    FailureKind.forbidden: "the account may not reply there (permission refused)",
    FailureKind.rejected: "the platform refused the reply",
    FailureKind.unknown: "no clear answer from the platform; check the post before retrying",
}


class ReplyFailed(Exception):
    """The platform did not take the reply; `kind` says why in the inbox's words."""

    def __init__(self, kind: FailureKind, detail: str, retry_after_seconds: float | None = None) -> None:
        self.kind, self.detail, self.retry_after_seconds = kind, detail, retry_after_seconds
        wait = f" (retry after {retry_after_seconds:.0f} s)" if retry_after_seconds else ""
        super().__init__(f"{FAILURE_TEXT[kind]}{wait}: {detail}")


@dataclass(frozen=True)
class ReplyTarget:
    """The post to answer, as the source stored it."""

    source: str
    native_id: str  # the platform's id: a tweet id, a fullname (t3_/t1_), a status id, an rkey, a review id
    url: str  # the public link (Bluesky's names the author; Google Play's names the app)
    author_handle: str


@dataclass(frozen=True)
class Posted:
    """The reply as the platform stored it."""

    native_id: str
    url: str  # a link the agent can open (the reply itself, or the review it answers)


class Replier(Protocol):
    """Posts replies on one platform for one account."""

    platform: str  # how people call it: "X", "Reddit", ...
    max_chars: int  # the longest reply the platform takes

    def post(self, target: ReplyTarget, text: str, idempotency_key: str) -> Posted:
        """Post `text` as a reply to `target`; ReplyFailed if the platform did not take it.

        `idempotency_key` names this attempt; a platform that deduplicates by key (Mastodon's
        `Idempotency-Key`) gets it, as one more guard against a reply posted twice.
        """
        ...
