"""A fake Bluesky PDS/AppView on loopback, speaking XRPC JSON as in the atproto lexicons.

Serves `com.atproto.server.createSession` / `refreshSession` (JWT-shaped tokens, so the SDK
can read their expiry), `app.bsky.feed.searchPosts` (q, sort=latest, since, until, lang,
cursor, limit; ordered by sortAt = the earlier of createdAt and indexedAt) and
`app.bsky.feed.getPosts` (at most 25 URIs). Errors are XRPC `{"error", "message"}` bodies; a
429 carries `ratelimit-limit/-remaining/-reset/-policy` headers with the reset ~1 s ahead.

Replies: `com.atproto.repo.createRecord` of an `app.bsky.feed.post` with reply refs (root and
parent strong refs), validated like the PDS validates the record; the PDS does not look the
parent up, so a client finds a deleted original through `getPosts`. `revoke_app_password()`
makes the account's logins fail (401) and its tokens invalid.

Failure injection: `fail_next(status)`, `break_next_payload(kind)`. Run standalone:
`python -m tests.sources.fakes.bluesky_api --port 8304` (prints the handle and password to use).
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.sources.fakes._server import FakeAPI, Reply, Request, json_reply, serve_standalone, standalone_args
from tests.sources.fakes._search import conjunctive_query

GET_POSTS_MAX = 25


@dataclass
class Author:
    did: str
    handle: str
    display_name: str | None = None


@dataclass
class Post:
    rkey: str
    author: Author
    text: str
    created_at: datetime
    indexed_at: datetime
    likes: int | None = 0
    reposts: int | None = 0
    replies: int | None = 0
    quotes: int | None = 0
    langs: list[str] | None = field(default_factory=lambda: ["en"])
    reply: dict[str, Any] | None = None  # the record's reply refs ({"root": {uri, cid}, "parent": {uri, cid}})

    @property
    def uri(self) -> str:
        return f"at://{self.author.did}/app.bsky.feed.post/{self.rkey}"

    @property
    def sort_at(self) -> datetime:
        return min(self.created_at, self.indexed_at)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _search_term(token: str) -> Callable[[Post], bool]:
    """One term of searchPosts' q: a word or "phrase" (anywhere in the text), from:, lang:, mentions:."""
    name, _, value = token.partition(":")
    if value and name == "from":
        return lambda p: p.author.handle == value
    if value and name == "lang":
        return lambda p: value in (p.langs or [])
    if value and name == "mentions":
        return lambda p: f"@{value.lower()}" in p.text.lower()
    word = token.strip('"').lower()
    return lambda p: word in p.text.lower()


def _jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(claims)}.{secrets.token_urlsafe(32)}"


