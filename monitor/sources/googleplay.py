"""Google Play reviews of the configured apps, newest first, through google-play-scraper.

A review is about the app it was left on, so its brand is the one configured for that app
and its query is the app id: no text matching.

Why a urllib handler: google-play-scraper hard-codes https://play.google.com, sends with
`urllib.request.urlopen`, and swallows every error inside `reviews()`, so an outage looks
exactly like "no new reviews". While this source talks to Play it installs an opener whose
first handler sends the library's requests to `base_url` (the real host, a proxy or a local
fake), retries outages, waits out rate limits with the source's own (injectable) sleep,
and remembers what went wrong, so `fetch` raises `SourceError` instead of silently storing
nothing. The library still builds the requests and parses the replies.

Cursor (JSON), per app/country/language stream: the newest review time seen and the ids at
that time (`mark`), plus an unfinished newest-first scan (`scan`: continuation token and
what it has seen so far). A scan walks down until it reaches the mark, a few pages per
fetch; only when it gets there does the mark move up, so a crash or a page limit never
leaves a gap, it only makes a page be read again.
"""

from __future__ import annotations

import io
import json
import logging
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.response import addinfourl

from pydantic import BaseModel, ConfigDict, Field

from monitor.config import BrandConfig, Config
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.cursors import ScanPage, TimeMark, dump_streams, load_streams
from monitor.sources.retries import RetryPolicy, RetrySettings, Transient, retry_after_seconds

# google-play-scraper disables TLS certificate checks for the whole process when imported
# (ssl._create_default_https_context = _create_unverified_context). Undo that side effect;
# this source's own requests use an explicitly verifying context anyway.
_https_context_before = ssl._create_default_https_context
from google_play_scraper import Sort, reviews  # noqa: E402
from google_play_scraper.constants.regex import Regex  # noqa: E402
from google_play_scraper.features.reviews import _ContinuationToken  # noqa: E402  (resuming a saved scan)

ssl._create_default_https_context = _https_context_before

log = logging.getLogger(__name__)

PLAY_HOST = "play.google.com"
DELETED_AUTHOR = "[deleted]"


