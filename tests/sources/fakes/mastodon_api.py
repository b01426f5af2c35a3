"""A fake Mastodon instance on loopback, speaking the REST API's JSON as documented.

Serves `/api/v1/instance` and `/api/v2/instance` (Mastodon.py reads the version there),
`/api/v1/timelines/tag/:tag` (since_id, min_id, max_id, limit), `/api/v2/search?type=statuses`
(q, min_id, max_id, offset, limit), `/api/v1/statuses/:id` and, from version 4.3,
`/api/v1/statuses?id[]=` for several at once. Ids are opaque strings ordered by publication,
as the API promises; statuses carry HTML `content`, Link headers page the timelines, and
every reply has `X-RateLimit-*` headers (a 429's reset is ~1 s ahead, as an ISO timestamp).

Failure injection: `fail_next(status)`, `break_next_payload(kind)`. Run standalone:
`python -m tests.sources.fakes.mastodon_api --port 8305` (prints the token to use).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.sources.fakes._server import FakeAPI, Reply, Request, json_reply, serve_standalone, standalone_args
from tests.sources.fakes._search import conjunctive_query

MAX_LIMIT = 40
DOMAIN = "fake.social"
HASHTAG = re.compile(r"#(\w+)")


@dataclass
class Account:
    id: str
    username: str
    followers: int = 0
    domain: str | None = None  # None: local to the instance

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


def _search_term(token: str) -> Callable[[Status], bool]:
    """One term of /api/v2/search's q: a word or "phrase" (anywhere in the text), from:, language:."""
    name, _, value = token.partition(":")
    if value and name == "from":
        return lambda s: s.account is not None and s.account.acct == value.lstrip("@")
    if value and name == "language":
        return lambda s: s.language == value
    word = token.strip('"').lower()
    return lambda s: word in s.text.lower()


@dataclass
class Status:
    id: str
    account: Account | None  # None: the author's account is gone (suspended or deleted)
    text: str
    created_at: datetime
    favourites: int = 0
    reblogs: int = 0
    replies: int = 0
    language: str | None = "en"
    spoiler: str = ""
    seq: int = 0  # publication order: what ids sort by

    @property
    def tags(self) -> set[str]:
        return {t.lower() for t in HASHTAG.findall(self.text)}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_html(text: str) -> str:
    """Plain text as Mastodon renders it: paragraphs, <br>, linked hashtags, escaped entities."""

    def line(raw: str) -> str:
        escaped = html.escape(raw, quote=False)
        return HASHTAG.sub(lambda m: f'<a href="https://{DOMAIN}/tags/{m[1].lower()}" class="mention hashtag" '
                                     f'rel="tag">#<span>{m[1]}</span></a>', escaped)

    return "".join("<p>" + "<br />".join(line(ln) for ln in para.split("\n")) + "</p>" for para in text.split("\n\n"))


