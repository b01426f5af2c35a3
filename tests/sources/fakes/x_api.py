"""A fake X API v2 on loopback: recent search, tweet lookup and posting replies, as the API reference documents them.

Replies (`POST /2/tweets` with `reply.in_reply_to_tweet_id`) need OAuth 1.0a user context,
signed for api.twitter.com and checked like X checks it; the app-only bearer token is refused
with X's "Unsupported Authentication" 403. A reply to a deleted post is X's 403 "deleted or
not visible", a conversation the account may not join its reply-restriction 403, duplicate
text its duplicate-content 403, and a 429 after `reply_rate_limit` posts.

It speaks the real wire format (so tweepy parses it for real) and evaluates the search
query operators Earshot uses: quoted phrases, bare words, OR, grouping, `-` negation,
`is:retweet` and `lang:`. Posts are only searchable for seven days, like recent search.
Tests script failures with `fail_next`, `deny_access_level` and `break_next_payload`.

Run it standalone to point a local Earshot at it:

    python -m tests.sources.fakes.x_api --port 8765 --brand "Brisa Mobile" --live
"""

from __future__ import annotations

import argparse
import base64
import html
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.sources.fakes._oauth1 import oauth1_problem
from tests.sources.fakes._search import boolean_query
from tests.sources.fakes._server import (
    FakeServer,
    Pending,
    Reply,
    Request,
    json_bytes,
    queue_pending,
    serve_until_interrupted,
    sniffed_reply,
)

SEARCH_WINDOW = timedelta(days=7)
TWEEPY_SIGNED_URL = "https://api.twitter.com/2/tweets"  # what tweepy signs, wherever the request is sent
BRAND_USER_ID = "1500"  # the account replies are posted as
TWITTER_EPOCH_MS = 1288834974657
PAGE_MAX = 100
NOTE_TWEET_AFTER = 280  # longer posts are "note tweets": `text` is cut here, `note_tweet.text` is whole
ACCESS_LEVEL_MESSAGE = (
    "You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints "
    "(e.g. media post, oauth) only. If you need access to this endpoint, you may need a different "
    "access level. You can learn more here: https://developer.x.com/en/portal/product"
)


def snowflake(created_at: datetime, sequence: int = 0) -> str:
    """A post id as X makes them: the creation time in the high bits, so ids sort by time."""
    ms = int(created_at.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((ms << 22) | (sequence & 0x3FFFFF))


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    followers: int = 0
    verified: bool = False


@dataclass
class FakeTweet:
    id: str
    text: str
    author_id: str
    created_at: datetime
    lang: str = "en"
    likes: int = 0
    retweets: int = 0
    replies: int = 0
    quotes: int = 0
    is_retweet: bool = False
    in_reply_to: str | None = None
    retweet_of: str | None = None  # a retweet: `text` is X's truncated "RT @user: ..." copy
    quote_of: str | None = None
    edit_history: list[str] = field(default_factory=list)  # earlier ids of an edited post, oldest first
    withheld: str | None = None  # "suspended" / "protected": the author is no longer public
    metrics_hidden: bool = False  # X leaves `public_metrics` out (as it does for some posts and access levels)

    @property
    def history(self) -> list[str]:
        return [*self.edit_history, self.id]


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]


class BadRequest(Exception):
    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.value, self.message = parameter, value, message


# --- query operators ----------------------------------------------------------------------------

Predicate = Callable[[FakeTweet], bool]
_TOKEN = re.compile(r'\s*(\(|\)|"[^"]*"|-(?=\S)|[^\s()"]+)')


def parse_query(query: str) -> Predicate:
    """The subset of X's search operators Earshot uses, evaluated case-insensitively: `-` negates."""
    return boolean_query(query, _TOKEN, _term, negation="-")


def _term(token: str) -> Predicate:
    if token.startswith('"'):
        phrase = token[1:-1].lower()
        return lambda t: phrase in t.text.lower()
    if token == "is:retweet":
        return lambda t: t.is_retweet
    if token == "has:links":
        return lambda t: "http://" in t.text or "https://" in t.text
    if token.startswith("lang:"):
        code = token[5:].lower()
        return lambda t: t.lang.lower() == code
    if ":" in token:
        raise ValueError(f"operator {token!r} is not supported by this fake")
    word = token.lower()
    return lambda t: word in t.text.lower()