class PlayApp(BaseModel):
    """One app to follow, and the brand its reviews belong to."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(min_length=1)  # the package name, e.g. com.acme.app
    brand: str = Field(min_length=1)
    countries: list[str] = Field(default_factory=lambda: ["us"], min_length=1)
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)


class GooglePlaySettings(RetrySettings):
    """Reviews of the listed apps; Google Play needs no credential."""

    apps: list[PlayApp] = Field(default_factory=list)
    base_url: str = f"https://{PLAY_HOST}"  # a proxy or a local fake instead of Google
    page_size: int = Field(100, ge=1, le=4500)
    pages_per_fetch: int = Field(5, ge=1)  # per stream and fetch; more waits for the next fetch
    backfill_pages: int = Field(10, ge=1)  # how far back the very first fetch of a stream reads
    refresh_pages: int = Field(2, ge=1)  # newest pages re-read to update helpful counts


# --- transport ------------------------------------------------------------------------------


def _payload_problem(body: bytes) -> str | None:
    """Why a 200 reply is not the batchexecute reviews payload the library parses, or None."""
    found = Regex.REVIEWS.findall(body.decode("utf-8", "replace"))
    if not found:
        return "the reply is not a batchexecute response"
    try:
        inner = json.loads(json.loads(found[0])[0][2])
    except (ValueError, TypeError, IndexError, KeyError):
        return "the batchexecute response carries no reviews payload"
    if not isinstance(inner, list) or (inner and not isinstance(inner[0], list)):
        return "the reviews payload is not a list of reviews"
    return None


class _PlayTransport(urllib.request.BaseHandler):
    """First urllib handler while the source runs: routes, retries and records Play requests."""

    handler_order = 100  # ahead of the stock HTTP(S) handlers

    def __init__(self, settings: GooglePlaySettings, sleep: Callable[[float], None]) -> None:
        self._settings = settings
        self._retry = RetryPolicy(settings, "googleplay", "Google Play", sleep, log)
        self._base = settings.base_url.rstrip("/")
        self._inner = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()))
        self.failure: SourceError | None = None  # what made the library's call come back empty
        self.broken: str | None = None  # a 200 reply the library cannot parse

    def http_open(self, req: urllib.request.Request) -> addinfourl | None:
        return self._intercept(req)

    def https_open(self, req: urllib.request.Request) -> addinfourl | None:
        return self._intercept(req)

    def _intercept(self, req: urllib.request.Request) -> addinfourl | None:
        if req.host != PLAY_HOST:
            return None  # not ours: the stock handlers take it
        if self.failure is not None or self.broken is not None:
            # The library retries a failed call three times; ours already did, with backoff.
            raise URLError("an earlier Google Play request of this call failed")
        target = urllib.request.Request(
            self._base + req.selector, data=req.data, headers=dict(req.header_items()), method=req.get_method()
        )
        try:
            body, headers, status = self._retry.call(self._send, target)
        except SourceError as exc:  # gave up, or refused
            self.failure = exc
            raise URLError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the library would swallow it and report "no reviews"
            self.failure = SourceError(f"sources.googleplay: request to Google Play failed ({type(exc).__name__})")
            raise URLError(str(self.failure)) from None
        self.broken = _payload_problem(body)
        response = addinfourl(io.BytesIO(body), headers, req.full_url, status)
        response.msg = "OK"  # urllib's response processors read it
        return response

    def _send(self, target: urllib.request.Request) -> tuple[bytes, Any, int]:
        try:
            with self._inner.open(target, timeout=self._settings.timeout_seconds) as resp:
                body, headers, status = resp.read(), resp.headers, resp.status
        except HTTPError as err:
            wait = retry_after_seconds(err.headers.get("Retry-After") if err.headers else None)
            err.close()
            _raise_for_status(err.code, wait)
            raise  # unreachable: _raise_for_status always raises for an error status
        except (URLError, OSError) as err:  # refused, reset, DNS, timeout
            reason = getattr(err, "reason", err)
            raise Transient(f"could not be reached ({type(reason).__name__})") from None
        if b"com.google.play.gateway.proto.PlayGatewayError" in body:
            raise Transient("is rate limiting (PlayGatewayError)")  # Google's in-band throttle signal
        return body, headers, status


def _raise_for_status(status: int, wait: float | None) -> None:
    if status == 429:
        raise Transient("is rate limiting (HTTP 429)", wait=wait)
    if status >= 500:
        raise Transient(f"is failing (HTTP {status})")
    if status in (401, 403):
        raise SourceError(
            f"sources.googleplay: Google Play refused the request (HTTP {status}); it needs no credential, so this "
            "address is probably blocked: check sources.googleplay.base_url or route it through a proxy"
        )
    raise SourceError(f"sources.googleplay: Google Play answered HTTP {status}")


_OPENER_LOCK = threading.Lock()


@contextmanager
def _routed(transport: _PlayTransport) -> Iterator[None]:
    """Install an opener led by `transport` for the duration, then put back whatever was there.

    urllib's installed opener is process-wide, so Play calls are serialised; other threads'
    requests to other hosts pass through the stock handlers unchanged meanwhile.
    """
    with _OPENER_LOCK:
        previous = urllib.request._opener  # noqa: SLF001 - the only way to restore it exactly
        urllib.request.install_opener(urllib.request.build_opener(transport))
        try:
            yield
        finally:
            urllib.request.install_opener(previous)


# --- cursor ---------------------------------------------------------------------------------


@dataclass
class _Stream:
    mark: TimeMark = field(default_factory=TimeMark)
    scan_token: str | None = None  # continuation of an unfinished scan
    scan_top: TimeMark | None = None  # None: no scan in progress
    scan_pages: int = 0

    def dump(self) -> dict[str, Any]:
        scan = None
        if self.scan_top is not None:
            scan = {"token": self.scan_token, "top": self.scan_top.dump(), "pages": self.scan_pages}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Stream:
        scan = data.get("scan") or None
        return cls(
            TimeMark.load(data.get("mark")),
            scan.get("token") if scan else None,
            TimeMark.load(scan.get("top")) if scan else None,
            int(scan.get("pages", 0)) if scan else 0,
        )


# --- mapping --------------------------------------------------------------------------------


def review_url(app_id: str, review_id: str, country: str, lang: str) -> str:
    """The review on its app's Play page (the page opens the review when given its id)."""
    query = urlencode({"id": app_id, "hl": lang, "gl": country, "reviewId": review_id}, quote_via=quote)
    return f"https://{PLAY_HOST}/store/apps/details?{query}"


