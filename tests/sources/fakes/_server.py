"""The loopback HTTP plumbing every fake platform shares, so each fake module is only its wire format.

A fake subclasses `FakeServer` (or `FakeAPI`, which adds the usual failure injection) and
answers `_reply(request) -> Reply`; everything else is the same for all of them and lives
here: a `ThreadingHTTPServer` on 127.0.0.1 answering from a daemon thread (`start`, `stop`,
`base_url`), reading the request and writing the reply, the queues behind `fail_next` and
`break_next_payload`, and the loop that keeps a standalone fake (`python -m ...`) running.

Fakes keep their own public names on top of this (`url`, `base_url`, `start(host, port)`):
the contract harnesses, the platform tests and `serve_all.py` use them.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json_bytes(obj), {"Content-Type": JSON, **(headers or {})})


def sniffed_reply(status: int, headers: dict[str, str], body: bytes) -> Reply:
    """A reply typed by its body: an HTML page (a proxy's or a CDN's error page) or else JSON."""
    return Reply(status, body, {"Content-Type": "text/html" if body.startswith(b"<") else JSON, **headers})


@dataclass(frozen=True)
class Request:
    """One request as the fake received it."""

    method: str
    target: str  # the path and query string, as sent
    headers: Message  # case-insensitive `get`, as http.server parsed them
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def params(self) -> dict[str, str]:
        """Each query parameter's last value, blank ones kept."""
        return _last_values(urlsplit(self.target).query)

    def form(self) -> dict[str, str]:
        """Each field of a form-encoded body, last value, blank ones kept."""
        return _last_values(self.body.decode())

    def lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}


def _last_values(encoded: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(encoded, keep_blank_values=True).items()}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    disable_nagle_algorithm = True  # headers and body go out as two writes; don't stall the second

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.fake._reply(Request(self.command, self.path, self.headers, body))
        self.send_response(reply.status)
        for name, value in {"Content-Length": str(len(reply.body)), **reply.headers}.items():
            self.send_header(name, value)
        if self.close_connection:  # the client asked to close (prawcore's token request does): say so,
            self.send_header("Connection", "close")  # or urllib3 pools the socket we are about to close
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class FakeServer:
    """A fake platform served over HTTP on loopback, from a daemon thread.

    Subclasses answer every request in `_reply`, and say which HTTP `methods` they serve
    (others get http.server's 501) and with which `protocol_version`.
    """

    methods: ClassVar[tuple[str, ...]] = ("GET",)
    protocol_version: ClassVar[str] = "HTTP/1.1"
    _address: tuple[str, int] = ("127.0.0.1", 0)  # where `start()` listens unless told otherwise
    _server: ThreadingHTTPServer | None = None

    def _reply(self, request: Request) -> Reply:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class, bound to this fake."""
        attrs: dict[str, Any] = {"fake": self, "protocol_version": self.protocol_version}
        attrs.update({f"do_{method}": _Handler._dispatch for method in self.methods})
        return type("Handler", (_Handler,), attrs)

    def start(self, host: str | None = None, port: int | None = None) -> str:
        """Serve in a background thread; returns the base URL."""
        server = ThreadingHTTPServer((host or self._address[0], self._address[1] if port is None else port),
                                     self._handler())
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        name = "fake-" + type(self).__name__.removeprefix("Fake").lower()
        threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"


class FakeAPI(FakeServer):
    """A `FakeServer` with the failure injection the contract harnesses expect.

    `fail_next(status, times)` answers the next requests with that error status;
    `break_next_payload(kind)` answers one with a 200 whose body is not what the platform
    documents (each fake names its kinds). Asked-for statuses come before broken payloads.
    """

    default_break: ClassVar[str] = "truncated"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._broken: list[str] = []

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures += [status] * times

    def break_next_payload(self, kind: str | None = None) -> None:
        with self._lock:
            self._broken.append(kind or self.default_break)

    def _next_failure(self) -> int | None:
        """The status of the next asked-for failure, if one is due (hold the lock)."""
        return self._failures.pop(0) if self._failures else None

    def _next_broken(self) -> str | None:
        """The kind of the next broken payload, if one is due (hold the lock)."""
        return self._broken.pop(0) if self._broken else None

    def _injected(self, error: Callable[[int], Reply], broken: Callable[[str], Reply]) -> Reply | None:
        """The reply to the next injected failure, rendered the platform's way, or None (hold the lock)."""
        status = self._next_failure()
        if status is not None:
            return error(status)
        kind = self._next_broken()
        return broken(kind) if kind is not None else None


@dataclass
class Pending:
    """A scripted answer to an upcoming request, for fakes that queue them in order (X, Reddit)."""

    kind: str  # "pass" (answer normally), "status" (fail with `status`), "broken" (a body as `mode` says), ...
    status: int = 200
    mode: str = "html"
    body: bytes = b""  # "recorded": answer with exactly this body (a fixture of the platform's response)


def queue_pending(queue: deque[Pending], pending: Pending, *, times: int = 1, after: int = 0) -> None:
    """Queue `pending` `times` times, behind `after` requests let through first (hold the lock)."""
    queue.extend(Pending("pass") for _ in range(after))
    queue.extend(replace(pending) for _ in range(times))


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def serve_until_interrupted(fake: _Stoppable) -> None:
    """Keep a standalone fake serving until Ctrl-C, then stop it."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


def standalone_args(doc: str | None, port: int, **options: str) -> argparse.Namespace:
    """The command line of a fake run on its own (`python -m tests.sources.fakes.<name>`).

    `--port` (default `port`) and one `--option` per keyword (underscores as dashes), with
    the keyword's value as its default; `doc`'s first line is the description.
    """
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--port", type=int, default=port)
    for name, default in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=default)
    return parser.parse_args()


def serve_standalone(fake: FakeServer, describe: Callable[[str], str]) -> None:
    """Start `fake`, print `describe(its URL)` (where it is, what to configure) and serve until Ctrl-C."""
    print(f"{describe(fake.start())}\nCtrl-C stops it", flush=True)
    serve_until_interrupted(fake)
