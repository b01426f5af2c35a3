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
import ssl
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.response import addinfourl

from monitor.models import Engagement, Mention
from monitor.sources.base import SourceError
from monitor.sources.cursors import TimeMark
from monitor.sources.googleplay.settings import PLAY_HOST, GooglePlaySettings, PlayApp
from monitor.sources.registry import SourceContext
from monitor.sources.retries import RetryPolicy, Transient, retry_after_seconds
from monitor.sources.reviews import ReviewPage, ReviewSource, ScanState, Stream, status_failure

# google-play-scraper disables TLS certificate checks for the whole process when imported
# (ssl._create_default_https_context = _create_unverified_context). Undo that side effect;
# this source's own requests use an explicitly verifying context anyway.
_https_context_before = ssl._create_default_https_context
from google_play_scraper import Sort, reviews  # noqa: E402
from google_play_scraper.constants.regex import Regex  # noqa: E402
from google_play_scraper.features.reviews import _ContinuationToken  # noqa: E402  (resuming a saved scan)

ssl._create_default_https_context = _https_context_before

DELETED_AUTHOR = "[deleted]"


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

    def __init__(self, settings: GooglePlaySettings, retry: RetryPolicy) -> None:
        self._settings = settings
        self._retry = retry
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
    raise status_failure(status, wait, source="googleplay", store="Google Play") or SourceError(
        f"sources.googleplay: Google Play answered HTTP {status}")


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


class _Stream(ScanState):
    """`{"mark": ..., "scan": {"token": t, "top": ..., "pages": n}}`: the open scan continues at token t."""

    def dump(self) -> dict[str, Any]:
        scan = None if self.top is None else {"token": self.at, "top": self.top.dump(), "pages": self.pages}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Stream:
        scan = data.get("scan") or None
        return cls(
            TimeMark.load(data.get("mark")),
            TimeMark.load(scan.get("top")) if scan else None,
            scan.get("token") if scan else None,
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


class GooglePlaySource(ReviewSource[PlayApp]):
    """A `Source` over the newest Google Play reviews of the configured apps (the loop: reviews.py)."""

    name = "googleplay"
    platform = "Google Play"
    state = _Stream

    @classmethod
    def from_settings(cls, settings: GooglePlaySettings, context: SourceContext) -> GooglePlaySource:
        return cls(settings)

    def _streams(self, app: PlayApp) -> list[Stream[PlayApp]]:
        return [Stream(app, country, lang) for country in app.countries for lang in app.languages]

    def _backfill_pages(self) -> int | None:
        return self.settings.backfill_pages

    def _read(self, stream: Stream[PlayApp], at: int | str | None) -> ReviewPage:
        """One page through the library, with `_PlayTransport` routing, retrying and judging its requests."""
        transport = _PlayTransport(self.settings, self._retry)
        count, lang = self.settings.page_size, stream.lang or "en"
        with _routed(transport):
            if at is None:
                result, cont = reviews(stream.app.app_id, lang=lang, country=stream.country, sort=Sort.NEWEST,
                                       count=count)
            else:
                resume = _ContinuationToken(str(at), lang, stream.country, Sort.NEWEST.value, count, None, None)
                result, cont = reviews(stream.app.app_id, continuation_token=resume)
        if transport.failure is not None:
            raise transport.failure
        if transport.broken is not None:
            return ReviewPage([], None, transport.broken)
        return ReviewPage(result, cont.token if isinstance(cont.token, str) else None)

    def _mention(self, raw: Any, stream: Stream[PlayApp]) -> Mention | None:
        return review_to_mention(raw, stream.app, stream.country, stream.lang or "en")

    def _engagement(self, raw: Any) -> tuple[str | None, Engagement]:
        helpful = raw.get("thumbsUpCount") if isinstance(raw, Mapping) else None
        review_id = raw.get("reviewId") if isinstance(raw, Mapping) else None
        return (str(review_id) if review_id is not None else None,
                Engagement(likes=helpful if isinstance(helpful, int) and helpful > 0 else 0))
