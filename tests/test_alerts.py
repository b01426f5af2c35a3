"""Alert delivery: console, JSONL and webhook channels, with an outbox that survives outages."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rich.console import Console

from monitor import pipeline
from monitor.alerts import deliver
from monitor.alerts.console import ConsoleChannel
from monitor.alerts.webhook import WebhookChannel
from tests.conftest import VIRAL


class Receiver:
    """A real HTTP server on loopback that records POSTs, and can be told to fail."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail_with: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_with:
                    self.send_response(receiver.fail_with)
                    self.end_headers()
                    return
                receiver.received.append({"headers": dict(self.headers), "json": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/secret-token-123"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def alerted(config, store, scorer):
    """The demo processed, alerts stored but not yet delivered anywhere."""
    pipeline.run_once(config, store, scorer=scorer, channels=[])
    return store


def test_the_webhook_receives_each_alert_as_json_once(alerted, receiver):
    channel = WebhookChannel(receiver.url)
    report = deliver(alerted, [channel])
    assert report.sent == {channel.name: 2}
    body = receiver.received[0]["json"]
    assert body["id"] == f"{VIRAL}:warning" and body["severity"] == "warning"
    assert body["mention"]["author"] == "dana_reyes" and body["mention"]["url"].startswith("https://x.com/")
    assert "engagements/min" in body["reason"]
    assert receiver.received[0]["headers"]["Content-Type"] == "application/json"
    deliver(alerted, [channel])
    assert len(receiver.received) == 2


def test_a_channel_that_is_down_keeps_its_alerts_and_does_not_block_others(alerted, receiver, tmp_path):
    receiver.fail_with = 503
    webhook = WebhookChannel(receiver.url, attempts=2)
    console = ConsoleChannel(Console(file=open(tmp_path / "console.txt", "w"), width=200))  # noqa: SIM115
    report = deliver(alerted, [webhook, console])
    assert "503" in report.failed[webhook.name]
    assert "secret-token-123" not in report.failed[webhook.name]  # URLs may carry secrets
    assert "secret-token-123" not in webhook.name
    assert report.sent[console.name] == 2
    assert len(alerted.undelivered_alerts(webhook.name)) == 2

    receiver.fail_with = None  # back up: the outbox drains, in order, exactly once
    deliver(alerted, [webhook, console])
    assert [r["json"]["severity"] for r in receiver.received] == ["warning", "critical"]
    assert alerted.undelivered_alerts(webhook.name) == []


def test_a_refused_alert_is_not_retried_in_a_loop(alerted, receiver):
    receiver.fail_with = 400
    report = deliver(alerted, [WebhookChannel(receiver.url, attempts=5)])
    assert "HTTP 400" in next(iter(report.failed.values()))


def test_the_console_shows_severity_reason_and_link(alerted, tmp_path):
    path = tmp_path / "console.txt"
    with path.open("w") as fh:
        deliver(alerted, [ConsoleChannel(Console(file=fh, width=200))])
    text = path.read_text()
    assert "ALERT WARNING" in text and "ALERT CRITICAL" in text
    assert "https://x.com/dana_reyes/status/1991500000000000001" in text