class FakeMastodon(FakeAPI):
    """One instance with one valid token, public statuses, failures on demand.

    `break_next_payload(kind)`: `truncated` (the default), JSON cut off mid-way; `shape`, an
    object where a list belongs; `html`, the instance's HTML maintenance page with 200.
    """

    methods = ("GET", "HEAD", "POST")
    url = FakeAPI.base_url  # what the harness and the tests call it

    def __init__(self, token: str = "fake-mastodon-token", page_size: int = 20, version: str = "4.3.2",
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.token = token
        self.page_size = page_size
        self.version = version
        self._statuses: dict[str, Status] = {}
        self._seq = 0
        # Replies: the brand account's token, its scopes, and statuses already made per Idempotency-Key.
        self.reply_token = "fake-mastodon-reply-token"
        self.reply_scopes = {"read", "write:statuses"}
        self.brand = Account("900", "brisa_care", 1200)
        self.in_reply_to: dict[str, str] = {}  # reply id -> the status it answers
        self._idempotent: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []  # (path, query)

    # --- content -------------------------------------------------------------------------

    def publish(self, status: Status) -> None:
        with self._lock:
            self._seq += 1
            status.seq = self._seq
            self._statuses[status.id] = status

    def status(self, status_id: str) -> Status:
        with self._lock:
            return self._statuses[status_id]

    def delete(self, status_id: str) -> None:
        with self._lock:
            del self._statuses[status_id]

    def revoke_write_scope(self) -> None:
        """The reply token keeps `read` only: posting is outside its authorized scopes (403)."""
        with self._lock:
            self.reply_scopes.discard("write:statuses")

    def replies_to(self, status_id: str) -> list[Status]:
        with self._lock:
            return [self._statuses[r] for r, parent in self.in_reply_to.items() if parent == status_id]

    def paths(self, prefix: str = "") -> list[str]:
        return [path for path, _ in self.requests if path.startswith(prefix)]

    # --- serving -------------------------------------------------------------------------

    def _reply(self, request: Request) -> Reply:
        params = request.query
        with self._lock:
            self.requests.append((request.path, params))
            if request.method == "POST":
                reply = self._injected(_error, _broken) or self._post_status(request)
            else:
                reply = self._injected(_error, _broken) or self._route(
                    request.path.rstrip("/"), params, request.headers.get("Authorization", ""))
        reply.headers.setdefault("X-RateLimit-Limit", "300")
        reply.headers.setdefault("X-RateLimit-Remaining", "299")
        reply.headers.setdefault("X-RateLimit-Reset", _iso(datetime.now(UTC) + timedelta(minutes=5)))
        return reply

    def _route(self, path: str, params: dict[str, list[str]], auth: str) -> Reply:
        if path == "/api/v1/instance":
            return json_reply({"uri": DOMAIN, "title": "Fake Social", "version": self.version,
                          "urls": {"streaming_api": f"wss://{DOMAIN}"}, "stats": {"user_count": 3}})
        if path == "/api/v2/instance":
            return json_reply({"domain": DOMAIN, "title": "Fake Social", "version": self.version,
                          "api_versions": {"mastodon": 2}, "configuration": {"urls": {}}})
        if auth != f"Bearer {self.token}":
            return json_reply({"error": "The access token is invalid"}, 401)
        if path.startswith("/api/v1/timelines/tag/"):
            tag = path.removeprefix("/api/v1/timelines/tag/").lower()
            return self._timeline(path, [s for s in self._ordered() if tag in s.tags], params)
        if path == "/api/v2/search":
            return self._search(params)
        if path == "/api/v1/statuses":
            if _version(self.version) < (4, 3, 0):
                return json_reply({"error": "Record not found"}, 404)
            ids = params.get("id[]", [])
            return json_reply([self._status_json(self._statuses[i]) for i in ids if i in self._statuses])
        if path.startswith("/api/v1/statuses/"):
            found = self._statuses.get(path.removeprefix("/api/v1/statuses/"))
            return json_reply(self._status_json(found)) if found else json_reply({"error": "Record not found"}, 404)
        return json_reply({"error": "Record not found"}, 404)

    def _ordered(self) -> list[Status]:
        return sorted(self._statuses.values(), key=lambda s: s.seq, reverse=True)  # newest first

    def _seq_of(self, params: dict[str, list[str]], name: str) -> int | None:
        value = (params.get(name) or [None])[0]
        if value is None:
            return None
        found = self._statuses.get(value)
        return found.seq if found else None

    def _limit(self, params: dict[str, list[str]]) -> int:
        return min(int((params.get("limit") or ["20"])[0]), MAX_LIMIT, self.page_size)

    def _timeline(self, path: str, statuses: list[Status], params: dict[str, list[str]]) -> Reply:
        since, min_seq, max_seq = (self._seq_of(params, n) for n in ("since_id", "min_id", "max_id"))
        limit = self._limit(params)
        if max_seq is not None:
            statuses = [s for s in statuses if s.seq < max_seq]
        if min_seq is not None:  # the page right after min_id, still newest first
            page = list(reversed([s for s in reversed(statuses) if s.seq > min_seq][:limit]))
        else:
            page = [s for s in statuses if since is None or s.seq > since][:limit]
        headers = {}
        if page:
            base = f"https://{DOMAIN}{path}"
            headers["Link"] = (f'<{base}?{urlencode({"max_id": page[-1].id})}>; rel="next", '
                               f'<{base}?{urlencode({"min_id": page[0].id})}>; rel="prev"')
        return json_reply([self._status_json(s) for s in page], headers=headers)

    def _search(self, params: dict[str, list[str]]) -> Reply:
        q = (params.get("q") or [""])[0]
        try:
            matches = conjunctive_query(q, _search_term, negation=True) if q.strip() else None
        except ValueError:
            matches = None
        kind = (params.get("type") or [None])[0]
        if kind not in (None, "statuses"):
            return json_reply({"accounts": [], "statuses": [], "hashtags": []})
        min_seq, max_seq = self._seq_of(params, "min_id"), self._seq_of(params, "max_id")
        offset = int((params.get("offset") or ["0"])[0])
        hits = [s for s in self._ordered()
                if matches is not None and matches(s)
                and (min_seq is None or s.seq > min_seq) and (max_seq is None or s.seq < max_seq)]
        page = hits[offset : offset + self._limit(params)]
        return json_reply({"accounts": [], "statuses": [self._status_json(s) for s in page], "hashtags": []})

    def _post_status(self, request: Request) -> Reply:
        """`POST /api/v1/statuses` as Mastodon answers it (form or JSON body, Idempotency-Key honoured)."""
        if request.path.rstrip("/") != "/api/v1/statuses":
            return json_reply({"error": "Record not found"}, 404)
        if request.headers.get("Authorization", "") != f"Bearer {self.reply_token}":
            return json_reply({"error": "The access token is invalid"}, 401)
        if "write:statuses" not in self.reply_scopes:
            return json_reply({"error": "This action is outside the authorized scopes"}, 403)
        if (request.headers.get("Content-Type") or "").startswith("application/json"):
            try:
                fields = {k: v for k, v in json.loads(request.body).items() if v is not None}
            except (ValueError, AttributeError):
                return json_reply({"error": "Error while parsing request body"}, 400)
        else:
            fields = request.form()
        key = request.headers.get("Idempotency-Key")
        if key and key in self._idempotent:
            return json_reply(self._status_json(self._statuses[self._idempotent[key]]))
        text, parent = str(fields.get("status", "")), fields.get("in_reply_to_id")
        if not text.strip():
            return json_reply({"error": "Validation failed: Text can't be blank"}, 422)
        if len(text) > 500:
            return json_reply({"error": "Validation failed: Text character limit of 500 exceeded"}, 422)
        if parent is not None and str(parent) not in self._statuses:
            return json_reply({"error": "The post you are trying to reply to does not appear to exist."}, 404)
        self._seq += 1  # the lock is held: publish() would take it again
        new_id = str(10**17 + self._seq)
        self._statuses[new_id] = Status(new_id, self.brand, text, datetime.now(UTC), language=None, seq=self._seq)
        if parent is not None:
            self.in_reply_to[new_id] = str(parent)
            self._statuses[str(parent)].replies += 1
        if key:
            self._idempotent[key] = new_id
        return json_reply(self._status_json(self._statuses[new_id]))

    def _status_json(self, status: Status) -> dict[str, Any]:
        if status.account is None:
            account: dict[str, Any] = {"id": "0", "suspended": True}  # everything else about the author is gone
        else:
            a = status.account
            account = {"id": a.id, "username": a.username, "acct": a.acct, "display_name": a.username.title(),
                       "locked": False, "bot": False, "discoverable": True, "group": False,
                       "created_at": "2022-11-01T00:00:00.000Z", "note": "<p>hi</p>",
                       "url": f"https://{a.domain or DOMAIN}/@{a.username}", "avatar": "https://fake.social/a.png",
                       "followers_count": a.followers, "following_count": 10, "statuses_count": 100,
                       "last_status_at": "2025-01-01", "emojis": [], "fields": []}
        username = status.account.username if status.account else "gone"
        return {
            "id": status.id, "created_at": _iso(status.created_at), "in_reply_to_id": self.in_reply_to.get(status.id),
            "in_reply_to_account_id": None, "sensitive": bool(status.spoiler), "spoiler_text": status.spoiler,
            "visibility": "public", "language": status.language,
            "uri": f"https://{DOMAIN}/users/{username}/statuses/{status.id}",
            "url": f"https://{DOMAIN}/@{username}/{status.id}",
            "replies_count": status.replies, "reblogs_count": status.reblogs, "favourites_count": status.favourites,
            "edited_at": None, "content": to_html(status.text), "reblog": None, "application": None,
            "account": account, "media_attachments": [], "mentions": [],
            "tags": [{"name": t, "url": f"https://{DOMAIN}/tags/{t}"} for t in sorted(status.tags)],
            "emojis": [], "card": None, "poll": None,
        }


def _version(value: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", value)[:3])


def _error(status: int) -> Reply:
    if status == 429:
        return json_reply({"error": "Too many requests"}, 429, {
            "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(datetime.now(UTC) + timedelta(seconds=1))})
    messages = {401: "The access token is invalid", 403: "This action is not allowed", 404: "Record not found",
                422: "Validation failed"}
    if status >= 500:
        return Reply(status, b"<html><body>We're sorry, but something went wrong.</body></html>",
                     {"Content-Type": "text/html"})
    return json_reply({"error": messages.get(status, "Error")}, status)


def _broken(kind: str) -> Reply:
    if kind == "shape":
        return json_reply({"statuses_moved": True})
    if kind == "html":
        return Reply(200, b"<html><body>Down for maintenance</body></html>", {"Content-Type": "text/html"})
    return Reply(200, b'[{"id": "1", "content": "<p>acme', {"Content-Type": "application/json; charset=utf-8"})


def seed(fake: FakeMastodon, brand: str) -> None:
    """A few statuses about the brand: a complaint with a hashtag, praise, a remote post, a gone author."""
    now = datetime.now(UTC).replace(microsecond=0)
    ana, ben = Account("1", "ana", 1200), Account("2", "ben", 40, domain="other.example")
    tag = brand.lower().replace(" ", "")
    samples = [
        (ana, f"#{tag} charged me twice & support says \"wait\". Again.", 310, 95),
        (ben, f"Shout out to {brand} support!\n\nFixed in 5 minutes.", 4, 0),
        (None, f"{brand} app logs me out every hour", 2, 1),
    ]
    for i, (account, text, favourites, reblogs) in enumerate(samples):
        fake.publish(Status(str(113_000_000_000_000_000 + i), account, text, now - timedelta(minutes=10 * (3 - i)),
                            favourites=favourites, reblogs=reblogs, replies=i))


def main() -> None:
    args = standalone_args(__doc__, 8305, brand="Acme")
    fake = FakeMastodon(port=args.port)
    seed(fake, args.brand)
    serve_standalone(fake, lambda url: f"fake Mastodon on {url}; set sources.mastodon.api_base_url to it and\n"
                                       f"  EARSHOT_MASTODON_ACCESS_TOKEN={fake.token}")

if __name__ == "__main__":
    main()
