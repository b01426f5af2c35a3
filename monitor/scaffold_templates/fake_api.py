"""Template of `tests/sources/fakes/<name>_api.py`: the platform's API as a loopback HTTP server.

Built like the repo's own fakes, on tests/sources/fakes/_server.py (`FakeAPI`: the server
thread, the request plumbing and the `fail_next`/`break_next_payload` queues), so the
generated module is only the platform's wire format.
"""

TEMPLATE = r'''"""A fake ${title} API on 127.0.0.1, speaking the wire format monitor/sources/${name}/source.py reads.

Tests never reach the internet: the real source, with its real HTTP client, talks to this
server instead. TODO(new-source): make the routes, parameters, JSON shapes, pagination and
error bodies match the platform's API reference (copy real example responses from the
docs), so the source is tested against what the platform actually sends.

Failure injection: `fail_next(status)` (a 429 carries Retry-After), `break_next_payload(kind)`.
Run standalone: `python -m tests.sources.fakes.${name}_api --port 8399` (prints the token to use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.sources.fakes._server import FakeAPI, Reply, Request, json_reply, serve_standalone, standalone_args

PREFIX = "/v1"


@dataclass
class FakePost:
    id: str
    text: str
    created_at: datetime
    likes: int = 0
    author: str | None = "someone"  # None: a deleted account


class Fake${cls}API(FakeAPI):
    """Holds published posts and serves /v1/search and /v1/posts to one token.

    `break_next_payload(kind)`: `truncated` (the default), JSON cut off mid-way; `shape`, an
    object where the list of posts belongs; `html`, a maintenance page with 200.
    """

    url = FakeAPI.base_url  # what the harness calls it

    def __init__(self, token: str, page_size: int = 20, rate_limit_reset_s: float = 1.0,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.token = token
        self.page_size = page_size
        self.rate_limit_reset_s = rate_limit_reset_s
        self.posts: dict[str, FakePost] = {}
        self.requests: list[str] = []  # paths with query strings, for assertions

    # --- what tests do ------------------------------------------------------------------------

    def publish(self, post: FakePost) -> None:
        with self._lock:
            self.posts[post.id] = post

    def set_likes(self, post_id: str, likes: int) -> None:
        with self._lock:
            self.posts[post_id].likes = likes

    # --- the API ------------------------------------------------------------------------------

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request.target)
            injected = self._injected(self._error, _broken)
            if injected is not None:
                return injected
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return json_reply({"error": "unauthorized"}, 401)
            if request.path == f"{PREFIX}/search":
                return self._search(request.params())
            if request.path == f"{PREFIX}/posts":
                wanted = set(request.params().get("ids", "").split(","))
                return json_reply({"data": [_render(p) for p in self.posts.values() if p.id in wanted]})
            return json_reply({"error": "not found"}, 404)

    def _search(self, params: dict[str, str]) -> Reply:
        try:
            limit = min(int(params.get("limit", self.page_size)), self.page_size)
            offset = int(params.get("page_token") or 0)
        except ValueError:
            return json_reply({"error": "limit and page_token are numbers"}, 400)
        q = params.get("q", "").lower()
        hits = sorted((p for p in self.posts.values() if q in p.text.lower()), key=lambda p: p.created_at,
                      reverse=True)
        more = offset + limit < len(hits)
        return json_reply({"data": [_render(p) for p in hits[offset : offset + limit]],
                           "next_token": str(offset + limit) if more else None})

    def _error(self, status: int) -> Reply:
        headers = {"Retry-After": f"{self.rate_limit_reset_s:g}"} if status == 429 else {}
        return json_reply({"error": f"injected {status}"}, status, headers)


def _render(post: FakePost) -> dict[str, Any]:
    return {
        "id": post.id, "text": post.text, "created_at": post.created_at.isoformat().replace("+00:00", "Z"),
        "url": f"https://${name}.example/posts/{post.id}", "lang": "en", "likes": post.likes,
        "author": {"handle": post.author, "followers": 100} if post.author else None,
    }


def _broken(kind: str) -> Reply:
    if kind == "html":
        return Reply(200, b"<html><body>Down for maintenance</body></html>", {"Content-Type": "text/html"})
    if kind == "shape":
        return json_reply({"data": "maintenance", "items": 3})
    return Reply(200, b'{"data": [{"id": "1", "te', {"Content-Type": "application/json"})


def main() -> None:
    args = standalone_args(__doc__, 8399, token="dev-token")
    fake = Fake${cls}API(token=args.token, port=args.port)
    now = datetime.now(UTC).replace(microsecond=0)
    fake.publish(FakePost("1", "Acme support never answered my ticket", now - timedelta(minutes=5), likes=3))
    serve_standalone(fake, lambda url: f"fake ${title} API on {url}{PREFIX}; set sources.${name}.base_url to it and\n"
                                       f"  ${token_env}={args.token}")


if __name__ == "__main__":
    main()
'''
