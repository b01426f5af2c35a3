"""A fake Google Play reviews endpoint on loopback, speaking batchexecute as google-play-scraper parses it.

The scraper POSTs `f.req=[[["oCPfdb","<args>",null,"generic"]]]` to
`/_/PlayStoreUi/data/batchexecute`, where `<args>` carries the sort, the page size, an
optional continuation token and the app id. The reply is Google's anti-JSON prefix `)]}'`, a
blank line and an envelope whose first element is `["wrb.fr","oCPfdb","<payload>",...]`; the
payload is `[[review, ...], [null, "<token>"], null]` (no token pair on the last page), and a
review is a positional array: 0 id, 1 [user name, avatar], 2 score, 4 text, 5 [seconds, nanos],
6 helpful count, 7 developer reply, 10 app version.

Failure injection: `fail_next(status)` (429 carries Retry-After), `throttle_next()` (Google's
in-band PlayGatewayError), `break_next_payload(kind)`.
Run standalone: `python -m tests.sources.fakes.googleplay_api --port 8302` and point
`sources.googleplay.base_url` at it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt

from tests.sources.fakes._keys import rsa_pair
from tests.sources.fakes._server import FakeAPI, Reply, Request, json_reply, serve_standalone, standalone_args

RPC = "oCPfdb"
PATH = "/_/PlayStoreUi/data/batchexecute"
REPLY_PATH = re.compile(r"^/androidpublisher/v3/applications/(?P<package>[^/]+)/reviews/(?P<review>[^/]+):reply$")
TOKEN_PATH = "/token"  # the service account key's token_uri points here
SCOPE = "https://www.googleapis.com/auth/androidpublisher"


@dataclass
class Review:
    review_id: str
    text: str | None
    at: datetime
    score: int = 5
    helpful: int = 0
    user: str | None = "Reviewer"
    version: str | None = "1.0.0"
    reply: str | None = None


class FakeGooglePlay(FakeAPI):
    """Reviews per app, newest first, with paging, failures and broken replies on demand.

    `break_next_payload(kind)`: `error-envelope` (the default), the wrb.fr entry without a
    payload (Google's own error reply); `html`, an HTML interstitial; `garbage`, no
    batchexecute framing at all.
    """

    methods = ("GET", "POST")
    default_break = "error-envelope"
    url = FakeAPI.base_url  # what the harness and the tests call it

    def __init__(self, page_size: int = 20, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.page_size = page_size
        self._reviews: dict[str, list[Review]] = {}
        self.requests: list[dict[str, Any]] = []  # what the client asked, for assertions
        # The Developer API: one service account with access to the apps in `granted`.
        self._private_pem, self._public_pem = rsa_pair()
        self.client_email = "earshot-replies@brisa-play.iam.gserviceaccount.com"
        self.granted: set[str] | None = None  # None: every app published here
        self._access_tokens: set[str] = set()
        self.replies: dict[str, str] = {}  # review id -> the developer's reply (a new one replaces it)

    # --- content -------------------------------------------------------------------------

    def publish(self, app_id: str, review: Review) -> None:
        with self._lock:
            reviews = self._reviews.setdefault(app_id, [])
            reviews[:] = [r for r in reviews if r.review_id != review.review_id] + [review]
            reviews.sort(key=lambda r: r.at, reverse=True)

    def set_helpful(self, review_id: str, helpful: int) -> None:
        with self._lock:
            for reviews in self._reviews.values():
                for review in reviews:
                    if review.review_id == review_id:
                        review.helpful = helpful
                        return
        raise KeyError(review_id)

    def service_account_json(self) -> str:
        """The service account's key file, as the Google Cloud console downloads it."""
        return json.dumps({"type": "service_account", "project_id": "brisa-play", "private_key_id": "k1",
                           "private_key": self._private_pem, "client_email": self.client_email,
                           "client_id": "1234567890", "token_uri": self.base_url + TOKEN_PATH})

    def revoke_access(self, app_id: str) -> None:
        """The service account loses its access to the app in the Play Console (403 PERMISSION_DENIED)."""
        with self._lock:
            self.granted = (set(self._reviews) if self.granted is None else self.granted) - {app_id}

    def delete(self, review_id: str) -> None:
        with self._lock:
            for reviews in self._reviews.values():
                reviews[:] = [r for r in reviews if r.review_id != review_id]

    # --- failure injection ---------------------------------------------------------------

    def throttle_next(self, times: int = 1) -> None:
        """Answer 200 with Google's in-band PlayGatewayError, its other way of saying "slow down"."""
        with self._lock:
            self._broken += ["throttle"] * times

    # --- serving -------------------------------------------------------------------------

    def _reply(self, request: Request) -> Reply:
        body = request.body.decode("utf-8")
        with self._lock:
            self.requests.append({"method": request.method, "path": request.path, "query": request.query, "body": body})
            if request.path == TOKEN_PATH or REPLY_PATH.match(request.path):
                return self._injected(_api_error, _broken) or self._developer_api(request, body)
            return self._injected(_error, _broken) or self._route(request.method, request.path, body)

    def _developer_api(self, request: Request, body: str) -> Reply:
        if request.method != "POST":
            return _api_error(405)
        if request.path == TOKEN_PATH:
            form = request.form()
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return json_reply({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, 400)
            try:
                claims = jwt.decode(form.get("assertion", ""), self._public_pem, algorithms=["RS256"],
                                    audience=self.base_url + TOKEN_PATH, issuer=self.client_email)
            except jwt.PyJWTError:
                return json_reply({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
            if SCOPE not in str(claims.get("scope", "")).split():
                return json_reply({"error": "invalid_scope", "error_description": "Invalid OAuth scope"}, 400)
            token = "ya29." + secrets.token_urlsafe(24)
            self._access_tokens.add(token)
            return json_reply({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
        if (request.headers.get("Authorization") or "").removeprefix("Bearer ") not in self._access_tokens:
            return _google(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        match = REPLY_PATH.match(request.path)
        assert match is not None
        package, review_id = unquote(match["package"]), unquote(match["review"])
        if package not in self._reviews or (self.granted is not None and package not in self.granted):
            return _google(403, "PERMISSION_DENIED", "The caller does not have permission")
        if not any(r.review_id == review_id for r in self._reviews[package]):
            return _google(404, "NOT_FOUND", "No review found.")
        try:
            text = json.loads(body)["replyText"]
        except (ValueError, KeyError, TypeError):
            return _google(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(text, str) or not text.strip() or len(text) > 350:
            return _google(400, "INVALID_ARGUMENT", "Reply text must be between 1 and 350 characters.")
        self.replies[review_id] = text
        for review in self._reviews[package]:
            if review.review_id == review_id:
                review.reply = text
        now = time.time()
        return json_reply({"result": {"replyText": text,
                                      "lastEdited": {"seconds": str(int(now)), "nanos": int(now % 1 * 1e9)}}})

    def _route(self, method: str, path: str, body: str) -> Reply:
        if method != "POST" or path != PATH:
            return Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
        try:
            request = json.loads(parse_qs(body)["f.req"][0])
            rpc, raw_args = request[0][0][0], request[0][0][1]
            args = json.loads(raw_args)
            paging, app_id = args[1][2], args[2][0]
        except (KeyError, IndexError, TypeError, ValueError):
            return Reply(400, b"<html>Bad Request</html>", {"Content-Type": "text/html"})
        if rpc != RPC:
            return Reply(400, b"<html>Unknown rpc</html>", {"Content-Type": "text/html"})
        count = int(paging[0])
        offset = int(paging[2]) if len(paging) > 2 and paging[2] else 0
        reviews = self._reviews.get(app_id, [])
        page = reviews[offset : offset + min(count, self.page_size)]
        more = offset + len(page) < len(reviews)
        payload: list[Any] = [[_review_array(r) for r in page], [None, str(offset + len(page))] if more else None, None]
        return _batchexecute(payload)


def _review_array(review: Review) -> list[Any]:
    seconds = int(review.at.timestamp())
    user = None if review.user is None else [review.user, [None, None, None, [None, None, "https://example.test/a.png"]]]
    reply = None if review.reply is None else [None, review.reply, [seconds + 3600, 0]]
    return [review.review_id, user, review.score, None, review.text, [seconds, 0], review.helpful, reply,
            None, None, review.version]


def _batchexecute(payload: Any) -> Reply:
    envelope = [["wrb.fr", RPC, json.dumps(payload, separators=(",", ":")), None, None, None, "generic"],
                ["di", 42], ["af.httprm", 41, "-5095830409453563785", 4]]
    body = ")]}'\n\n" + json.dumps(envelope, separators=(",", ":"))
    return Reply(200, body.encode(), {"Content-Type": "application/json; charset=utf-8"})


def _google(status: int, code: str, message: str) -> Reply:
    return json_reply({"error": {"code": status, "message": message, "status": code}}, status)


def _api_error(status: int) -> Reply:
    """An injected failure of the Developer API, in Google's JSON error format."""
    if status == 429:
        return _google(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Queries' and limit "
                                                  "'Queries per minute' of service 'androidpublisher.googleapis.com'")
    codes = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             405: "METHOD_NOT_ALLOWED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    return _google(status, codes.get(status, "UNKNOWN"), f"fake failure {status}")


def _error(status: int) -> Reply:
    headers = {"Content-Type": "text/html; charset=UTF-8"}
    if status == 429:
        headers["Retry-After"] = "1"
    return Reply(status, f"<html><title>Error {status}</title></html>".encode(), headers)


def _broken(kind: str) -> Reply:
    if kind == "throttle":
        envelope = [["er", None, None, None, None, 429, None, None, None, 7,
                     ["generic", None, None, None, None, [["type.googleapis.com/"
                      "com.google.play.gateway.proto.PlayGatewayError", [None, None, 8]]]]]]
        return Reply(200, (")]}'\n\n" + json.dumps(envelope)).encode(), {"Content-Type": "application/json"})
    if kind == "html":
        return Reply(200, b"<html><body>Our systems have detected unusual traffic</body></html>",
                     {"Content-Type": "text/html"})
    if kind == "garbage":
        return Reply(200, b'{"not": "batchexecute"}', {"Content-Type": "application/json"})
    envelope = [["wrb.fr", RPC, None, None, None, [5], "generic"], ["e", 4, None, None, 130]]
    return Reply(200, (")]}'\n\n" + json.dumps(envelope)).encode(), {"Content-Type": "application/json"})


def seed(fake: FakeGooglePlay, app_id: str, brand: str) -> None:
    """A few reviews a developer can ingest: mixed ratings, one without a version or a name."""
    now = datetime.now(UTC).replace(microsecond=0)
    samples = [
        (1, f"{brand} keeps crashing since the update, lost all my data", None),
        (5, f"Love {brand}, support sorted my issue in minutes", "Happy Camper"),
        (2, "Checkout is broken, charged twice", "Annoyed"),
        (4, "Good, but dark mode please", "Night Owl"),
    ]
    for i, (score, text, user) in enumerate(samples):
        fake.publish(app_id, Review(f"gp:seed-{i}", text, now - timedelta(minutes=10 * i), score=score, helpful=i,
                                    user=user, version=None if i == 0 else f"3.{i}.0"))


def main() -> None:
    args = standalone_args(__doc__, 8302, app_id="com.acme.app", brand="Acme")
    fake = FakeGooglePlay(port=args.port)
    seed(fake, args.app_id, args.brand)
    serve_standalone(fake, lambda url: f"fake Google Play on {url} (app {args.app_id})")

if __name__ == "__main__":
    main()
