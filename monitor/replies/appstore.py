"""Replies on the App Store: App Store Connect's customer review responses, with an API key.

`POST /v1/customerReviewResponses` with the JSON:API document Apple documents (type
customerReviewResponses, attribute responseBody, relationship review). The bearer token is a
JWT signed with the team's .p8 key (ES256, `kid` the key id, issuer the issuer id, audience
"appstoreconnect-v1", at most 20 minutes). Errors are JSON:API `errors` with a status and code:
404 NOT_FOUND (the review is gone), 403 FORBIDDEN_ERROR (the key's role may not respond), 401
NOT_AUTHORIZED, 429 RATE_LIMIT_EXCEEDED. A response is published after Apple's review of it
(state PENDING_PUBLISH), under the customer's review.
"""

from __future__ import annotations

import time

import httpx
import jwt

from monitor.replies.base import FailureKind, Posted, ReplyFailed, ReplyTarget
from monitor.replies.googleplay import failure_for
from monitor.replies.settings import AppStoreReplySettings

AUDIENCE = "appstoreconnect-v1"
TOKEN_LIFETIME = 15 * 60  # Apple refuses tokens that live longer than 20 minutes


def _apple_error(response: httpx.Response) -> str:
    try:
        first = response.json()["errors"][0]
        return f"{first.get('code')}: {first.get('detail') or first.get('title')}"[:300]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {response.status_code}"


class AppStoreReplier:
    platform = "App Store"
    max_chars = AppStoreReplySettings.max_chars

    def __init__(self, settings: AppStoreReplySettings, credentials: dict[str, str], base_url: str) -> None:
        self.issuer, self.key_id = credentials["issuer_id"], credentials["key_id"]
        self.private_key = credentials["private_key"].replace("\\n", "\n")  # a .p8 pasted on one line
        self.http = httpx.Client(base_url=base_url, timeout=settings.timeout_seconds)

    def _token(self) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.issuer, "iat": now, "exp": now + TOKEN_LIFETIME, "aud": AUDIENCE},
                          self.private_key, algorithm="ES256", headers={"kid": self.key_id, "typ": "JWT"})

    def post(self, target: ReplyTarget, text: str, idempotency_key: str = "") -> Posted:
        document = {"data": {
            "type": "customerReviewResponses",
            "attributes": {"responseBody": text},
            "relationships": {"review": {"data": {"type": "customerReviews", "id": target.native_id}}},
        }}
        try:
            response = self.http.post("/v1/customerReviewResponses", json=document,
                                      headers={"Authorization": f"Bearer {self._token()}"})
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            kind = FailureKind.forbidden if isinstance(exc, ValueError | jwt.PyJWTError) else FailureKind.unknown
            raise ReplyFailed(kind, f"{type(exc).__name__} (is the .p8 key complete?)" if kind == FailureKind.forbidden
                              else type(exc).__name__) from None
        if response.status_code != 201:
            raise failure_for(response, _apple_error(response))
        try:
            response_id = response.json()["data"]["id"]
        except (ValueError, KeyError, TypeError):
            raise ReplyFailed(FailureKind.unknown, "App Store Connect answered without the response") from None
        return Posted(str(response_id), target.url)  # published under the review once Apple approves it
