"""Replies on Google Play: the Developer API's `reviews.reply`, as a service account.

`POST /androidpublisher/v3/applications/{package}/reviews/{reviewId}:reply` with
`{"replyText": ...}` (at most 350 characters; a second reply replaces the first, as in the
Play Console). The bearer token comes from the service account's key the way Google's OAuth
server issues it: a JWT signed with the key (RS256, scope androidpublisher, audience the key's
`token_uri`) exchanged at `token_uri` (grant type jwt-bearer). Errors are Google's
`{"error": {"code", "message", "status"}}`: 404 NOT_FOUND (the review is gone), 403
PERMISSION_DENIED (the service account has no access to the app), 429 RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import jwt

from monitor.replies.base import FailureKind, Posted, ReplyFailed, ReplyTarget
from monitor.replies.settings import GooglePlayReplySettings

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
TOKEN_LIFETIME = 3600


def _google_error(response: httpx.Response) -> str:
    """Google's words: `{"error": {"status", "message"}}` from APIs, `{"error", "error_description"}` from OAuth."""
    try:
        body = response.json()
        error = body.get("error", {})
        if isinstance(error, str):
            return f"{error}: {body.get('error_description') or ''}".strip()[:300]
        return f"{error.get('status') or response.status_code}: {error.get('message') or ''}".strip()[:300]
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"


def failure_for(response: httpx.Response, detail: str) -> ReplyFailed:
    """A refusal by a Google or Apple API, by its HTTP status."""
    status = response.status_code
    if status == 429:
        retry = response.headers.get("retry-after", "")
        return ReplyFailed(FailureKind.rate_limited, detail, float(retry) if retry.isdigit() else None)
    if status == 404:
        return ReplyFailed(FailureKind.deleted, detail)
    if status in (401, 403):
        return ReplyFailed(FailureKind.forbidden, detail)
    if 400 <= status < 500:
        return ReplyFailed(FailureKind.rejected, detail)
    return ReplyFailed(FailureKind.unknown, detail)


class GooglePlayReplier:
    platform = "Google Play"
    max_chars = GooglePlayReplySettings.max_chars

    def __init__(self, settings: GooglePlayReplySettings, credentials: dict[str, str], base_url: str) -> None:
        try:
            self.key = json.loads(credentials["service_account_json"])
            self.key["client_email"], self.key["private_key"], self.key["token_uri"]  # noqa: B018 - required
        except (ValueError, KeyError, TypeError):
            raise ValueError("the Google Play service account credential is not a service account key (JSON with "
                             "client_email, private_key and token_uri)") from None
        self.http = httpx.Client(base_url=base_url, timeout=settings.timeout_seconds)
        self._token: tuple[str, float] | None = None

    def _access_token(self) -> str:
        now = time.time()
        if self._token and self._token[1] > now + 60:
            return self._token[0]
        assertion = jwt.encode(
            {"iss": self.key["client_email"], "scope": SCOPE, "aud": self.key["token_uri"],
             "iat": int(now), "exp": int(now) + TOKEN_LIFETIME},
            self.key["private_key"], algorithm="RS256", headers={"kid": self.key.get("private_key_id", "")})
        response = self.http.post(self.key["token_uri"], data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})
        if response.status_code != 200:
            detail = f"token refused: {_google_error(response)}"
            raise failure_for(response, detail) if response.status_code == 429 else ReplyFailed(
                FailureKind.forbidden, detail)
        body = response.json()
        self._token = (body["access_token"], now + float(body.get("expires_in", TOKEN_LIFETIME)))
        return self._token[0]

    def post(self, target: ReplyTarget, text: str, idempotency_key: str = "") -> Posted:
        package = (parse_qs(urlsplit(target.url).query).get("id") or [""])[0]
        if not package:
            raise ReplyFailed(FailureKind.rejected, f"cannot tell the app from {target.url!r}")
        path = (f"/androidpublisher/v3/applications/{quote(package, safe='')}/reviews/"
                f"{quote(target.native_id, safe='')}:reply")
        try:
            response = self.http.post(path, json={"replyText": text},
                                      headers={"Authorization": f"Bearer {self._access_token()}"})
        except httpx.HTTPError as exc:
            raise ReplyFailed(FailureKind.unknown, type(exc).__name__) from None
        if response.status_code != 200:
            raise failure_for(response, _google_error(response))
        try:
            result = response.json()["result"]
            edited = result["lastEdited"]["seconds"]
        except (ValueError, KeyError, TypeError):
            raise ReplyFailed(FailureKind.unknown, "Google Play answered without the reply") from None
        return Posted(f"{target.native_id}@{edited}", target.url)  # the reply shows under the review
