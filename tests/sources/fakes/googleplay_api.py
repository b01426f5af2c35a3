"""A fake Google Play reviews endpoint on loopback, speaking batchexecute as google-play-scraper parses it.

The scraper POSTs `f.req=[[["oCPfdb","<args>",null,"generic"]]]` to
`/_/PlayStoreUi/data/batchexecute`, where `<args>` carries the sort, the page size, an
optional continuation token and the app id. The reply is Google's anti-JSON prefix `)]}'`, a
blank line and an envelope whose first element is `["wrb.fr","oCPfdb","<payload>",...]`; the
payload is `[[review, ...], [null, "<token>"], null]` (no token pair on the last page), and a
review is a positional array: 0 id, 1 [user name, avatar], 2 score, 4 text, 5 [seconds, nanos],
6 helpful count, 7 developer reply, 10 app version.

Failure injection: `fail_next(status)` (429 carries Retry-After), `throttle_next()` (Google's
in-band PlayGatewayError), `break_next_payload(kind)`.
Run standalone: `python -m tests.sources.fakes.googleplay_api --port 8302` and point
`sources.googleplay.base_url` at it.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RPC = "oCPfdb"
PATH = "/_/PlayStoreUi/data/batchexecute"


@dataclass
class Review:
    review_id: str
    text: str | None
    at: datetime
    score: int = 5
    helpful: int = 0
    user: str | None = "Reviewer"
    version: str | None = "1.0.0"
    reply: str | None = None


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.fake._serve(self)  # type: ignore[attr-defined]

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class FakeGooglePlay:
    """Reviews per app, newest first, with paging, failures and broken replies on demand."""

    def __init__(self, page_size: int = 20, host: str = "127.0.0.1", port: int = 0) -> None:
        self.page_size = page_size
        self._address = (host, port)
        self._lock = threading.Lock()
        self._reviews: dict[str, list[Review]] = {}
        self._failures: list[int] = []
        self._broken: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[dict[str, Any]] = []  # what the client asked, for assertions

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> str:
        server = ThreadingHTTPServer(self._address, _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-googleplay", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- content -------------------------------------------------------------------------

    def publish(self, app_id: str, review: Review) -> None:
        with self._lock:
            reviews = self._reviews.setdefault(app_id, [])
            reviews[:] = [r for r in reviews if r.review_id != review.review_id] + [review]
            reviews.sort(key=lambda r: r.at, reverse=True)

    def set_helpful(self, review_id: str, helpful: int) -> None:
        with self._lock:
            for reviews in self._reviews.values():
                for review in reviews:
                    if review.review_id == review_id:
                        review.helpful = helpful
                        return
        raise KeyError(review_id)

    # --- failure injection ---------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures += [status] * times

    def throttle_next(self, times: int = 1) -> None:
        """Answer 200 with Google's in-band PlayGatewayError, its other way of saying "slow down"."""
        with self._lock:
            self._broken += ["throttle"] * times

    def break_next_payload(self, kind: str = "error-envelope") -> None:
        """`error-envelope`: the wrb.fr entry without a payload (Google's own error reply);
        `html`: an HTML interstitial; `garbage`: no batchexecute framing at all."""
        with self._lock:
            self._broken.append(kind)

    # --- serving -------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode("utf-8") if length else ""
        url = urlsplit(handler.path)
        with self._lock:
            self.requests.append(
                {"method": handler.command, "path": url.path, "query": parse_qs(url.query), "body": body}
            )
            if self._failures:
                reply = _error(self._failures.pop(0))
            elif self._broken:
                reply = _broken(self._broken.pop(0))
            else:
                reply = self._route(handler.command, url.path, body)
        handler.send_response(reply.status)
        for name, value in {"Content-Length": str(len(reply.body)), **reply.headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(reply.body)

    def _route(self, method: str, path: str, body: str) -> Reply:
        if method != "POST" or path != PATH:
            return Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
        try:
            request = json.loads(parse_qs(body)["f.req"][0])
            rpc, raw_args = request[0][0][0], request[0][0][1]
            args = json.loads(raw_args)
            paging, app_id = args[1][2], args[2][0]
        except (KeyError, IndexError, TypeError, ValueError):
            return Reply(400, b"<html>Bad Request</html>", {"Content-Type": "text/html"})
        if rpc != RPC:
            return Reply(400, b"<html>Unknown rpc</html>", {"Content-Type": "text/html"})
        count = int(paging[0])
        offset = int(paging[2]) if len(paging) > 2 and paging[2] else 0
        reviews = self._reviews.get(app_id, [])
        page = reviews[offset : offset + min(count, self.page_size)]
        more = offset + len(page) < len(reviews)
        payload: list[Any] = [[_review_array(r) for r in page], [None, str(offset + len(page))] if more else None, None]
        return _batchexecute(payload)


def _review_array(review: Review) -> list[Any]:
    seconds = int(review.at.timestamp())
    user = None if review.user is None else [review.user, [None, None, None, [None, None, "https://example.test/a.png"]]]
    reply = None if review.reply is None else [None, review.reply, [seconds + 3600, 0]]
    return [review.review_id, user, review.score, None, review.text, [seconds, 0], review.helpful, reply,
            None, None, review.version]


def _batchexecute(payload: Any) -> Reply:
    envelope = [["wrb.fr", RPC, json.dumps(payload, separators=(",", ":")), None, None, None, "generic"],
                ["di", 42], ["af.httprm", 41, "-5095830409453563785", 4]]
    body = ")]}'\n\n" + json.dumps(envelope, separators=(",", ":"))
    return Reply(200, body.encode(), {"Content-Type": "application/json; charset=utf-8"})


def _error(status: int) -> Reply:
    headers = {"Content-Type": "text/html; charset=UTF-8"}
    if status == 429:
        headers["Retry-After"] = "1"
    return Reply(status, f"<html><title>Error {status}</title></html>".encode(), headers)


def _broken(kind: str) -> Reply:
    if kind == "throttle":
        envelope = [["er", None, None, None, None, 429, None, None, None, 7,
                     ["generic", None, None, None, None, [["type.googleapis.com/"
                      "com.google.play.gateway.proto.PlayGatewayError", [None, None, 8]]]]]]
        return Reply(200, (")]}'\n\n" + json.dumps(envelope)).encode(), {"Content-Type": "application/json"})
    if kind == "html":
        return Reply(200, b"<html><body>Our systems have detected unusual traffic</body></html>",
                     {"Content-Type": "text/html"})
    if kind == "garbage":
        return Reply(200, b'{"not": "batchexecute"}', {"Content-Type": "application/json"})
    envelope = [["wrb.fr", RPC, None, None, None, [5], "generic"], ["e", 4, None, None, 130]]
    return Reply(200, (")]}'\n\n" + json.dumps(envelope)).encode(), {"Content-Type": "application/json"})


def seed(fake: FakeGooglePlay, app_id: str, brand: str) -> None:
    """A few reviews a developer can ingest: mixed ratings, one without a version or a name."""
    now = datetime.now(UTC).replace(microsecond=0)
    samples = [
        (1, f"{brand} keeps crashing since the update, lost all my data", None),
        (5, f"Love {brand}, support sorted my issue in minutes", "Happy Camper"),
        (2, "Checkout is broken, charged twice", "Annoyed"),
        (4, "Good, but dark mode please", "Night Owl"),
    ]
    for i, (score, text, user) in enumerate(samples):
        fake.publish(app_id, Review(f"gp:seed-{i}", text, now - timedelta(minutes=10 * i), score=score, helpful=i,
                                    user=user, version=None if i == 0 else f"3.{i}.0"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8302)
    parser.add_argument("--app-id", default="com.acme.app")
    parser.add_argument("--brand", default="Acme")
    args = parser.parse_args()
    fake = FakeGooglePlay(port=args.port)
    seed(fake, args.app_id, args.brand)
    print(f"fake Google Play on {fake.start()} (app {args.app_id}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