# --- the fake -----------------------------------------------------------------------------------


@dataclass
class FakeX(FakeServer):
    """State of the fake platform plus the HTTP server that serves it."""

    methods = ("GET", "POST")

    token: str = "earshot-dev-token"
    page_size: int = PAGE_MAX  # at most this many posts per page, whatever max_results asks
    max_query_length: int = 512
    rate_limit: int = 450  # requests per window, as X's app-auth recent search
    window_seconds: int = 900
    min_since_id: int | None = None  # since_id below this is "too old", as past the 7-day horizon
    omit_fields: set[str] = field(default_factory=set)  # post fields left out even when requested

    users: dict[str, FakeUser] = field(default_factory=dict)
    tweets: dict[str, FakeTweet] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # The brand account replies are posted as (user context), and its keys.
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "1500-fake-access-token"
    access_token_secret: str = "fake-access-token-secret"
    reply_rate_limit: int = 100  # posts per window for the user, as X's POST /2/tweets (per 15 min)
    restricted: set[str] = field(default_factory=set)  # posts whose author limits who may reply
    posted: list[dict[str, Any]] = field(default_factory=list)  # every accepted POST /2/tweets body
    _posts_in_window: int = 0
    _pending: deque[Pending] = field(default_factory=deque)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _window: tuple[float, int] = (0.0, 0)  # (window start, requests in it)

    def __post_init__(self) -> None:
        self.add_user("101", "ana_sousa", "Ana Sousa", followers=120)

    # -- scripting

    def add_user(self, user_id: str, username: str, name: str = "", followers: int = 0) -> FakeUser:
        with self._lock:
            self.users[user_id] = FakeUser(user_id, username, name or username, followers)
            return self.users[user_id]

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_id: str = "101", author_missing: bool = False, **extra: Any) -> FakeTweet:
        """Make a post searchable. `author_missing`: its author is deleted or suspended."""
        if not native_id.isdigit():
            raise ValueError(f"X post ids are numeric strings (snowflakes), not {native_id!r}")
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        if author_missing:
            author_id = "9" + native_id[-8:]  # an id no user in `users` has
            self.users.pop(author_id, None)
        with self._lock:
            tweet = FakeTweet(native_id, text, author_id, created_at, likes=likes, **extra)
            self.tweets[native_id] = tweet
            return tweet

    def set_likes(self, native_id: str, likes: int) -> None:
        with self._lock:
            self.tweets[native_id].likes = likes

    def delete(self, native_id: str) -> None:
        with self._lock:
            self.tweets.pop(native_id, None)

    def edit(self, native_id: str, new_id: str, text: str) -> FakeTweet:
        """Edit a post as X does: the new version gets a new id, its history lists the earlier ones,
        and search finds only the newest version."""
        with self._lock:
            old = self.tweets.pop(native_id)
            new = FakeTweet(**{**old.__dict__, "id": new_id, "text": text, "edit_history": old.history})
            self.tweets[new_id] = new
            return new

    def withhold(self, native_id: str, why: str = "suspended") -> None:
        """The post's author is suspended or went protected: lookups answer "not authorized"."""
        with self._lock:
            self.tweets[native_id].withheld = why

    def fail_next(self, status: int, times: int = 1, *, after: int = 0) -> None:
        """Answer the next `times` requests with this HTTP status (429: resets ~1 s ahead).

        `after`: let that many requests through first, to fail in the middle of a pagination.
        """
        with self._lock:
            queue_pending(self._pending, Pending("status", status), times=times, after=after)

    def deny_access_level(self, times: int = 1) -> None:
        """Answer as X does when the app's access level lacks the endpoint: 403 with error code 453."""
        with self._lock:
            queue_pending(self._pending, Pending("access_level", 403), times=times)

    def break_next_payload(self, mode: str = "html", *, after: int = 0) -> None:
        """Answer the next request 200 with a body X does not document.

        "html": not JSON at all (a proxy's error page); "shape": JSON with `data` not a
        list; "items": a normal page with two malformed posts added to `data`.
        """
        with self._lock:
            queue_pending(self._pending, Pending("broken", mode=mode), after=after)

    def answer_next(self, body: bytes | str, *, after: int = 0) -> None:
        """Answer the next request 200 with this body: a response recorded from, or shaped as, X's own."""
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            queue_pending(self._pending, Pending("recorded", body=raw), after=after)

    def searches(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/2/tweets/search/recent"]

    # -- serving

    def _rate_headers(self) -> tuple[dict[str, str], bool]:
        now = time.time()
        start, used = self._window
        if now - start >= self.window_seconds:
            start, used = now, 0
        used += 1
        self._window = (start, used)
        headers = {
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": str(max(self.rate_limit - used, 0)),
            "x-rate-limit-reset": str(int(start + self.window_seconds)),
        }
        return headers, used > self.rate_limit

    def restrict_replies(self, native_id: str) -> None:
        """The author of this post lets only people they mention reply (X's reply settings)."""
        with self._lock:
            self.restricted.add(native_id)

    def replies_to(self, native_id: str) -> list[FakeTweet]:
        with self._lock:
            return [t for t in self.tweets.values() if t.in_reply_to == native_id]

    def _reply(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == "/2/tweets":
            return sniffed_reply(*self.create_tweet(request))
        return sniffed_reply(*self.handle(request.method, request.path, request.params(),
                                          request.headers.get("Authorization")))

    def create_tweet(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        """`POST /2/tweets`: a new post, here always a reply (what Earshot sends)."""
        with self._lock:
            self.requests.append(Recorded("POST", request.path, {}))
            headers, _ = self._rate_headers()
            pending = self._pending.popleft() if self._pending else None
            if pending is not None and pending.kind == "status":
                return self._failure(pending.status, headers)
            auth = request.headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                return 403, headers, json_bytes({
                    "title": "Unsupported Authentication", "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                    "status": 403, "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."})
            if oauth1_problem("POST", TWEEPY_SIGNED_URL, auth, consumer_key=self.consumer_key,
                              consumer_secret=self.consumer_secret, access_token=self.access_token,
                              token_secret=self.access_token_secret):
                return 401, headers, json_bytes(_problem(401, "Unauthorized"))
            self._posts_in_window += 1
            if self._posts_in_window > self.reply_rate_limit:
                return self._failure(429, headers)
            try:
                body = json.loads(request.body)
                text = body["text"]
                parent = body.get("reply", {})["in_reply_to_tweet_id"]
            except (ValueError, KeyError, TypeError, AttributeError):
                return 400, headers, json_bytes({
                    "errors": [{"message": "$.reply.in_reply_to_tweet_id: is missing but it is required"}],
                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request"})
            if not isinstance(text, str) or not 1 <= len(text) <= 280:
                return 400, headers, json_bytes({
                    "errors": [{"message": "$.text: must be between 1 and 280 characters"}],
                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request"})
            if parent not in self.tweets:
                return 403, headers, json_bytes(_forbidden(
                    "You attempted to reply to a Tweet that is deleted or not visible to you."))
            if parent in self.restricted:
                return 403, headers, json_bytes(_forbidden(
                    "Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                    "engaged by the author of the post you are replying to."))
            if any(t.text == text and t.author_id == BRAND_USER_ID for t in self.tweets.values()):
                return 403, headers, json_bytes(_forbidden(
                    "You are not allowed to create a Tweet with duplicate content."))
            if BRAND_USER_ID not in self.users:
                self.users[BRAND_USER_ID] = FakeUser(BRAND_USER_ID, "brand_care", "Brand care")
            now = datetime.now(UTC)
            tweet = FakeTweet(snowflake(now, len(self.tweets) + 1), text, BRAND_USER_ID, now, in_reply_to=parent)
            self.tweets[tweet.id] = tweet
            self.tweets[parent].replies += 1
            self.posted.append(body)
            return 201, headers, json_bytes({"data": {"id": tweet.id, "text": text,
                                                      "edit_history_tweet_ids": [tweet.id]}})

    def handle(
        self, method: str, path: str, params: dict[str, str], auth: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(Recorded(method, path, params))
            headers, over_limit = self._rate_headers()
            pending = self._pending.popleft() if self._pending else None
            if pending is not None and pending.kind == "status":
                return self._failure(pending.status, headers)
            if pending is not None and pending.kind == "access_level":
                return 403, headers, json_bytes({"errors": [{"message": ACCESS_LEVEL_MESSAGE, "code": 453}]})
            if auth != f"Bearer {self.token}":
                return 401, headers, json_bytes(_problem(401, "Unauthorized"))
            if pending is not None and pending.kind == "recorded":
                return 200, headers, pending.body
            if over_limit:
                return self._failure(429, headers)
            try:
                if method == "GET" and path == "/2/tweets/search/recent":
                    body = self._search(params)
                elif method == "GET" and path == "/2/tweets":
                    body = self._lookup(params)
                else:
                    missing = {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}
                    return 404, headers, json_bytes(missing)
            except BadRequest as exc:
                return 400, headers, json_bytes({
                    "errors": [{"parameters": {exc.parameter: [exc.value]}, "message": exc.message}],
                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request",
                })
            if pending is not None and pending.kind == "broken":
                return 200, headers, _broken(pending.mode, body)
            return 200, headers, json_bytes(body)

    def _failure(self, status: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if status == 429:
            headers = {**headers, "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 1)}
        reason = {429: "Too Many Requests", 401: "Unauthorized", 403: "Forbidden",
                  500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                  504: "Gateway Timeout"}.get(status, "Error")
        return status, headers, json_bytes(_problem(status, reason))

    # -- endpoints

    def _search(self, params: dict[str, str]) -> dict[str, Any]:
        query = params.get("query", "")
        if not query or len(query) > self.max_query_length:
            raise BadRequest("query", query, f"Query must be between 1 and {self.max_query_length} characters")
        try:
            predicate = parse_query(query)
        except ValueError as exc:
            raise BadRequest("query", query, f"There were errors processing your request: {exc}") from None
        max_results = _int(params, "max_results", 10)
        if not 10 <= max_results <= PAGE_MAX:
            raise BadRequest("max_results", str(max_results),
                             f"The `max_results` query parameter value [{max_results}] is not between 10 and 100")
        now = datetime.now(UTC)
        since_id, until_id = _id(params, "since_id"), _id(params, "until_id")
        if since_id is not None and self.min_since_id is not None and since_id < self.min_since_id:
            raise BadRequest("since_id", str(since_id), f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet "
                             f"id created after {(now - SEARCH_WINDOW):%Y-%m-%dT%H:%MZ}.")
        start = _moment(params, "start_time") or now - SEARCH_WINDOW
        if start < now - SEARCH_WINDOW - timedelta(seconds=30):
            raise BadRequest("start_time", params["start_time"], f"Invalid 'start_time':'{params['start_time']}'. "
                             f"'start_time' must be on or after {(now - SEARCH_WINDOW):%Y-%m-%dT%H:%MZ}")
        end = _moment(params, "end_time") or now + timedelta(days=1)
        before = None
        if token := params.get("next_token"):
            try:
                before = int(base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode())
            except ValueError:
                raise BadRequest("next_token", token, "The `next_token` query parameter value is not valid") from None
        found = sorted(
            (t for t in self.tweets.values()
             if predicate(t) and now - SEARCH_WINDOW <= t.created_at and start <= t.created_at < end
             and (since_id is None or int(t.id) > since_id) and (until_id is None or int(t.id) < until_id)
             and (before is None or int(t.id) < before)),
            key=lambda t: int(t.id), reverse=True,
        )
        page, rest = found[: min(max_results, self.page_size)], found[min(max_results, self.page_size):]
        body = self._tweets_body(page, params)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if rest:
            meta["next_token"] = base64.b32encode(page[-1].id.encode()).decode().rstrip("=").lower()
        body["meta"] = meta
        return body

    def _lookup(self, params: dict[str, str]) -> dict[str, Any]:
        ids = [i for i in params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            raise BadRequest("ids", params.get("ids", ""), "The number of values in the `ids` query parameter "
                             f"list [{len(ids)}] is not between 1 and 100")
        # An edited post is found under any id of its history (the newest version answers).
        by_id = {old: t for t in self.tweets.values() for old in t.history}
        found = [by_id[i] for i in ids if i in by_id and not by_id[i].withheld]
        body = self._tweets_body(found, params)
        for i in ids:
            if i not in by_id:
                body.setdefault("errors", []).append(
                    _not_found("tweet", "ids", i, f"Could not find tweet with ids: [{i}]."))
            elif by_id[i].withheld:  # as X answers for a suspended or protected author's post
                body.setdefault("errors", []).append({
                    "value": i, "detail": f"Sorry, you are not authorized to see the Tweet with ids: [{i}].",
                    "title": "Authorization Error", "resource_type": "tweet", "parameter": "ids",
                    "resource_id": i, "section": "data",
                    "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"})
        return body

    def _tweets_body(self, tweets: list[FakeTweet], params: dict[str, str]) -> dict[str, Any]:
        tweet_fields = set(params.get("tweet.fields", "").split(","))
        user_fields = set(params.get("user.fields", "").split(","))
        expansions = params.get("expansions", "").split(",")
        body: dict[str, Any] = {}
        if tweets:
            body["data"] = [self._tweet_json(t, tweet_fields) for t in tweets]
        authors = [t.author_id for t in tweets]
        if "referenced_tweets.id" in expansions:
            ids = dict.fromkeys(r for t in tweets for r in (t.retweet_of, t.quote_of, t.in_reply_to) if r)
            referenced = [self.tweets[i] for i in ids if i in self.tweets]
            if referenced:
                body["includes"] = {"tweets": [self._tweet_json(t, tweet_fields) for t in referenced]}
            if "referenced_tweets.id.author_id" in expansions:
                authors += [t.author_id for t in referenced]
        if "author_id" in expansions:
            users, errors = [], []
            for author_id in dict.fromkeys(authors):
                if user := self.users.get(author_id):
                    users.append(_user_json(user, user_fields))
                else:
                    errors.append(_not_found("user", "author_id", author_id,
                                             f"Could not find user with author_id: [{author_id}]."))
            if users:
                body.setdefault("includes", {})["users"] = users
            if errors:
                body["errors"] = errors
        return body

    def _tweet_json(self, tweet: FakeTweet, fields: set[str]) -> dict[str, Any]:
        fields = fields - self.omit_fields
        # As X sends it: `&`, `<`, `>` HTML-escaped; a long post's `text` cut at 280 characters with
        # the full text in `note_tweet`, only when asked for.
        text = html.escape(tweet.text, quote=False)
        out: dict[str, Any] = {"id": tweet.id, "text": text, "edit_history_tweet_ids": tweet.history}
        if len(tweet.text) > NOTE_TWEET_AFTER:
            out["text"] = html.escape(tweet.text[:NOTE_TWEET_AFTER - 1], quote=False) + "…"
            if "note_tweet" in fields:
                out["note_tweet"] = {"text": text}
        if tweet.retweet_of:
            original = self.tweets.get(tweet.retweet_of)
            author = self.users.get(original.author_id) if original else None
            out["text"] = f"RT @{author.username if author else 'unknown'}: {text}"[:NOTE_TWEET_AFTER]
        if "created_at" in fields:
            out["created_at"] = _time(tweet.created_at)
        if "author_id" in fields:
            out["author_id"] = tweet.author_id
        if "lang" in fields:
            out["lang"] = tweet.lang
        if "conversation_id" in fields:
            out["conversation_id"] = tweet.in_reply_to or tweet.id
        references = [{"type": kind, "id": ref} for kind, ref in
                      (("replied_to", tweet.in_reply_to), ("retweeted", tweet.retweet_of), ("quoted", tweet.quote_of))
                      if ref]
        if "referenced_tweets" in fields and references:
            out["referenced_tweets"] = references
        if "public_metrics" in fields and not tweet.metrics_hidden:
            out["public_metrics"] = {"retweet_count": tweet.retweets, "reply_count": tweet.replies,
                                     "like_count": tweet.likes, "quote_count": tweet.quotes,
                                     "bookmark_count": 0, "impression_count": 40 * (tweet.likes + 1)}
        return out


def _user_json(user: FakeUser, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
    if "verified" in fields:
        out["verified"] = user.verified
    if "public_metrics" in fields:
        out["public_metrics"] = {"followers_count": user.followers, "following_count": 80,
                                 "tweet_count": 1500, "listed_count": 2, "like_count": 900}
    return out


def _not_found(resource: str, parameter: str, value: str, detail: str) -> dict[str, str]:
    return {"value": value, "detail": detail, "title": "Not Found Error", "resource_type": resource,
            "parameter": parameter, "resource_id": value,
            "type": "https://api.twitter.com/2/problems/resource-not-found"}


def _forbidden(detail: str) -> dict[str, Any]:
    return {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}


def _problem(status: int, title: str) -> dict[str, Any]:
    return {"title": title, "detail": title, "type": "about:blank", "status": status}


def _broken(mode: str, body: dict[str, Any]) -> bytes:
    if mode == "shape":
        return json_bytes({"data": {"id": "1", "text": "not a list"}, "meta": ["no", "object"]})
    if mode == "items":
        malformed = [{"id": "12ab", "edit_history_tweet_ids": []}, "garbage"]
        return json_bytes({**body, "data": [*body.get("data", []), *malformed]})
    return b"<html><body><h1>Over capacity</h1></body></html>"


def _int(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except ValueError:
        raise BadRequest(name, params[name], f"The `{name}` query parameter value is not a number") from None


def _id(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest(name, value, f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$")
    return int(value)


def _moment(params: dict[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(name, value, f"The `{name}` query parameter value [{value}] is not a valid time") from None


# --- standalone ---------------------------------------------------------------------------------


def seed_demo(fake: FakeX, brand: str) -> list[FakeTweet]:
    """A few posts about `brand` from the last hour: complaints, praise, noise and an exclusion."""
    now = datetime.now(UTC)
    fake.add_user("201", "k_tanaka", "Kenji Tanaka", followers=180)
    fake.add_user("202", "mariela_rz", "Mariela Ruiz", followers=5400)
    fake.add_user("203", "acme_jobs", "Jobs Board", followers=900)
    posts = [
        (50, "201", f"{brand} app keeps crashing every time I try to pay my bill. So annoying.", "en", 3),
        (41, "202", f"Got charged twice by {brand} this month and support just hangs up on me. Terrible.", "en", 25),
        (33, "101", f"Shout out to {brand} support, sorted my roaming in five minutes!", "en", 4),
        (25, "203", f"{brand} is hiring customer care agents in Lisbon", "en", 0),
        (12, "202", f"La app de {brand} no funciona desde ayer, pésimo servicio.", "es", 2),
    ]
    made = [fake.publish(snowflake(now - timedelta(minutes=m), seq), text, now - timedelta(minutes=m), likes,
                         author_id=author, lang=lang)
            for seq, (m, author, text, lang, likes) in enumerate(posts)]
    made.append(fake.publish(snowflake(now - timedelta(minutes=7), 9), f"{brand} deleted my account??",
                             now - timedelta(minutes=7), 1, author_missing=True))
    return made


def _live(fake: FakeX, brand: str, viral: FakeTweet, every: float) -> None:
    """Every `every` seconds the charged-twice complaint spreads and someone new chimes in."""
    for n in itertools.count(1):
        time.sleep(every)
        with fake._lock:
            viral.likes += 15 * n
            viral.retweets += 6 * n
            viral.replies += 2 * n
        now = datetime.now(UTC)
        fake.publish(snowflake(now, n), f"Same here, {brand} charged me twice too. #{n}", now, author_id="201")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake X API v2 for local Earshot runs.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default="earshot-dev-token", help="the bearer token the fake accepts")
    parser.add_argument("--brand", default="Brisa Mobile", help="the brand the demo posts talk about")
    parser.add_argument("--page-size", type=int, default=PAGE_MAX)
    parser.add_argument("--live", action="store_true", help="keep posting and growing engagement")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between live updates")
    args = parser.parse_args(argv)
    fake = FakeX(token=args.token, page_size=args.page_size)
    posts = seed_demo(fake, args.brand)
    url = fake.start(args.host, args.port)
    print(f"Fake X API v2 serving {len(fake.tweets)} posts about {args.brand!r} at {url}", flush=True)
    print(f"  export EARSHOT_X_BEARER_TOKEN={args.token}", flush=True)
    print(f"  earshot.yaml:  sources: {{x: {{api_base_url: '{url}'}}}}", flush=True)
    if args.live:
        threading.Thread(target=_live, args=(fake, args.brand, posts[1], args.every), daemon=True).start()
    serve_until_interrupted(fake)


if __name__ == "__main__":
    main()