class FakeBluesky(FakeAPI):
    """One account that can log in, a searchable set of posts, failures on demand.

    `break_next_payload(kind)`: `truncated` (the default), JSON cut off mid-way; `shape`, valid
    JSON without the lexicon's fields; `html`, an HTML page with 200 (a captive proxy).
    """

    methods = ("GET", "POST")
    url = FakeAPI.base_url  # what the harness and the tests call it

    def __init__(self, handle: str = "earshot.test", password: str = "fake-app-password", page_size: int = 25,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.handle = handle
        self.password = password
        self.did = "did:plc:earshotlistener00000000"
        self.page_size = page_size
        self._posts: dict[str, Post] = {}  # by URI
        self._tokens: set[str] = set()
        self._refresh_tokens: set[str] = set()
        self.requests: list[tuple[str, dict[str, list[str]]]] = []  # (nsid, query params)
        self.created: list[dict[str, Any]] = []  # every record accepted by createRecord
        self.replies: dict[str, str] = {}  # reply URI -> parent URI

    # --- content -------------------------------------------------------------------------

    def publish(self, post: Post) -> None:
        with self._lock:
            self._posts[post.uri] = post

    def find(self, rkey: str) -> Post:
        with self._lock:
            for post in self._posts.values():
                if post.rkey == rkey:
                    return post
        raise KeyError(rkey)

    def delete(self, rkey: str) -> None:
        post = self.find(rkey)
        with self._lock:
            del self._posts[post.uri]

    def revoke_app_password(self) -> None:
        """The app password is revoked: logins fail and every session ends."""
        with self._lock:
            self.password = secrets.token_urlsafe(12)
            self._tokens.clear()
            self._refresh_tokens.clear()

    def replies_to(self, rkey: str) -> list[Post]:
        with self._lock:
            parents = {uri for uri, post in self._posts.items() if post.rkey == rkey}
            parents |= {p for p in self.replies.values() if p.endswith("/" + rkey)}
            return [self._posts[r] for r, parent in self.replies.items() if parent in parents]

    def calls(self, nsid: str) -> list[dict[str, list[str]]]:
        return [params for name, params in self.requests if name == nsid]

    # --- failure injection ---------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Make every access token issued so far answer 400 ExpiredToken, as a PDS does."""
        with self._lock:
            self._tokens.clear()

    # --- serving -------------------------------------------------------------------------

    def _reply(self, request: Request) -> Reply:
        nsid = request.path.removeprefix("/xrpc/")
        params = request.query
        with self._lock:
            self.requests.append((nsid, params))
            return self._injected(_error, _broken) or self._route(
                request.method, nsid, params, request.body, request.headers.get("Authorization", ""))

    def _route(self, method: str, nsid: str, params: dict[str, list[str]], body: bytes, auth: str) -> Reply:
        if nsid == "com.atproto.server.createSession" and method == "POST":
            return self._create_session(body)
        if nsid == "com.atproto.server.refreshSession" and method == "POST":
            token = auth.removeprefix("Bearer ")
            if token not in self._refresh_tokens:
                return _xrpc(400, "ExpiredToken", "Token has expired")
            return self._session()
        if nsid in ("app.bsky.feed.searchPosts", "app.bsky.feed.getPosts") and method == "GET":
            token = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer "):
                return _xrpc(401, "AuthenticationRequired", "Authentication Required")
            if token not in self._tokens:
                return _xrpc(400, "ExpiredToken", "Token has expired")
            if nsid == "app.bsky.feed.searchPosts":
                return self._search(params)
            return self._get_posts(params)
        if nsid == "com.atproto.repo.createRecord" and method == "POST":
            token = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer "):
                return _xrpc(401, "AuthenticationRequired", "Authentication Required")
            if token not in self._tokens:
                return _xrpc(400, "ExpiredToken", "Token has expired")
            return self._create_record(body)
        return _xrpc(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")

    def _create_record(self, body: bytes) -> Reply:
        try:
            data = json.loads(body)
        except ValueError:
            return _xrpc(400, "InvalidRequest", "Input must be JSON")
        if data.get("repo") not in (self.did, self.handle):
            return _xrpc(401, "AuthRequired", "Input/repo must match the authenticated account")  # the PDS's words
        record = data.get("record")
        if data.get("collection") != "app.bsky.feed.post" or not isinstance(record, dict):
            return _xrpc(400, "InvalidRequest", "Invalid collection or record")
        text, created = record.get("text"), record.get("createdAt")
        if record.get("$type") != "app.bsky.feed.post" or not isinstance(text, str) or not isinstance(created, str):
            return _xrpc(400, "InvalidRequest", 'Invalid app.bsky.feed.post record: Record must have the property "text"')
        if len(text) > 300 or len(text.encode()) > 3000:
            return _xrpc(400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/text must not be longer "
                                                "than 300 graphemes")
        reply = record.get("reply")
        if reply is not None:
            refs = [reply.get(k) if isinstance(reply, dict) else None for k in ("root", "parent")]
            if not all(isinstance(r, dict) and isinstance(r.get("uri"), str) and r["uri"].startswith("at://")
                       and isinstance(r.get("cid"), str) for r in refs):
                return _xrpc(400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/reply must have the "
                                                    "properties \"root\" and \"parent\" (strong refs)")
        rkey = "3l" + secrets.token_hex(6)  # a TID-like record key
        me = Author(self.did, self.handle, "Brand care")
        now = datetime.now(UTC)
        post = Post(rkey, me, text, now, now, langs=record.get("langs"), reply=reply)
        self._posts[post.uri] = post
        if reply is not None:
            self.replies[post.uri] = reply["parent"]["uri"]
        self.created.append(record)
        return json_reply({"uri": post.uri, "cid": _cid(post), "commit": {"cid": "bafyreicommit", "rev": rkey},
                           "validationStatus": "valid"})

    def _create_session(self, body: bytes) -> Reply:
        try:
            data = json.loads(body)
        except ValueError:
            return _xrpc(400, "InvalidRequest", "Input must be JSON")
        if data.get("identifier") not in (self.handle, self.did) or data.get("password") != self.password:
            return _xrpc(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._session()

    def _session(self) -> Reply:
        now = int(time.time())
        access = _jwt({"scope": "com.atproto.appPass", "sub": self.did, "iat": now, "exp": now + 7200,
                       "aud": "did:web:fake.pds"})
        refresh = _jwt({"scope": "com.atproto.refresh", "sub": self.did, "iat": now, "exp": now + 86400 * 60,
                        "jti": secrets.token_urlsafe(8)})
        self._tokens.add(access)
        self._refresh_tokens.add(refresh)
        return json_reply({"accessJwt": access, "refreshJwt": refresh, "handle": self.handle, "did": self.did,
                           "email": "listener@example.test", "emailConfirmed": True, "active": True})

    def _search(self, params: dict[str, list[str]]) -> Reply:
        q = (params.get("q") or [""])[0]
        if not q.strip():
            return _xrpc(400, "InvalidRequest", 'Error: Params must have the property "q"')
        matches = conjunctive_query(q, _search_term, negation=False)
        try:
            limit = int((params.get("limit") or ["25"])[0])
            offset = int((params.get("cursor") or ["0"])[0])
        except ValueError:
            return _xrpc(400, "InvalidRequest", "Invalid cursor or limit")
        if not 1 <= limit <= 100:
            return _xrpc(400, "InvalidRequest", "limit must be between 1 and 100")
        since = _parse_bound((params.get("since") or [None])[0])
        until = _parse_bound((params.get("until") or [None])[0])
        lang = (params.get("lang") or [None])[0]
        hits = [p for p in self._posts.values()
                if matches(p)
                and (since is None or p.sort_at >= since)
                and (until is None or p.sort_at < until)
                and (lang is None or lang in (p.langs or []))]
        hits.sort(key=lambda p: (p.sort_at, p.rkey), reverse=True)
        page = hits[offset : offset + min(limit, self.page_size)]
        out: dict[str, Any] = {"posts": [_post_view(p) for p in page], "hitsTotal": len(hits)}
        if offset + len(page) < len(hits):
            out["cursor"] = str(offset + len(page))
        return json_reply(out)

    def _get_posts(self, params: dict[str, list[str]]) -> Reply:
        uris = params.get("uris") or []
        if len(uris) > GET_POSTS_MAX:
            return _xrpc(400, "InvalidRequest", f"uris must not have more than {GET_POSTS_MAX} elements")
        return json_reply({"posts": [_post_view(self._posts[u]) for u in uris if u in self._posts]})


def _parse_bound(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _cid(post: Post) -> str:
    return "bafyreib2rxk3rh6kzwq" + post.rkey.lower().rjust(20, "a")[:20]


def _post_view(post: Post) -> dict[str, Any]:
    author: dict[str, Any] = {"did": post.author.did, "handle": post.author.handle, "labels": [],
                              "createdAt": "2023-04-01T00:00:00.000Z"}
    if post.author.display_name:
        author["displayName"] = post.author.display_name
        author["avatar"] = f"https://media.example.test/avatar/{post.author.did}.jpg"
    record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": post.text, "createdAt": _iso(post.created_at)}
    if post.langs is not None:
        record["langs"] = post.langs
    if post.reply is not None:
        record["reply"] = post.reply
    view: dict[str, Any] = {
        "uri": post.uri,
        "cid": _cid(post),
        "author": author,
        "record": record,
        "indexedAt": _iso(post.indexed_at),
        "labels": [],
    }
    for key, value in (("replyCount", post.replies), ("repostCount", post.reposts), ("likeCount", post.likes),
                       ("quoteCount", post.quotes)):
        if value is not None:  # counts are optional in the lexicon
            view[key] = value
    return view


def _xrpc(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply({"error": error, "message": message}, status, headers)


def _error(status: int) -> Reply:
    if status == 429:
        reset = math.ceil(time.time() + 1)
        return _xrpc(429, "RateLimitExceeded", "Rate Limit Exceeded", {
            "ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset),
            "ratelimit-policy": "3000;w=300"})
    names = {400: "InvalidRequest", 401: "AuthenticationRequired", 403: "Forbidden", 404: "NotFound",
             500: "InternalServerError", 502: "UpstreamFailure", 503: "NotEnoughResources"}
    return _xrpc(status, names.get(status, "InternalServerError"), f"fake failure {status}")


def _broken(kind: str) -> Reply:
    if kind == "shape":
        return json_reply({"feed": "posts live elsewhere now"})
    if kind == "html":
        return Reply(200, b"<html><body>Please sign in to the network</body></html>", {"Content-Type": "text/html"})
    return Reply(200, b'{"posts": [{"uri": "at://did:plc:x/app.bsky.feed.post/1", "rec',
                 {"Content-Type": "application/json; charset=utf-8"})


def seed(fake: FakeBluesky, brand: str) -> None:
    """A few posts about the brand, one viral complaint among them, one by a deactivated account."""
    now = datetime.now(UTC).replace(microsecond=0)
    ana = Author("did:plc:ana0000000000000000000000", "ana.bsky.social", "Ana")
    ben = Author("did:plc:ben0000000000000000000000", "ben.bsky.social", "Ben")
    gone = Author("did:plc:gone000000000000000000000", "handle.invalid")
    samples = [
        (ana, f"{brand} charged me twice and support is silent. Anyone else?", 480, 120),
        (ben, f"Shout out to {brand} support, fixed in 5 minutes", 12, 1),
        (gone, f"{brand} app logs me out every hour", 3, 0),
        (ben, f"{brand} is hiring engineers!", 2, 0),
    ]
    for i, (author, text, likes, reposts) in enumerate(samples):
        at = now - timedelta(minutes=5 * i)
        fake.publish(Post(f"3kseed{i:07d}", author, text, at, at, likes=likes, reposts=reposts, replies=i))


def main() -> None:
    args = standalone_args(__doc__, 8304, brand="Acme")
    fake = FakeBluesky(port=args.port)
    seed(fake, args.brand)
    serve_standalone(fake, lambda url: f"fake Bluesky on {url}; set sources.bluesky.base_url to it and\n"
                                       f"  EARSHOT_BLUESKY_HANDLE={fake.handle} EARSHOT_BLUESKY_APP_PASSWORD={fake.password}")

if __name__ == "__main__":
    main()
