"""Fake feeds on 127.0.0.1: RSS 2.0 and Atom documents as real publishers serve them.

The RSS source, with its real httpx client and feedparser, reads these instead of the
internet. Each feed is paged (RFC 5005 `<link rel="next">`, newest first), answers
conditional requests with 304, can require a bearer token, and can be told to fail
(any status; 429 carries Retry-After) or to serve a page that is not a feed at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from tests.sources.fakes._server import FakeAPI, Reply, Request

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


class FakeFeedServer(FakeAPI):
    """Serves the feeds added with `add_feed`; tests publish entries and inject failures.

    `break_next_payload()` serves the next request an HTML maintenance page with 200.
    """

    protocol_version = "HTTP/1.0"  # http.server's default, which this fake has always spoken

    def __init__(self, page_size: int = 20, token: str | None = None, retry_after_s: float = 1.0) -> None:
        super().__init__()
        self.page_size = page_size
        self.token = token
        self.retry_after_s = retry_after_s
        self.requests: list[SeenRequest] = []
        self._feeds: dict[str, _Feed] = {}

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    # --- what tests do ------------------------------------------------------------------------

    def add_feed(self, path: str, kind: Kind, title: str = "Fake News", lang: str = "en-us") -> None:
        self._feeds[path] = _Feed(kind, title, lang)

    def publish(self, path: str, entry: FakeEntry) -> None:
        with self._lock:
            self._feeds[path].entries.append(entry)

    # --- rendering ----------------------------------------------------------------------------

    def _page(self, path: str, feed: _Feed, page: int) -> bytes:
        ordered = sorted(feed.entries, key=lambda e: e.published, reverse=True)
        start = (page - 1) * self.page_size
        items = ordered[start : start + self.page_size]
        next_url = self.url(f"{path}?page={page + 1}") if start + self.page_size < len(ordered) else None
        updated = ordered[0].published if ordered else datetime(2026, 1, 1)
        render = _rss if feed.kind == "rss" else _atom
        return render(feed, self.url(path), items, next_url, updated).encode("utf-8")

    def _reply(self, request: Request) -> Reply:
        target, headers = request.target, request.lower_headers()
        parts = urlsplit(target)
        with self._lock:
            self.requests.append(SeenRequest(target, headers))
            status = self._next_failure()
            if status is not None:
                extra = {"Retry-After": f"{self.retry_after_s:g}"} if status == 429 else {}
                return Reply(status, f"injected {status}".encode(), {"Content-Type": "text/plain", **extra})
            if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
                return Reply(401, b"unauthorized", {"Content-Type": "text/plain", "WWW-Authenticate": "Bearer"})
            if self._next_broken() is not None:
                return Reply(200, MAINTENANCE_PAGE, {"Content-Type": "text/html; charset=utf-8"})
            feed = self._feeds.get(parts.path)
            if feed is None:
                return Reply(404, b"no such feed", {"Content-Type": "text/plain"})
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            body = self._page(parts.path, feed, page)
            newest = max((e.published for e in feed.entries), default=datetime(2026, 1, 1, tzinfo=UTC))
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(newest, usegmt=True)}
        if headers.get("if-none-match") == etag:
            return Reply(304, b"", validators)
        content_type = "application/rss+xml" if feed.kind == "rss" else "application/atom+xml"
        return Reply(200, body, {"Content-Type": f"{content_type}; charset=utf-8", **validators})


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
