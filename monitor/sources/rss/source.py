"""RSS 2.0 and Atom feeds as an Earshot source: news sites, blogs, status pages, alert feeds.

Feeds have no search and no engagement counts, so this source polls each configured feed,
keeps the entries whose title or summary mention a brand (`BrandConfig.match`), and
remembers per feed what it has already seen. Requests are conditional (ETag and
Last-Modified), so an unchanged feed costs one 304 and no parsing. Paged feeds (RFC 5005
`<link rel="next">`) are followed until an entry already seen shows we have caught up.

Cursor: JSON `{"feeds": {url: {"newest", "seen", "etag", "modified"}}}`. An entry is new
if its id (guid, Atom id, else link) is not in `seen` and it is not older than `newest`
minus `retention_days` (older ids are forgotten, so the cursor stays small; on the first
run the window ends now). The batch returned with the cursor holds exactly those entries,
so pipeline.ingest moves the cursor only once they are stored.

Failures: a timeout, 429 (Retry-After honoured) or 5xx is retried with backoff. A feed that
still fails is a Problem and keeps its cursor, so the next run asks again, and the other
feeds are unaffected; if every feed failed it is an outage (or no network) and fetch raises
SourceError, so nothing is stored and the run is retried. A body that is not RSS or Atom is a
Problem too, never a parser exception. Private feeds take a bearer token from an environment
variable (`token_env`); it is sent in a header and never logged or put in a message.
"""

from __future__ import annotations

import calendar
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx
from tenacity import RetryCallState

from monitor.config import BrandConfig
from monitor.models import EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.credentials import credential
from monitor.sources.registry import SourceContext
from monitor.sources.retries import Transient, retry_after_seconds, retrying
from monitor.sources.rss.settings import NAME, RSSSettings

log = logging.getLogger(__name__)

USER_AGENT = "Earshot feed reader (+https://github.com/earshot)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
MAX_SEEN = 1000  # ids remembered per feed; far more than any feed document lists
MAX_TEXT = 5000  # characters kept of an entry's summary; full articles are not mentions


# --- the source ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """A feed ready to poll: the token resolved from the environment, kept out of repr."""

    url: str
    brand: str | None = None
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None  # where the token came from, to name in errors


@dataclass
class _FeedState:
    newest: datetime | None = None
    seen: list[str] = field(default_factory=list)  # newest first
    etag: str | None = None
    modified: str | None = None

    @classmethod
    def load(cls, raw: dict[str, Any]) -> _FeedState:
        newest = raw.get("newest")
        return cls(
            newest=datetime.fromisoformat(newest) if newest else None,
            seen=[str(i) for i in raw.get("seen", [])],
            etag=raw.get("etag"),
            modified=raw.get("modified"),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "newest": self.newest.isoformat() if self.newest else None,
            "seen": self.seen,
            "etag": self.etag,
            "modified": self.modified,
        }


@dataclass
class _Entry:
    native_id: str
    url: str
    title: str
    text: str
    author: str
    lang: str | None
    published: datetime


class _FeedFailed(Exception):
    """The feed could not be read this run (outage, refused, gone): its cursor stays put."""


class _Unusable(Exception):
    """The feed answered, but not with RSS or Atom."""