def review_version(review: Mapping[str, Any]) -> str | None:
    """The app version the review was written on, when the reviewer's device reported one."""
    version = review.get("reviewCreatedVersion") or review.get("appVersion")
    return str(version) if version else None


def _model_extras(version: str | None) -> dict[str, Any]:
    # Mention has no app-version field yet (requested from the models owner); fill it once it does.
    return {"app_version": version} if "app_version" in Mention.model_fields else {}


def review_to_mention(review: Mapping[str, Any], app: PlayApp, country: str, lang: str) -> Mention:
    """One review as returned by google-play-scraper; ValueError names what is wrong with it."""
    review_id = review.get("reviewId")
    if not isinstance(review_id, str) or not review_id:
        raise ValueError("reviewId is missing")
    at = review.get("at")
    if not isinstance(at, datetime):
        raise ValueError(f"review {review_id}: the review time is missing")
    score = review.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValueError(f"review {review_id}: score {score!r} is not a 1-5 rating")
    content = review.get("content")
    author = review.get("userName")
    helpful = review.get("thumbsUpCount")
    return Mention(
        id=Mention.make_id("googleplay", review_id),
        source="googleplay",
        native_id=review_id,
        url=review_url(app.app_id, review_id, country, lang),
        author_handle=author if isinstance(author, str) and author else DELETED_AUTHOR,
        text=content if isinstance(content, str) else "",
        lang=lang,
        # The library builds naive local times (datetime.fromtimestamp); astimezone reads them as local.
        created_at=at.astimezone(UTC),
        brand=app.brand,
        query=app.app_id,
        engagement=Engagement(likes=helpful if isinstance(helpful, int) and helpful > 0 else 0),
        rating=score,
        **_model_extras(review_version(review)),
    )


# --- the source -----------------------------------------------------------------------------


