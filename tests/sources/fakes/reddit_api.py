"""A fake Reddit API on loopback: app-only OAuth, subreddit search, new comments and /api/info.

It answers in Reddit's wire format (Listing / t3 / t1 "kind" + "data" objects, the
`after` cursor, `x-ratelimit-*` headers), so praw parses it for real. Search evaluates
quoted phrases, bare words, OR / AND / NOT and parentheses over title and selftext, and
honours `restrict_sr`, `t` and `sort=new`. Tests script failures with `fail_next` and
`break_next_payload`.

Run it standalone to point a local Earshot at it:

    python -m tests.sources.fakes.reddit_api --port 8766 --brand "Brisa Mobile"
"""

from __future__ import annotations

import argparse
import base64
import itertools
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

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

PAGE_MAX = 100
WINDOWS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 31 * 86400, "year": 366 * 86400}
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = BASE36[digit] + out
        if not number:
            return out


@dataclass
class FakeThing:
    kind: str  # "t3" submission or "t1" comment
    id: str  # base36, without the kind prefix
    subreddit: str
    author: str | None  # None: deleted account, shown as "[deleted]"
    created_utc: float
    score: int = 0
    title: str = ""  # t3
    selftext: str = ""  # t3
    num_comments: int = 0  # t3
    upvote_ratio: float = 1.0  # t3
    body: str = ""  # t1
    link_id: str = ""  # t1: the submission's fullname
    over_18: bool = False  # NSFW
    score_hidden: bool = False  # t1: the subreddit hides fresh comments' scores (`score` then reads 1)
    gone: str | None = None  # "[removed]" by moderators or "[deleted]" by the author: the text is replaced
    parent_id: str = ""  # t1: what it answers (the submission, or a comment); empty: the submission

    @property
    def fullname(self) -> str:
        return f"{self.kind}_{self.id}"

    @property
    def searchable(self) -> str:
        return f"{self.title}\n{self.selftext}".lower()


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]


# --- search syntax ------------------------------------------------------------------------------

Predicate = Callable[[FakeThing], bool]
_TOKEN = re.compile(r'\s*(\(|\)|"[^"]*"|[^\s()"]+)')


def parse_query(query: str) -> Predicate:
    """Phrases, words, OR / AND / NOT (upper case, as Reddit wants them) and parentheses."""
    return boolean_query(query, _TOKEN, _term, negation="NOT", and_word="AND")


def _term(token: str) -> Predicate:
    if token.startswith("author:"):
        author = token[len("author:"):]
        return lambda t: (t.author or "").lower() == author.lower()
    term = token.strip('"').lower()
    return lambda t: term in t.searchable


# --- the fake -----------------------------------------------------------------------------------


