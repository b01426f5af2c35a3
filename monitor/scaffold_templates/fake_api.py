"""Template of `tests/sources/fakes/<name>_api.py`: the platform's API as a loopback HTTP server.

Unlike the repo's fakes, the generated one carries its own server plumbing instead of building
on tests/sources/fakes/_server.py: tests/test_scaffold.py runs it in a copy of the checkout
that holds only the contract suite, not the other fakes.
"""

TEMPLATE = r'''"""A fake ${title} API on 127.0.0.1, speaking the wire format monitor/sources/${name}.py reads.

Tests never reach the internet: the real source, with its real HTTP client, talks to this
server instead. TODO(new-source): make the routes, parameters, JSON shapes, pagination and
error bodies match the platform's API reference (copy real example responses from the
docs), so the source is tested against what the platform actually sends.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/v1"


@dataclass
class FakePost:
    id: str
    text: str
    created_at: datetime
    likes: int = 0
    author: str | None = "someone"  # None: a deleted account


class Fake${cls}API:
    """Holds published posts and serves /v1/search and /v1/posts; failures can be injected."""

    def __init__(self, token: str, page_size: int = 20, rate_limit_reset_s: float = 1.0) -> None:
        self.token = token
        self.page_size = page_size
        self.rate_limit_reset_s = rate_limit_reset_s
        self.posts: list[FakePost] = []  # in publication order
        self.requests: list[str] = []  # paths with query strings, for assertions
        self._failures: list[int] = []
        self._broken = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- what tests do ------------------------------------------------------------------------

    def publish(self, post: FakePost) -> None:
        with self._lock:
            self.posts.append(post)

    def set_likes(self, post_id: str, likes: int) -> None:
        with self._lock:
            next(p for p in self.posts if p.id == post_id).likes = likes

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures += [status] * times

    def break_next_payload(self) -> None:
        with self._lock:
            self._broken += 1

    # --- the API ------------------------------------------------------------------------------

    def _render(self, post: FakePost) -> dict[str, Any]:
        return {
            "id": post.id, "text": post.text, "created_at": post.created_at.isoformat().replace("+00:00", "Z"),
            "url": f"https://${name}.example/posts/{post.id}", "lang": "en", "likes": post.likes,
            "author": {"handle": post.author, "followers": 100} if post.author else None,
        }

    def _search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        q = query.get("q", [""])[0].lower()
        limit = min(int(query.get("limit", [self.page_size])[0]), self.page_size)
        since_id = query.get("since_id", [None])[0]
        offset = int(query.get("page_token", ["0"])[0])
        posts = list(self.posts)
        if since_id is not None:
            ids = [p.id for p in posts]
            posts = posts[ids.index(since_id) + 1 :] if since_id in ids else posts
        hits = sorted((p for p in posts if q in p.text.lower()), key=lambda p: p.created_at, reverse=True)
        page = hits[offset : offset + limit]
        more = offset + limit < len(hits)
        return {"data": [self._render(p) for p in page], "next_token": str(offset + limit) if more else None}

    def _posts(self, query: dict[str, list[str]]) -> dict[str, Any]:
        wanted = set(query.get("ids", [""])[0].split(","))
        return {"data": [self._render(p) for p in self.posts if p.id in wanted]}

    def _answer(self, path: str, query: dict[str, list[str]], auth: str | None) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(path)
            if self._failures:
                status = self._failures.pop(0)
                headers = {"Content-Type": "application/json"}
                if status == 429:
                    headers["Retry-After"] = f"{self.rate_limit_reset_s:g}"
                    headers["x-rate-limit-reset"] = f"{time.time() + self.rate_limit_reset_s:.3f}"
                return status, headers, json.dumps({"error": f"injected {status}"}).encode()
            if auth != f"Bearer {self.token}":
                return 401, {"Content-Type": "application/json"}, b'{"error": "unauthorized"}'
            if self._broken:
                self._broken -= 1
                return 200, {"Content-Type": "application/json"}, b'{"results": "maintenance", "items": 3}'
            if path == f"{PREFIX}/search":
                body = self._search(query)
            elif path == f"{PREFIX}/posts":
                body = self._posts(query)
            else:
                return 404, {"Content-Type": "application/json"}, b'{"error": "not found"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                status, headers, body = api._answer(parts.path, parse_qs(parts.query), self.headers.get("Authorization"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
                pass

        return Handler
'''