class GooglePlaySource:
    """A `Source` over the newest Google Play reviews of the configured apps."""

    name = "googleplay"
    settings_model = GooglePlaySettings

    def __init__(
        self,
        settings: GooglePlaySettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._now = now

    @classmethod
    def from_config(cls, config: Config) -> GooglePlaySource:
        settings = config.sources.get("googleplay")
        if not isinstance(settings, GooglePlaySettings):
            raise SourceError(
                "sources.googleplay: not configured (list the apps to follow under sources.googleplay.apps)"
            )
        return cls(settings)

    def _page(
        self, app_id: str, country: str, lang: str, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """(reviews, continuation token or None at the end, why the reply was unreadable or None)."""
        transport = _PlayTransport(self.settings, self._sleep)
        count = self.settings.page_size
        with _routed(transport):
            if token is None:
                result, cont = reviews(app_id, lang=lang, country=country, sort=Sort.NEWEST, count=count)
            else:
                resume = _ContinuationToken(token, lang, country, Sort.NEWEST.value, count, None, None)
                result, cont = reviews(app_id, continuation_token=resume)
        if transport.failure is not None:
            raise transport.failure
        if transport.broken is not None:
            return [], None, transport.broken
        return result, cont.token if isinstance(cont.token, str) else None, None

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        streams = load_streams(cursor, _Stream.load, source=self.name)
        batch = Batch()
        known = {brand.name for brand in brands}
        seen: set[str] = set()
        for app in self.settings.apps:
            if app.brand not in known:
                batch.problems.append(Problem(f"googleplay app {app.app_id}",
                                              f"brand {app.brand!r} is not one of the configured brands; skipped"))
                continue
            for country in app.countries:
                for lang in app.languages:
                    stream = streams.setdefault(f"{app.app_id}/{country}/{lang}", _Stream())
                    if self._scan(app, country, lang, stream, batch, seen):
                        batch.exhausted = False
        batch.cursor = dump_streams(streams)
        return batch

    def _scan(self, app: PlayApp, country: str, lang: str, stream: _Stream, batch: Batch, seen: set[str]) -> bool:
        """Read a few pages of one stream's scan; True if the scan is still unfinished."""
        where = f"googleplay {app.app_id} {country}/{lang}"
        for _ in range(self.settings.pages_per_fetch):
            page, token, broken = self._page(app.app_id, country, lang, stream.scan_token)
            if broken is not None:
                batch.problems.append(
                    Problem(f"{where} page {stream.scan_pages + 1}", f"{broken}; will retry next fetch", transient=True)
                )
                log.warning("googleplay: skipped an unreadable page: %s", broken)
                return False  # the scan stays where it was; the next fetch reads this page again
            if stream.scan_top is None:
                stream.scan_top = TimeMark()
            scan = ScanPage(stream.mark, stream.scan_top)
            for raw in page:
                try:
                    mention = review_to_mention(raw, app, country, lang)
                except ValueError as exc:
                    batch.problems.append(Problem(where, str(exc)))
                    continue
                if scan.is_new(mention.created_at, mention.native_id) and mention.id not in seen:
                    seen.add(mention.id)
                    batch.mentions.append(mention)
                    batch.snapshots.append(
                        EngagementSnapshot(mention_id=mention.id, observed_at=self._now(),
                                           engagement=mention.engagement)
                    )
            stream.scan_pages += 1
            backfilled = stream.mark.at is None and stream.scan_pages >= self.settings.backfill_pages
            if scan.caught_up or token is None or backfilled:
                stream.mark.merge(stream.scan_top)
                stream.scan_top, stream.scan_token, stream.scan_pages = None, None, 0
                return False
            stream.scan_token = token
        return True

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Helpful counts of recent reviews, read again from the newest pages of their apps.

        Play has no lookup by review id, so reviews older than `refresh_pages` pages are not
        refreshed; that is where engagement still changes anyway.
        """
        wanted: dict[str, dict[str, Mention]] = {}
        for m in mentions:
            if m.source == self.name:
                wanted.setdefault(m.query, {})[m.native_id] = m
        snapshots: list[EngagementSnapshot] = []
        for app in self.settings.apps:
            remaining = wanted.get(app.app_id)
            streams = [(c, lang) for c in app.countries for lang in app.languages]
            for country, lang in streams:
                token: str | None = None
                for _ in range(self.settings.refresh_pages):
                    if not remaining:
                        break
                    page, token, broken = self._page(app.app_id, country, lang, token)
                    if broken is not None:
                        log.warning("googleplay: refresh skipped an unreadable page of %s: %s", app.app_id, broken)
                        break
                    for raw in page:
                        found = remaining.pop(str(raw.get("reviewId")), None)
                        helpful = raw.get("thumbsUpCount")
                        if found is not None:
                            snapshots.append(EngagementSnapshot(
                                mention_id=found.id, observed_at=self._now(),
                                engagement=Engagement(likes=helpful if isinstance(helpful, int) and helpful > 0 else 0),
                            ))
                    if token is None:
                        break
        return snapshots