@dataclass
class FakeReddit(FakeServer):
    """State of the fake platform plus the HTTP server that serves it.

    `start()` returns the base URL, which is both praw's oauth_url and its reddit_url.
    """

    methods = ("GET", "POST")

    client_id: str = "earshot-dev-client"
    client_secret: str = "earshot-dev-secret"
    page_size: int = PAGE_MAX  # at most this many items per page, whatever `limit` asks
    subreddit: str = "acmefans"  # where `publish` posts unless told otherwise
    ratelimit_allowance: int = 1000  # requests per 600 s window, as Reddit reports for OAuth clients
    window_seconds: int = 600
    omit_fields: set[str] = field(default_factory=set)  # fields left out of every thing
    closed: dict[str, str] = field(default_factory=dict)  # subreddit -> private / banned / quarantined

    things: dict[str, FakeThing] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    # Replies: the brand's account (script app, password grant) and what it may not do.
    username: str = "brisa_care"
    password: str = "fake-reddit-password"
    user_tokens: set[str] = field(default_factory=set)  # tokens that act for `username`
    locked: set[str] = field(default_factory=set)  # fullnames whose thread is locked
    replied: list[dict[str, str]] = field(default_factory=list)  # every accepted /api/comment form
    _pending: deque[Pending] = field(default_factory=deque)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _window: tuple[float, int] = (0.0, 0)
    _refuse_next_token: bool = False

    # -- scripting

    def submit(self, native_id: str, title: str, created_at: datetime, score: int = 0, *, selftext: str = "",
               author: str | None = "ana_sousa", subreddit: str | None = None, num_comments: int = 0) -> FakeThing:
        """A submission (`native_id` with or without its `t3_` prefix)."""
        thing = FakeThing("t3", native_id.removeprefix("t3_"), subreddit or self.subreddit, author,
                          float(int(created_at.timestamp())), score, title=title, selftext=selftext,
                          num_comments=num_comments)
        return self._add(thing)

    def comment(self, native_id: str, body: str, created_at: datetime, score: int = 0, *,
                author: str | None = "ana_sousa", subreddit: str | None = None, link_id: str = "t3_zzz0") -> FakeThing:
        """A comment (`native_id` with or without its `t1_` prefix) on the submission `link_id`."""
        thing = FakeThing("t1", native_id.removeprefix("t1_"), subreddit or self.subreddit, author,
                          float(int(created_at.timestamp())), score, body=body, link_id=link_id)
        return self._add(thing)

    def _add(self, thing: FakeThing) -> FakeThing:
        if not re.fullmatch(r"[0-9a-z]+", thing.id):
            raise ValueError(f"Reddit ids are base36 (digits and lower-case letters), not {thing.id!r}")
        with self._lock:
            self.things[thing.fullname] = thing
        return thing

    def set_score(self, fullname: str, score: int) -> None:
        with self._lock:
            self.things[fullname].score = score

    def lock(self, fullname: str) -> None:
        """Lock the thread: Reddit refuses new comments in it (THREAD_LOCKED)."""
        with self._lock:
            self.locked.add(fullname)

    def replies_to(self, fullname: str) -> list[FakeThing]:
        with self._lock:
            return [t for t in self.things.values() if t.kind == "t1" and t.parent_id == fullname]

    def remove(self, fullname: str) -> None:
        """The item is purged altogether: /api/info no longer returns it."""
        with self._lock:
            self.things.pop(fullname, None)

    def take_down(self, fullname: str, placeholder: str = "[removed]") -> None:
        """A moderator removes the item ("[removed]") or its author deletes it ("[deleted]"): Reddit keeps
        the item but replaces its text (and a deleted item's author) with the placeholder."""
        with self._lock:
            self.things[fullname].gone = placeholder

    def close(self, subreddit: str, reason: str) -> None:
        """The subreddit goes private, is banned or quarantined: its listings answer as Reddit does."""
        with self._lock:
            self.closed[subreddit.lower()] = reason

    def answer_next(self, body: bytes | str, status: int = 200, *, after: int = 0) -> None:
        """Answer the next API request with this body: a response shaped as Reddit's own (a fixture)."""
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            queue_pending(self._pending, Pending("recorded", status=status, body=raw), after=after)

    def fail_next(self, status: int, times: int = 1, *, after: int = 0) -> None:
        """Answer the next `times` requests (a token request included) with this HTTP status.

        429 comes with `x-ratelimit-reset: 1`. A 401 to an API request means the app's
        credentials were revoked: its tokens stop working and the next token request is
        refused too (otherwise prawcore would just fetch a new token and carry on).
        `after`: let that many API requests through first.
        """
        with self._lock:
            queue_pending(self._pending, Pending("status", status), times=times, after=after)

    def break_next_payload(self, mode: str = "html", *, after: int = 0) -> None:
        """Answer the next listing or info request 200 with a body Reddit does not document.

        "html": not JSON (a CDN's error page); "shape": a JSON object that is no Listing;
        "items": a normal listing with two malformed children added. Token requests are
        not counted: their body is praw's business, not the source's.
        """
        with self._lock:
            queue_pending(self._pending, Pending("broken", mode=mode), after=after)

    def listing_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path != "/api/v1/access_token"]

    # -- serving

    def _reply(self, request: Request) -> Reply:
        return sniffed_reply(*self.handle(request.method, unquote(request.path), request.params(),
                                          request.lower_headers(), request.form()))

    def handle(self, method: str, path: str, params: dict[str, str], headers: dict[str, str],
               form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(Recorded(method, path, {**params, **form}))
            token_request = path.rstrip("/") == "/api/v1/access_token"
            pending = None
            if self._pending and (not token_request or self._pending[0].kind == "status"):
                pending = self._pending.popleft()
            if token_request and self._refuse_next_token and pending is None:
                self._refuse_next_token = False
                return self._failure(401, True)
            if pending is not None and pending.kind == "status":
                if pending.status == 401 and not token_request:
                    self.tokens.clear()
                    self._refuse_next_token = True
                return self._failure(pending.status, token_request)
            if token_request:
                return self._token(method, headers, form)
            rate, over_limit = self._rate_headers()
            if headers.get("authorization", "").removeprefix("bearer ") not in self.tokens:
                return 401, {**rate, **_INVALID_TOKEN}, json_bytes({"message": "Unauthorized", "error": 401})
            if over_limit:
                return self._failure(429, False)
            if pending is not None and pending.kind == "recorded":
                return pending.status, rate, pending.body
            route = re.fullmatch(r"/r/([A-Za-z0-9_+]+)/(search|comments)/?(?:\.json)?", path)
            if method == "GET" and route:
                subs = {s.lower() for s in route.group(1).split("+")}
                if closed := [self.closed[s] for s in subs if s in self.closed]:
                    return _closed(closed[0], rate)
                body = self._search(subs, params) if route.group(2) == "search" else self._comments(subs, params)
            elif method == "GET" and path.rstrip("/") in ("/api/info", "/api/info.json"):
                body = self._info(params)
            elif method == "POST" and path.rstrip("/") == "/api/comment":
                token = headers.get("authorization", "").removeprefix("bearer ")
                return 200, rate, json_bytes(self._comment(form, token in self.user_tokens))
            else:
                return 404, rate, json_bytes({"message": "Not Found", "error": 404})
            if isinstance(body, int):
                return body, rate, json_bytes({"message": "Bad Request", "error": body})
            if pending is not None and pending.kind == "broken":
                return 200, rate, _broken(pending.mode, body)
            return 200, rate, json_bytes(body)

    def _rate_headers(self) -> tuple[dict[str, str], bool]:
        now = time.time()
        start, used = self._window
        if now - start >= self.window_seconds:
            start, used = now, 0
        used += 1
        self._window = (start, used)
        return {
            "x-ratelimit-used": str(used),
            "x-ratelimit-remaining": f"{max(self.ratelimit_allowance - used, 0):.1f}",
            "x-ratelimit-reset": str(max(int(start + self.window_seconds - now), 0)),
        }, used > self.ratelimit_allowance

    def _failure(self, status: int, token_request: bool) -> tuple[int, dict[str, str], bytes]:
        headers: dict[str, str] = {}
        if status == 429:
            headers = {"x-ratelimit-used": str(self.ratelimit_allowance), "x-ratelimit-remaining": "0.0",
                       "x-ratelimit-reset": "1"}
        elif status == 401 and not token_request:
            headers = dict(_INVALID_TOKEN)
        if status >= 500:
            return status, headers, b"<html><body><h1>all servers are busy</h1></body></html>"
        return status, headers, json_bytes({"message": _REASONS.get(status, "Error"), "error": status})

    def _token(self, method: str, headers: dict[str, str], form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if method != "POST" or headers.get("authorization") != f"Basic {expected}":
            return 401, {}, json_bytes({"message": "Unauthorized", "error": 401})
        grant = form.get("grant_type")
        if grant == "password":  # a script app acting for its developer's account
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return 200, {}, json_bytes({"error": "invalid_grant"})
        elif grant != "client_credentials":
            return 200, {}, json_bytes({"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(20)
        self.tokens.add(token)
        if grant == "password":
            self.user_tokens.add(token)
        return 200, {}, json_bytes({"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    # -- endpoints

    def _comment(self, form: dict[str, str], as_user: bool) -> dict[str, Any]:
        """`POST /api/comment` (api_type=json): errors in `json.errors` as [code, message, field]."""
        def errors(*error: Any) -> dict[str, Any]:
            return {"json": {"errors": [list(error)]}}

        if not as_user:  # an app-only token speaks for nobody
            return errors("USER_REQUIRED", "Please log in to do that.", None)
        parent, text = form.get("thing_id", ""), form.get("text", "")
        if not text.strip():
            return errors("NO_TEXT", "we need something here", "text")
        if len(text) > 10000:
            return errors("TOO_LONG", "this is too long (max: 10000)", "text")
        target = self.things.get(parent)
        if target is None:
            if parent.startswith("t1_"):
                return errors("DELETED_COMMENT", "that comment has been deleted", "parent")
            return errors("DELETED_LINK", "the link you are commenting on has been deleted", "parent")
        link = target.fullname if target.kind == "t3" else target.link_id
        if parent in self.locked or link in self.locked:
            return errors("THREAD_LOCKED", "Comments are locked.", "parent")
        comment = FakeThing("t1", base36(10**10 + len(self.things)), target.subreddit, self.username,
                            float(int(time.time())), 1, body=text, link_id=link, parent_id=parent)
        self.things[comment.fullname] = comment
        if target.kind == "t3":
            target.num_comments += 1
        self.replied.append(dict(form))
        return {"json": {"errors": [], "data": {"things": [_thing_json(comment, set())]}}}

    def _visible(self, subs: set[str]) -> Callable[[FakeThing], bool]:
        return lambda t: "all" in subs or t.subreddit.lower() in subs

    def _search(self, subs: set[str], params: dict[str, str]) -> dict[str, Any] | int:
        query = params.get("q", "")
        if not query or len(query) > 512:
            return 400
        try:
            predicate = parse_query(query)
        except ValueError:
            return 400
        restrict = params.get("restrict_sr", "").lower() in ("1", "true", "on")
        since = time.time() - WINDOWS.get(params.get("t", "all"), 10**10)
        in_scope = self._visible(subs if restrict else {"all"})
        found = [t for t in self.things.values()
                 if t.kind == "t3" and in_scope(t) and t.created_utc >= since and predicate(t)]
        return self._listing(found, params)

    def _comments(self, subs: set[str], params: dict[str, str]) -> dict[str, Any] | int:
        in_scope = self._visible(subs)
        return self._listing([t for t in self.things.values() if t.kind == "t1" and in_scope(t)], params)

    def _info(self, params: dict[str, str]) -> dict[str, Any] | int:
        names = [n for n in params.get("id", "").split(",") if n]
        if len(names) > 100:
            return 400
        return _listing_json([self.things[n] for n in names if n in self.things], None, self.omit_fields)

    def _listing(self, things: list[FakeThing], params: dict[str, str]) -> dict[str, Any]:
        ordered = sorted(things, key=lambda t: (t.created_utc, int(t.id, 36)), reverse=True)
        if after := params.get("after"):
            names = [t.fullname for t in ordered]
            ordered = ordered[names.index(after) + 1:] if after in names else []
        try:
            size = min(int(params.get("limit", 25)), PAGE_MAX, self.page_size)
        except ValueError:
            size = 25
        page = ordered[:size]
        more = len(ordered) > size
        return _listing_json(page, page[-1].fullname if more and page else None, self.omit_fields)


_INVALID_TOKEN = {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}


def _slug(text: str) -> str:
    # Reddit keeps the title's letters in any script: slugs (and so permalinks) are not ASCII.
    return "_".join(re.findall(r"\w+", text.lower()))[:50] or "post"


def _closed(reason: str, rate: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A closed subreddit's listing, as Reddit answers it: the cause is in `reason`."""
    if reason == "banned":
        return 404, rate, json_bytes({"reason": "banned", "message": "Not Found", "error": 404})
    if reason == "quarantined":
        return 403, rate, json_bytes({"reason": "quarantined", "quarantine_message": "This community is quarantined.",
                                      "quarantine_message_html": "<p>quarantined</p>",
                                      "message": "Forbidden", "error": 403})
    return 403, rate, json_bytes({"reason": reason, "message": "Forbidden", "error": 403})


def _thing_json(thing: FakeThing, omit: set[str]) -> dict[str, Any]:
    author = "[deleted]" if thing.author is None or thing.gone == "[deleted]" else thing.author
    common: dict[str, Any] = {
        "id": thing.id, "name": thing.fullname, "author": author, "subreddit": thing.subreddit,
        "subreddit_name_prefixed": f"r/{thing.subreddit}",
        "subreddit_id": "t5_" + base36(sum(map(ord, thing.subreddit)) * 104729),
        "created_utc": thing.created_utc, "created": thing.created_utc, "score": thing.score, "ups": thing.score,
        "downs": 0, "edited": False, "distinguished": None, "stickied": False, "gilded": 0,
        "over_18": thing.over_18,
    }
    if thing.author:
        common["author_fullname"] = "t2_" + base36(sum(map(ord, thing.author)) * 7919)
    if thing.kind == "t3":
        permalink = f"/r/{thing.subreddit}/comments/{thing.id}/{_slug(thing.title)}/"
        data = {**common, "title": thing.title, "selftext": thing.gone or thing.selftext, "selftext_html": None,
                "hide_score": thing.score_hidden,
                "removed_by_category": {"[removed]": "moderator", "[deleted]": "deleted"}.get(thing.gone or ""),
                "num_comments": thing.num_comments, "upvote_ratio": thing.upvote_ratio, "permalink": permalink,
                "url": "https://www.reddit.com" + permalink, "is_self": True, "domain": f"self.{thing.subreddit}",
                "link_flair_text": None, "locked": False, "archived": False}
    else:
        link = thing.link_id.removeprefix("t3_")
        permalink = f"/r/{thing.subreddit}/comments/{link}/post/{thing.id}/"
        data = {**common, "body": thing.gone or thing.body, "body_html": None, "link_id": thing.link_id,
                "score_hidden": thing.score_hidden, **({"score": 1, "ups": 1} if thing.score_hidden else {}),
                "parent_id": thing.parent_id or thing.link_id, "link_title": "post", "permalink": permalink,
                "link_permalink": f"https://www.reddit.com/r/{thing.subreddit}/comments/{link}/post/",
                "replies": "", "is_submitter": False}
    return {"kind": thing.kind, "data": {k: v for k, v in data.items() if k not in omit}}


def _listing_json(things: list[FakeThing], after: str | None, omit: set[str]) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"after": after, "dist": len(things), "modhash": None, "geo_filter": "",
                                        "children": [_thing_json(t, omit) for t in things], "before": None}}


def _broken(mode: str, body: dict[str, Any]) -> bytes:
    if mode == "shape":
        return json_bytes({"data": {"things": "not a listing"}, "status": "ok"})
    if mode == "items":
        children = body["data"]["children"]
        bad = [{"kind": "t3", "data": {"id": "bad1", "name": "t3_bad1", "title": "acme broken item"}},
               {"kind": "t1", "data": {"id": "bad2", "name": "t1_bad2", "body": ["not", "text"],
                                       "created_utc": "yesterday", "permalink": "/r/x/comments/a/b/bad2/"}}]
        return json_bytes({**body, "data": {**body["data"], "children": [*children, *bad]}})
    return b"<html><body><h1>Our CDN was unable to reach our servers</h1></body></html>"


# --- standalone ---------------------------------------------------------------------------------


def seed_demo(fake: FakeReddit, brand: str) -> list[FakeThing]:
    """A few submissions and comments about `brand` from the last hour."""
    now = datetime.now(UTC)
    slug = re.sub(r"\W", "", brand)[:21] or "brand"
    made = [
        fake.submit("1h4brs1", f"{brand} roaming charges are a scam", now - timedelta(minutes=52), 14,
                    selftext="Got billed 80 euros for one day in Portugal and the chat bot just loops.",
                    author="throwaway_bill_2026", subreddit=slug, num_comments=9),
        fake.submit("1h4c0a2", f"Is {brand} down for anyone else?", now - timedelta(minutes=31), 5,
                    subreddit="mobile", num_comments=3),
        fake.submit("1h4c7k9", f"{brand} is hiring in Lisbon", now - timedelta(minutes=20), 1, subreddit=slug),
        fake.submit("1h4d2q3", f"Switched to {brand}, pleasantly surprised", now - timedelta(minutes=9), 22,
                    author=None, subreddit=slug, num_comments=4),
    ]
    made.append(fake.comment("lz9k2a1", f"Same, {brand} charged me twice for roaming.", now - timedelta(minutes=40),
                             6, subreddit=slug, link_id="t3_1h4brs1"))
    return made


def _live(fake: FakeReddit, brand: str, every: float) -> None:
    """Every `every` seconds the roaming complaint climbs and someone new comments."""
    complaint = fake.things["t3_1h4brs1"]
    for n in itertools.count(1):
        time.sleep(every)
        with fake._lock:
            complaint.score += 20 * n
            complaint.num_comments += 4 * n
        fake.comment(base36(10**9 + n), f"{brand} did the same to me ({n})", datetime.now(UTC),
                     subreddit=complaint.subreddit, link_id=complaint.fullname)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Reddit API for local Earshot runs.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--client-id", default="earshot-dev-client")
    parser.add_argument("--client-secret", default="earshot-dev-secret")
    parser.add_argument("--brand", default="Brisa Mobile", help="the brand the demo posts talk about")
    parser.add_argument("--page-size", type=int, default=PAGE_MAX)
    parser.add_argument("--live", action="store_true", help="keep commenting and growing the score")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between live updates")
    args = parser.parse_args(argv)
    fake = FakeReddit(client_id=args.client_id, client_secret=args.client_secret, page_size=args.page_size)
    seed_demo(fake, args.brand)
    url = fake.start(args.host, args.port)
    print(f"Fake Reddit API serving {len(fake.things)} items about {args.brand!r} at {url}", flush=True)
    print(f"  export EARSHOT_REDDIT_CLIENT_ID={args.client_id} EARSHOT_REDDIT_CLIENT_SECRET={args.client_secret}", flush=True)
    print(f"  earshot.yaml:  sources: {{reddit: {{oauth_url: '{url}', reddit_url: '{url}', include_comments: true}}}}", flush=True)
    if args.live:
        threading.Thread(target=_live, args=(fake, args.brand, args.every), daemon=True).start()
    serve_until_interrupted(fake)


if __name__ == "__main__":
    main()
