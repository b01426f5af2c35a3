"""Fake feeds on 127.0.0.1: RSS 2.0 and Atom documents as real publishers serve them.

The RSS source, with its real httpx client and feedparser, reads these instead of the
internet. Each feed is paged (RFC 5005 `<link rel="next">`, newest first), answers
conditional requests with 304, can require a bearer token, and can be told to fail
(any status; 429 carries Retry-After) or to serve a page that is not a feed at all.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

Kind = Literal["rss", "atom"]
MAINTENANCE_PAGE = b"<!doctype html><html><head><title>Down for maintenance</title></head><body><h1>Back soon</h1></body></html>"


@dataclass
class FakeEntry:
    id: str
    title: str
    summary_html: str
    published: datetime
    author: str | None = None  # None: no author element at all
    link: str | None = None


@dataclass
class _Feed:
    kind: Kind
    title: str
    lang: str = "en-us"
    entries: list[FakeEntry] = field(default_factory=list)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class FakeFeedServer:
    """Serves the feeds added with `add_feed`; tests publish entries and inject failures."""

    def __init__(self, page_size: int = 20, token: str | None = None, retry_after_s: float = 1.0) -> None:
        self.page_size = page_size
        self.token = token
        self.retry_after_s = retry_after_s
        self.requests: list[SeenRequest] = []
        self._feeds: dict[str, _Feed] = {}
        self._failures: list[int] = []
        self._broken = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

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

    def add_feed(self, path: str, kind: Kind, title: str = "Fake News", lang: str = "en-us") -> None:
        self._feeds[path] = _Feed(kind, title, lang)

    def publish(self, path: str, entry: FakeEntry) -> None:
        with self._lock:
            self._feeds[path].entries.append(entry)

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures += [status] * times

    def break_next_payload(self) -> None:
        with self._lock:
            self._broken += 1

    # --- rendering ----------------------------------------------------------------------------

    def _page(self, path: str, feed: _Feed, page: int) -> bytes:
        ordered = sorted(feed.entries, key=lambda e: e.published, reverse=True)
        start = (page - 1) * self.page_size
        items = ordered[start : start + self.page_size]
        next_url = self.url(f"{path}?page={page + 1}") if start + self.page_size < len(ordered) else None
        updated = ordered[0].published if ordered else datetime(2026, 1, 1)
        render = _rss if feed.kind == "rss" else _atom
        return render(feed, self.url(path), items, next_url, updated).encode("utf-8")

    def _answer(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        with self._lock:
            self.requests.append(SeenRequest(target, headers))
            if self._failures:
                status = self._failures.pop(0)
                extra = {"Retry-After": f"{self.retry_after_s:g}"} if status == 429 else {}
                return status, {"Content-Type": "text/plain", **extra}, f"injected {status}".encode()
            if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"Content-Type": "text/plain", "WWW-Authenticate": "Bearer"}, b"unauthorized"
            if self._broken:
                self._broken -= 1
                return 200, {"Content-Type": "text/html; charset=utf-8"}, MAINTENANCE_PAGE
            feed = self._feeds.get(parts.path)
            if feed is None:
                return 404, {"Content-Type": "text/plain"}, b"no such feed"
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            body = self._page(parts.path, feed, page)
            newest = max((e.published for e in feed.entries), default=datetime(2026, 1, 1))
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(newest, usegmt=True)}
        if headers.get("if-none-match") == etag:
            return 304, validators, b""
        content_type = "application/rss+xml" if feed.kind == "rss" else "application/atom+xml"
        return 200, {"Content-Type": f"{content_type}; charset=utf-8", **validators}, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, out, body = server._answer(self.path, headers)
                self.send_response(status)
                for key, value in out.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
                pass

        return Handler


def _rss(feed: _Feed, self_url: str, items: list[FakeEntry], next_url: str | None, updated: datetime) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">',
        "<channel>",
        f"<title>{escape(feed.title)}</title><link>{escape(self_url)}</link>",
        f"<description>{escape(feed.title)} updates</description><language>{feed.lang}</language>",
        f"<lastBuildDate>{format_datetime(updated, usegmt=True)}</lastBuildDate>",
        f'<atom:link rel="self" type="application/rss+xml" href={quoteattr(self_url)}/>',
    ]
    if next_url:
        out.append(f'<atom:link rel="next" href={quoteattr(next_url)}/>')
    for e in items:
        out += [
            "<item>",
            f"<title>{escape(e.title)}</title>",
            f"<link>{escape(e.link)}</link>" if e.link else "",
            f'<guid isPermaLink="false">{escape(e.id)}</guid>',
            f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>",
            f"<dc:creator>{escape(e.author)}</dc:creator>" if e.author else "",
            f"<description>{escape(e.summary_html)}</description>",
            "</item>",
        ]
    out += ["</channel>", "</rss>"]
    return "\n".join(line for line in out if line)


def _atom(feed: _Feed, self_url: str, items: list[FakeEntry], next_url: str | None, updated: datetime) -> str:
    stamp = lambda when: when.isoformat().replace("+00:00", "Z")  # noqa: E731 - RFC 3339
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.lang}">',
        f"<id>{escape(self_url)}</id><title>{escape(feed.title)}</title><updated>{stamp(updated)}</updated>",
        f'<link rel="self" href={quoteattr(self_url)}/>',
    ]
    if next_url:
        out.append(f'<link rel="next" href={quoteattr(next_url)}/>')
    for e in items:
        out += [
            "<entry>",
            f"<id>{escape(e.id)}</id><title>{escape(e.title)}</title>",
            f'<link rel="alternate" href={quoteattr(e.link)}/>' if e.link else "",
            f"<published>{stamp(e.published)}</published><updated>{stamp(e.published)}</updated>",
            f"<author><name>{escape(e.author)}</name></author>" if e.author else "",
            f'<summary type="html">{escape(e.summary_html)}</summary>',
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(line for line in out if line)
