"""A fake of Apple's customer-reviews feed on loopback, in the feed's own JSON shape.

`GET /{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json` answers
`{"feed": {"author", "entry", "updated", "rights", "title", "icon", "link", "id"}}` with the
feed's quirks: every scalar is wrapped as `{"label": ...}`; page 1 may start with an entry
describing the app (no `im:rating`); a page with one entry gives it as an object, not a list;
pages past the last have no `entry`; there are never more than ten pages.

Failure injection: `fail_next(status)` (429 carries Retry-After), `break_next_payload(kind)`.
Run standalone: `python -m tests.sources.fakes.appstore_api --port 8303` and point
`sources.appstore.base_url` at it.
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jwt

from tests.sources.fakes._keys import p256_pair
from tests.sources.fakes._server import FakeAPI, Reply, Request, json_reply, serve_standalone, standalone_args

MAX_PAGES = 10
FEED_PATH = re.compile(r"^/(?P<country>[a-z]{2})/rss/customerreviews/page=(?P<page>\d+)/id=(?P<app>\d+)"
                       r"/sortby=mostrecent/json$")
PACIFIC = timezone(timedelta(hours=-7))  # Apple stamps reviews in Cupertino time
RESPONSES_PATH = "/v1/customerReviewResponses"  # App Store Connect API


@dataclass
class Review:
    review_id: str
    text: str
    updated: datetime
    rating: int = 5
    title: str | None = "Review"
    author: str | None = "Reviewer"
    version: str | None = "1.0.0"
    votes: int = 0
    helpful: int = 0


class FakeAppStore(FakeAPI):
    """Reviews per app/country, most recent first, with failures and broken replies on demand.

    `break_next_payload(kind)`: `truncated` (the default), JSON cut off mid-way; `html`, an HTML
    error page with 200; `shape`, `feed.entry` a string.
    """

    methods = ("GET", "POST")
    url = FakeAPI.base_url  # what the harness and the tests call it

    def __init__(self, page_size: int = 50, host: str = "127.0.0.1", port: int = 0, app_entry: bool = True) -> None:
        super().__init__(host, port)
        self.page_size = page_size
        self.app_entry = app_entry  # put the app's own entry first on page 1, as Apple sometimes does
        self._reviews: dict[tuple[str, str], list[Review]] = {}
        self.requests: list[str] = []
        # App Store Connect: one API key (issuer, key id, .p8), and the role it was given.
        self.issuer_id = "57246542-96fe-1a63-e053-0824d011072a"
        self.key_id = "2X9R4HXF34"
        self.private_key, self._public_key = p256_pair()
        self.key_may_respond = True  # False: a role without "customer reviews" access (403)
        self.responses: dict[str, dict[str, Any]] = {}  # review id -> the response resource

    def revoke_response_access(self) -> None:
        with self._lock:
            self.key_may_respond = False

    def delete(self, review_id: str) -> None:
        with self._lock:
            for reviews in self._reviews.values():
                reviews[:] = [r for r in reviews if r.review_id != review_id]

    def publish(self, app_id: str, review: Review, country: str = "us") -> None:
        with self._lock:
            reviews = self._reviews.setdefault((app_id, country), [])
            reviews[:] = [r for r in reviews if r.review_id != review.review_id] + [review]
            reviews.sort(key=lambda r: r.updated, reverse=True)

    def set_votes(self, review_id: str, votes: int) -> None:
        with self._lock:
            for reviews in self._reviews.values():
                for review in reviews:
                    if review.review_id == review_id:
                        review.votes = votes
                        review.helpful = min(review.helpful, votes)
                        return
        raise KeyError(review_id)

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request.path)
            if request.path == RESPONSES_PATH:
                return self._injected(_connect_error, _broken) or self._respond(request)
            return self._injected(_error, _broken) or self._route(request.path)

    def _respond(self, request: Request) -> Reply:
        """`POST /v1/customerReviewResponses` (JSON:API), as App Store Connect answers it."""
        if request.method != "POST":
            return _connect(405, "METHOD_NOT_ALLOWED", "The request method is not valid for this resource")
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self._public_key, algorithms=["ES256"], audience="appstoreconnect-v1",
                                issuer=self.issuer_id, options={"require": ["exp", "iat"]})
            too_long = claims["exp"] - claims["iat"] > 20 * 60
        except (jwt.PyJWTError, KeyError, TypeError):
            header, too_long = {}, True
        if header.get("kid") != self.key_id or too_long:
            return _connect(401, "NOT_AUTHORIZED", "Provide a properly configured and signed bearer token, and make "
                                                   "sure that it has not expired.")
        if not self.key_may_respond:
            return _connect(403, "FORBIDDEN_ERROR", "The API key in use does not allow this request")
        try:
            data = json.loads(request.body)["data"]
            assert data["type"] == "customerReviewResponses"
            text = data["attributes"]["responseBody"]
            review = data["relationships"]["review"]["data"]
            assert review["type"] == "customerReviews"
            review_id = str(review["id"])
        except (ValueError, KeyError, TypeError, AssertionError):
            return _connect(422, "ENTITY_UNPROCESSABLE", "The request entity is not valid JSON:API for "
                                                         "customerReviewResponses")
        if not isinstance(text, str) or not text.strip() or len(text) > 5970:
            return _connect(409, "ENTITY_ERROR.ATTRIBUTE.INVALID", "responseBody must be 1 to 5970 characters")
        if not any(r.review_id == review_id for reviews in self._reviews.values() for r in reviews):
            return _connect(404, "NOT_FOUND", f"There is no resource of type 'customerReviews' with id '{review_id}'")
        resource = {"type": "customerReviewResponses", "id": str(uuid.uuid4()),
                    "attributes": {"responseBody": text, "state": "PENDING_PUBLISH",
                                   "lastModifiedDate": datetime.now(UTC).isoformat(timespec="seconds")},
                    "relationships": {"review": {"data": {"type": "customerReviews", "id": review_id}}}}
        self.responses[review_id] = resource
        return json_reply({"data": resource, "links": {"self": f"{self.base_url}{RESPONSES_PATH}/{resource['id']}"}},
                          201)

    def _route(self, path: str) -> Reply:
        match = FEED_PATH.match(path)
        if not match:
            return Reply(404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html"})
        country, page, app_id = match["country"], int(match["page"]), match["app"]
        reviews = self._reviews.get((app_id, country), [])[: self.page_size * MAX_PAGES]
        last = max(1, -(-len(reviews) // self.page_size))
        entries: list[dict[str, Any]] = []
        if 1 <= page <= MAX_PAGES:
            entries = [_entry(r, app_id, country) for r in reviews[(page - 1) * self.page_size : page * self.page_size]]
        if page == 1 and self.app_entry:
            entries.insert(0, _app_entry(app_id, country))
        feed: dict[str, Any] = {
            "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/itunes/"}},
            "updated": {"label": datetime.now(PACIFIC).replace(microsecond=0).isoformat()},
            "rights": {"label": "Copyright 2008 Apple Inc."},
            "title": {"label": "iTunes Store: Customer Reviews"},
            "icon": {"label": "http://itunes.apple.com/favicon.ico"},
            "link": [_link("alternate", f"https://apps.apple.com/{country}/app/id{app_id}?uo=2"),
                     _link("self", _feed_url(country, page, app_id)),
                     _link("first", _feed_url(country, 1, app_id)),
                     _link("last", _feed_url(country, last, app_id)),
                     _link("previous", _feed_url(country, max(page - 1, 1), app_id)),
                     _link("next", _feed_url(country, min(page + 1, last), app_id))],
            "id": {"label": _feed_url(country, page, app_id)},
        }
        if entries:
            feed["entry"] = entries[0] if len(entries) == 1 else entries
        body = json.dumps({"feed": feed}).encode()
        return Reply(200, body, {"Content-Type": "text/javascript; charset=utf-8"})


def _feed_url(country: str, page: int, app_id: str) -> str:
    return f"https://itunes.apple.com/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


def _link(rel: str, href: str) -> dict[str, Any]:
    return {"attributes": {"rel": rel, "type": "text/html" if rel == "alternate" else "application/json", "href": href}}


def _entry(review: Review, app_id: str, country: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "updated": {"label": review.updated.astimezone(PACIFIC).isoformat()},
        "im:rating": {"label": str(review.rating)},
        "id": {"label": review.review_id},
        "content": {"label": review.text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/{country}/review?id={app_id}&type=Purple%20Software"}},
        "im:voteSum": {"label": str(review.helpful)},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": {"label": str(review.votes)},
    }
    if review.title is not None:
        entry["title"] = {"label": review.title}
    if review.version is not None:
        entry["im:version"] = {"label": review.version}
    if review.author is not None:  # a deleted account's reviews come without an author
        entry["author"] = {"uri": {"label": f"https://itunes.apple.com/{country}/reviews/id{zlib.crc32(review.author.encode())}"},
                           "name": {"label": review.author}, "label": ""}
    return entry


def _app_entry(app_id: str, country: str) -> dict[str, Any]:
    return {
        "im:name": {"label": "Acme"},
        "im:image": [{"label": "https://is1-ssl.mzstatic.com/image/icon.png", "attributes": {"height": "53"}}],
        "im:artist": {"label": "Acme Inc.", "attributes": {"href": "https://apps.apple.com/developer/id1"}},
        "id": {"label": f"https://apps.apple.com/{country}/app/id{app_id}", "attributes": {"im:id": app_id}},
        "category": {"attributes": {"term": "Finance", "label": "Finance"}},
    }


def _connect(status: int, code: str, detail: str) -> Reply:
    titles = {401: "Authentication credentials are missing or invalid.", 403: "This request is forbidden for "
              "security reasons", 404: "The specified resource does not exist", 429: "The request rate limit has "
              "been reached."}
    return json_reply({"errors": [{"id": str(uuid.uuid4()), "status": str(status), "code": code,
                                   "title": titles.get(status, "The request could not be processed"),
                                   "detail": detail}]}, status)


def _connect_error(status: int) -> Reply:
    """An injected failure of the App Store Connect API, as JSON:API errors."""
    if status == 429:
        return _connect(429, "RATE_LIMIT_EXCEEDED", "We've received too many requests for this API. Please wait "
                                                    "and try again or slow down your request rate.")
    codes = {401: "NOT_AUTHORIZED", 403: "FORBIDDEN_ERROR", 404: "NOT_FOUND", 500: "UNEXPECTED_ERROR"}
    return _connect(status, codes.get(status, "UNEXPECTED_ERROR"), f"fake failure {status}")


def _error(status: int) -> Reply:
    headers = {"Content-Type": "text/html"}
    if status == 429:
        headers["Retry-After"] = "1"
    return Reply(status, f"<html><body>Error {status}</body></html>".encode(), headers)


def _broken(kind: str) -> Reply:
    if kind == "html":
        return Reply(200, b"<html><body>Temporarily unavailable</body></html>", {"Content-Type": "text/html"})
    if kind == "shape":
        return Reply(200, json.dumps({"feed": {"entry": "oops"}}).encode(), {"Content-Type": "text/javascript"})
    return Reply(200, b'{"feed": {"entry": [{"id": {"label": "1"', {"Content-Type": "text/javascript"})


def seed(fake: FakeAppStore, app_id: str, brand: str) -> None:
    """A few reviews a developer can ingest: mixed ratings, one without a version or an author."""
    now = datetime.now(UTC).replace(microsecond=0)
    samples = [
        (1, "Crashes on launch", f"{brand} crashes every time I open it since 4.2", None),
        (5, "Great support", f"{brand} support fixed my billing issue in minutes", "happycustomer"),
        (2, "Double charge", "I was charged twice for one order", "annoyed123"),
    ]
    for i, (rating, title, text, author) in enumerate(samples):
        fake.publish(app_id, Review(str(11000000000 + i), text, now - timedelta(minutes=15 * i), rating=rating,
                                    title=title, author=author, version=None if i == 2 else "4.2.0", votes=i))


def main() -> None:
    args = standalone_args(__doc__, 8303, app_id="123456789", brand="Acme")
    fake = FakeAppStore(port=args.port)
    seed(fake, args.app_id, args.brand)
    serve_standalone(fake, lambda url: f"fake App Store feed on {url} (app {args.app_id}, country us)")

if __name__ == "__main__":
    main()