class RSSSource:
    """A `Source` over RSS 2.0 / Atom feeds. `refresh` returns nothing: feeds carry no engagement."""

    name = NAME

    def __init__(
        self,
        feeds: Sequence[Feed],
        *,
        timeout_seconds: float = 20,
        retries: int = 4,
        backoff_seconds: float = 2.0,
        max_rate_limit_wait_seconds: float = 120,
        max_pages: int = 10,
        retention_days: int = 30,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not feeds:
            raise SourceError("sources.rss: no feeds configured")
        self.feeds = list(feeds)
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_rate_limit_wait_seconds = max_rate_limit_wait_seconds
        self.max_pages = max_pages
        self.retention = timedelta(days=retention_days)
        self._sleep = sleep
        self._transport = transport

    def __repr__(self) -> str:
        return f"RSSSource(feeds={[f.url for f in self.feeds]!r})"

    @classmethod
    def from_settings(cls, settings: RSSSettings, context: SourceContext) -> RSSSource:
        brands = [b.name for b in context.brands]
        feeds = []
        for index, feed in enumerate(settings.feeds):
            if feed.brand is not None and feed.brand not in brands:
                raise SourceError(
                    f"sources.rss.feeds.{index}.brand: no brand named {feed.brand!r} (brands: {', '.join(brands)})"
                )
            # In an Airflow connection, each token sits in `extra` under its variable's name.
            token = credential(settings, feed.token_env, feed.token_env, source=NAME) if feed.token_env else None
            feeds.append(Feed(feed.url, feed.brand, token, feed.token_env))
        return cls(
            feeds, timeout_seconds=settings.timeout_seconds, retries=settings.retries,
            backoff_seconds=settings.backoff_seconds, max_rate_limit_wait_seconds=settings.max_rate_limit_wait_seconds,
            max_pages=settings.max_pages, retention_days=settings.retention_days,
        )

    # --- Source protocol ----------------------------------------------------------------------

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        states = self._load_cursor(cursor)
        batch = Batch()
        failures: list[str] = []
        ids: set[str] = set()
        now = datetime.now(UTC)
        with httpx.Client(
            timeout=self.timeout_seconds, follow_redirects=True, transport=self._transport,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        ) as client:
            for feed in self.feeds:
                state = states.get(feed.url, _FeedState())
                scoped = [b for b in brands if feed.brand is None or b.name == feed.brand]
                try:
                    states[feed.url], entries = self._read_feed(client, feed, state, now, batch.problems)
                except _FeedFailed as exc:
                    failures.append(str(exc))
                    batch.problems.append(Problem(feed.url, str(exc)))
                    log.warning("rss: %s", exc)
                    continue
                except _Unusable as exc:
                    batch.problems.append(Problem(feed.url, str(exc)))
                    log.warning("rss: %s", exc)
                    continue
                for entry in entries:
                    mention = self._mention(entry, scoped)
                    if mention is not None and mention.id not in ids:
                        ids.add(mention.id)
                        batch.mentions.append(mention)
        if failures and len(failures) == len(self.feeds):
            raise SourceError(
                "sources.rss: every feed failed, nothing stored; the next run retries from the saved cursor: "
                + "; ".join(failures)
            )
        batch.cursor = json.dumps(
            {"feeds": {f.url: states.get(f.url, _FeedState()).dump() for f in self.feeds}}, sort_keys=True
        )
        return batch

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        return []  # feeds publish no likes, shares or replies

    # --- one feed -----------------------------------------------------------------------------

    def _read_feed(
        self, client: httpx.Client, feed: Feed, state: _FeedState, now: datetime, problems: list[Problem],
    ) -> tuple[_FeedState, list[_Entry]]:
        """The feed's new entries, following `next` pages, and its state once they are stored."""
        seen = set(state.seen)
        floor = (state.newest or now) - self.retention
        conditional = {}
        if state.etag:
            conditional["If-None-Match"] = state.etag
        if state.modified:
            conditional["If-Modified-Since"] = state.modified
        new_state = _FeedState(state.newest, list(state.seen), state.etag, state.modified)
        fresh: list[_Entry] = []
        url: str | None = feed.url
        for page in range(1, self.max_pages + 1):
            assert url is not None
            response = self._get(client, feed, url, conditional if page == 1 else {})
            if response.status_code == 304:
                return state, []  # unchanged since the last run
            parsed = self._parse(url, response)
            if page == 1:
                new_state.etag = response.headers.get("etag")
                new_state.modified = response.headers.get("last-modified")
            entries = self._entries(url, parsed, now, problems)
            new = [e for e in entries if e.native_id not in seen and e.published >= floor]
            for entry in new:
                seen.add(entry.native_id)
            fresh += new
            url = _next_link(parsed)
            if url is None or len(new) < len(entries) or not entries:
                break  # no more pages, or this page reached entries already seen (or too old)
        else:
            problems.append(Problem(feed.url, f"stopped after {self.max_pages} pages; older entries were skipped"))

        fresh.sort(key=lambda e: e.published, reverse=True)
        if fresh:
            newest = fresh[0].published
            new_state.newest = max(newest, state.newest) if state.newest else newest
        new_state.seen = list(dict.fromkeys([e.native_id for e in fresh] + state.seen))[:MAX_SEEN]
        return new_state, fresh

    def _entries(self, url: str, parsed: Any, now: datetime, problems: list[Problem]) -> list[_Entry]:
        meta = parsed.get("feed", {})
        feed_title = _text(meta.get("title")) or urlsplit(url).hostname or url
        feed_lang = meta.get("language")
        out = []
        for index, raw in enumerate(parsed.get("entries", [])):
            native_id = raw.get("id") or raw.get("link")
            if not native_id:
                problems.append(Problem(f"{url} entry {index}", "has no id, guid or link; skipped"))
                continue
            title = _text(raw.get("title"))
            summary = _text(raw.get("summary") or _first_content(raw))
            link = raw.get("link") or (native_id if native_id.startswith(("http://", "https://")) else meta.get("link") or url)
            author = raw.get("author_detail", {}).get("name") or raw.get("author") or feed_title
            lang = (raw.get("title_detail") or {}).get("language") or feed_lang
            out.append(_Entry(
                native_id=str(native_id), url=str(link), title=title, text=summary[:MAX_TEXT], author=str(author),
                lang=lang.replace("_", "-").split("-")[0].lower() if lang else None, published=_published(raw) or now,
            ))
        return out

    @staticmethod
    def _mention(entry: _Entry, brands: Sequence[BrandConfig]) -> Mention | None:
        searchable = f"{entry.title} {entry.text}"
        for brand in brands:
            query = brand.match(searchable, lang=entry.lang, source=NAME, author=entry.author)
            if query is None:
                continue
            text, title = (entry.text, entry.title or None) if entry.text else (entry.title, None)
            return Mention(
                id=Mention.make_id(NAME, entry.native_id), source=NAME, native_id=entry.native_id, url=entry.url,
                author_handle=entry.author, text=text, title=title, lang=entry.lang, created_at=entry.published,
                brand=brand.name, query=query,
            )
        return None

    @staticmethod
    def _parse(url: str, response: httpx.Response) -> Any:
        headers = {"content-type": response.headers.get("content-type", ""), "content-location": str(response.url)}
        try:
            parsed = feedparser.parse(response.content, response_headers=headers)
        except Exception as exc:  # noqa: BLE001 - any parser failure means the same thing: not a feed
            raise _Unusable(f"{url}: the response could not be parsed as a feed ({type(exc).__name__})") from None
        if not parsed.get("version"):
            reason = parsed.get("bozo_exception")
            detail = f" ({reason})" if reason else f" (got {headers['content-type'] or 'no content type'})"
            raise _Unusable(f"{url}: the response is not an RSS or Atom feed{detail}")
        if parsed.get("bozo"):
            log.info("rss: %s is not well-formed (%s); read leniently", url, parsed.get("bozo_exception"))
        return parsed

    @staticmethod
    def _load_cursor(cursor: str | None) -> dict[str, _FeedState]:
        if not cursor:
            return {}
        try:
            feeds = json.loads(cursor)["feeds"]
            return {str(url): _FeedState.load(raw) for url, raw in feeds.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SourceError("sources.rss: the saved cursor is unreadable; delete it to start over") from None

    # --- HTTP ---------------------------------------------------------------------------------

    def _get(self, client: httpx.Client, feed: Feed, url: str, extra: dict[str, str]) -> httpx.Response:
        headers = dict(extra)
        if feed.token:
            headers["Authorization"] = f"Bearer {feed.token}"
        retry = retrying(attempts=self.retries, backoff_seconds=self.backoff_seconds, sleep=self._sleep,
                         max_wait_seconds=self.max_rate_limit_wait_seconds,
                         max_backoff_seconds=self.max_rate_limit_wait_seconds,
                         before_sleep=self._log_retry)
        try:
            return retry(self._get_once, client, feed, url, headers)
        except Transient as exc:
            raise _FeedFailed(f"{exc}; gave up after {self.retries} attempts") from None

    def _get_once(self, client: httpx.Client, feed: Feed, url: str, headers: dict[str, str]) -> httpx.Response:
        try:
            response = client.get(url, headers=headers)
        except httpx.TimeoutException:
            raise Transient(f"{url}: timed out after {self.timeout_seconds:g} s") from None
        except httpx.TransportError as exc:
            raise Transient(f"{url}: cannot connect ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            if wait is not None and wait > self.max_rate_limit_wait_seconds:
                raise _FeedFailed(f"{url}: rate limited (HTTP 429) for {wait:.0f} s, longer than "
                                  "max_rate_limit_wait_seconds")
            raise Transient(f"{url}: rate limited (HTTP 429)", wait)
        if status >= 500:
            raise Transient(f"{url}: server error (HTTP {status} {response.reason_phrase})")
        if status in (401, 403):
            hint = f"check the token in {feed.token_env}" if feed.token_env else "the feed needs a token: set token_env"
            raise _FeedFailed(f"{url}: access refused (HTTP {status}); {hint}")
        if status == 304 or 200 <= status < 300:
            return response
        raise _FeedFailed(f"{url}: HTTP {status} {response.reason_phrase}")

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.warning("rss: %s; retrying in %.1f s (attempt %d of %d)", error, delay, state.attempt_number, self.retries)


# --- helpers -------------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    """Summaries are HTML; matching and sentiment need the words only."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(value: object) -> str:
    if not value:
        return ""
    parser = _TextOnly()
    parser.feed(str(value))
    parser.close()
    # The parser has turned the HTML's entities into characters (convert_charrefs); unescaping again
    # would turn a text that shows "&lt;" into "<".
    return " ".join(" ".join(parser.parts).split())


def _first_content(raw: Any) -> str:
    content = raw.get("content") or []
    return content[0].get("value", "") if content else ""


def _published(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)  # feedparser normalises to UTC
    return None


def _next_link(parsed: Any) -> str | None:
    for link in parsed.get("feed", {}).get("links", []):
        if link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None
