"""Alert delivery: the outbox, outages and recovery, retries, routing, and secrets kept out of logs.

Channels talk to real receivers on loopback (tests/test_alert_receivers.py); retry waits
are recorded instead of slept, so the suite stays fast.
"""

from __future__ import annotations

import logging
import threading

import pytest
from rich.console import Console

from monitor import pipeline
from monitor.alerts import ChannelConfigError, DeliveryError, Route, deliver
from monitor.alerts.console import ConsoleChannel
from monitor.alerts.jsonl import JsonlChannel
from monitor.alerts.mail import EmailChannel
from monitor.alerts.routing import EVERYTHING
from monitor.alerts.slack import SlackChannel
from monitor.alerts.teams import TeamsChannel
from monitor.alerts.transport import RetryPolicy, retry_after_seconds
from monitor.alerts.webhook import WebhookChannel
from monitor.config import ConfigError, parse_config
from monitor.models import Alert, AlertKind, Severity
from tests.conftest import VIRAL
from tests.test_alert_support import MENTION, SPREAD, WARNING, HttpReceiver, Reply, SmtpReceiver

SECRET = "whsec-test-4f1c9a"
TOKEN = "secret-token-123"  # the part of a webhook URL that is the credential


class Sleeps(list):
    """Stands in for time.sleep: records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def receiver():
    r = HttpReceiver(f"/hooks/{TOKEN}")
    yield r
    r.stop()


@pytest.fixture
def smtp_server():
    s = SmtpReceiver()
    yield s
    s.stop()


@pytest.fixture
def alerted(store):
    """The demo's complaint that takes off, alerted at warning then critical, delivered nowhere yet."""
    store.ingest([MENTION], [])
    store.add_alert(WARNING)
    store.add_alert(SPREAD)
    return store


def test_the_webhook_receives_each_alert_as_json_once(alerted, receiver):
    channel = WebhookChannel(receiver.url, secret=SECRET)
    report = deliver(alerted, [channel])
    assert report.sent == {channel.name: 2}
    body = receiver.received[0].json
    assert body["id"] == f"{VIRAL}:warning" and body["severity"] == "warning"
    assert body["mention"]["author"] == "dana_reyes" and body["mention"]["url"].startswith("https://x.com/")
    assert "engagements/min" in body["reason"]
    assert receiver.received[0].headers["Content-Type"] == "application/json"
    deliver(alerted, [channel])
    assert len(receiver.received) == 2


# -- outages and recovery --------------------------------------------------------------------


def make_channel(kind: str, http: HttpReceiver, smtp: SmtpReceiver, sleeps: Sleeps):
    retry = RetryPolicy(attempts=2, sleep=sleeps)
    if kind == "email":
        return EmailChannel("127.0.0.1", smtp.port, sender="alerts@brisa.example", to=["care@brisa.example"],
                            security="none", retry=retry)
    cls = {"slack": SlackChannel, "teams": TeamsChannel}.get(kind)
    if cls is not None:
        return cls(http.url, key=f"EARSHOT_{kind.upper()}_WEBHOOK_URL", retry=retry)
    return WebhookChannel(http.url, secret=SECRET, retry=retry)


def delivered_ids(kind: str, http: HttpReceiver, smtp: SmtpReceiver) -> list[str]:
    if kind == "email":
        return [e.message["X-Earshot-Alert"] for e in smtp.received]
    if kind == "webhook":
        return [r.headers["X-Earshot-Alert"] for r in http.received]
    if kind == "slack":
        return [r.json["blocks"][0]["text"]["text"].split()[1] for r in http.received]  # the severity
    return [r.json["attachments"][0]["content"]["body"][0]["text"].split()[1] for r in http.received]


@pytest.mark.parametrize("kind", ["slack", "teams", "webhook", "email"])
def test_a_channel_that_is_down_keeps_its_alerts_and_delivers_them_once_when_back(
    kind, alerted, receiver, smtp_server, sleeps, tmp_path
):
    channel = make_channel(kind, receiver, smtp_server, sleeps)
    jsonl = JsonlChannel(tmp_path / "alerts.jsonl")
    down = smtp_server if kind == "email" else receiver
    down.stop()  # nothing listens: connection refused

    report = deliver(alerted, [channel, jsonl])
    assert report.sent == {channel.name: 0, jsonl.name: 2}  # the others are not blocked
    assert "unreachable after 2 attempt(s)" in report.failed[channel.name]
    assert len(sleeps) == 1  # one backoff between the two attempts, for the first alert; then the channel stops
    assert [a.severity for a in alerted.undelivered_alerts(channel.name)] == [Severity.warning, Severity.critical]
    assert alerted.undelivered_alerts(jsonl.name) == []

    down.start()  # back up on the same port: the outbox drains, in order, exactly once
    report = deliver(alerted, [channel, jsonl])
    assert report.failed == {} and report.sent == {channel.name: 2, jsonl.name: 0}
    expected = ["WARNING", "CRITICAL"] if kind in ("slack", "teams") else [f"{VIRAL}:warning", f"{VIRAL}:critical"]
    assert delivered_ids(kind, receiver, smtp_server) == expected
    deliver(alerted, [channel, jsonl])
    assert len(delivered_ids(kind, receiver, smtp_server)) == 2
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 2


def test_a_slow_channel_does_not_delay_the_others(alerted, tmp_path):
    """Channels are served in parallel: a channel stuck in retries is not in the way."""
    console_done = threading.Event()

    class Slow:
        name = label = "slow"
        route = EVERYTHING

        def send(self, alert, mention):
            # Sequential delivery (this channel first) would time out here.
            if not console_done.wait(timeout=5):
                raise DeliveryError("the other channel was not served while this one was busy")

    class Fast:
        name = label = "fast"
        route = EVERYTHING
        seen = 0

        def send(self, alert, mention):
            self.seen += 1
            if self.seen == 2:
                console_done.set()

    report = deliver(alerted, [Slow(), Fast()])
    assert report.sent == {"slow": 2, "fast": 2} and report.failed == {}


def test_a_broken_channel_is_reported_without_its_message_and_the_others_deliver(alerted, tmp_path):
    class Broken:
        name = label = "broken"
        route = EVERYTHING

        def send(self, alert, mention):
            raise KeyError(f"https://hooks.example.com/{TOKEN}")

    jsonl = JsonlChannel(tmp_path / "alerts.jsonl")
    report = deliver(alerted, [Broken(), jsonl])
    assert report.sent[jsonl.name] == 2
    assert report.failed["broken"].startswith("KeyError at ") and TOKEN not in report.failed["broken"]
    assert len(alerted.undelivered_alerts("broken")) == 2


# -- retries ---------------------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff_then_delivered_once(alerted, receiver, sleeps):
    receiver.replies = [Reply(503), Reply(502)]
    channel = WebhookChannel(receiver.url, secret=SECRET, retry=RetryPolicy(attempts=3, initial_wait=0.5, sleep=sleeps))
    report = deliver(alerted, [channel])
    assert report.sent == {channel.name: 2} and report.failed == {}
    assert len(receiver.attempts) == 4 and len(receiver.received) == 2
    assert len(sleeps) == 2 and 0 < sleeps[0] <= sleeps[1] <= 8  # exponential, with jitter, capped
    # Each attempt is signed afresh; the body is the same bytes.
    assert receiver.attempts[0].body == receiver.attempts[2].body


def test_429_waits_as_long_as_retry_after_says(alerted, receiver, sleeps):
    receiver.replies = [Reply(429, {"Retry-After": "7"})]
    channel = SlackChannel(receiver.url, retry=RetryPolicy(attempts=3, max_retry_after=30, sleep=sleeps))
    assert deliver(alerted, [channel]).sent == {channel.name: 2}
    assert sleeps == [7.0] and len(receiver.attempts) == 3


def test_a_retry_after_beyond_the_cap_leaves_the_alert_for_the_next_run(alerted, receiver, sleeps):
    receiver.fail_with(429, {"Retry-After": "3600"}, b"rate_limited")
    channel = SlackChannel(receiver.url, retry=RetryPolicy(attempts=5, max_retry_after=30, sleep=sleeps))
    report = deliver(alerted, [channel])
    assert "asked to wait 3600s, more than the 30s cap" in report.failed[channel.name]
    assert "(rate_limited)" in report.failed[channel.name]
    assert sleeps == [] and len(receiver.attempts) == 1  # no waiting an hour, no hammering
    assert len(alerted.undelivered_alerts(channel.name)) == 2


def test_retry_after_accepts_seconds_and_http_dates():
    from datetime import UTC, datetime

    now = datetime(2025, 11, 20, 9, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Thu, 20 Nov 2025 09:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Thu, 20 Nov 2025 08:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_revoked_endpoint_is_not_retried_in_a_loop(alerted, receiver, sleeps):
    receiver.fail_with(404, body=b"no_service")
    channel = SlackChannel(receiver.url, retry=RetryPolicy(attempts=5, sleep=sleeps))
    report = deliver(alerted, [channel])
    assert "HTTP 404 (no_service)" in report.failed[channel.name]
    assert len(receiver.attempts) == 1 and sleeps == []  # one request; the channel stops for this run
    assert len(alerted.undelivered_alerts(channel.name)) == 2


def test_a_refused_alert_does_not_block_the_ones_after_it(alerted, receiver, sleeps):
    receiver.replies = [Reply(400, body=b"invalid_blocks")]
    channel = SlackChannel(receiver.url, retry=RetryPolicy(attempts=5, sleep=sleeps))
    report = deliver(alerted, [channel])
    assert "HTTP 400 (invalid_blocks)" in report.failed[channel.name]
    assert report.sent == {channel.name: 1} and len(receiver.attempts) == 2 and sleeps == []
    # The refused one stays in the outbox: tried once per run, never in a loop.
    assert [a.severity for a in alerted.undelivered_alerts(channel.name)] == [Severity.warning]


def test_error_pages_are_not_echoed(alerted, receiver):
    receiver.fail_with(403, body=f"Cannot POST /hooks/{TOKEN}".encode())
    channel = WebhookChannel(receiver.url, secret=SECRET)
    report = deliver(alerted, [channel])
    assert "HTTP 403" in report.failed[channel.name] and TOKEN not in report.failed[channel.name]


# -- routing ---------------------------------------------------------------------------------


def alert(severity: Severity, brand: str = "Brisa Mobile", topic: str | None = None) -> Alert:
    from datetime import UTC, datetime

    return Alert(id=f"x:1:{severity.value}", mention_id="x:1", brand=brand, severity=severity,
                 created_at=datetime(2025, 1, 1, tzinfo=UTC), reason="r", topic=topic)


def test_a_route_filters_by_brand_minimum_severity_and_topic():
    route = Route.of(brands=["brisa mobile"], min_severity="warning", topics=["Billing"])
    assert route.accepts(alert(Severity.critical, topic="billing"))
    assert route.accepts(alert(Severity.warning, topic="BILLING"))
    assert not route.accepts(alert(Severity.info, topic="billing"))  # below the minimum
    assert not route.accepts(alert(Severity.critical, brand="Other", topic="billing"))
    assert not route.accepts(alert(Severity.critical, topic="delivery"))
    assert not route.accepts(alert(Severity.critical))  # no topic known: not "billing"
    assert Route().accepts(alert(Severity.info))  # empty route: everything
    storm = alert(Severity.warning).model_copy(update={"kind": AlertKind.storm, "mention_id": None})
    assert Route.of(min_severity="warning").accepts(storm)


def test_alerts_outside_a_channels_route_are_settled_not_sent_and_not_reread(alerted, receiver, tmp_path):
    critical_only = SlackChannel(receiver.url, route=Route.of(min_severity="critical"))
    everything = JsonlChannel(tmp_path / "alerts.jsonl")
    report = deliver(alerted, [critical_only, everything])
    assert report.sent == {critical_only.name: 1, everything.name: 2}
    assert report.skipped == {critical_only.name: 1}
    assert [r.json["blocks"][0]["text"]["text"].split()[1] for r in receiver.received] == ["CRITICAL"]
    # The warning is settled for this channel: not re-read from the outbox every run.
    assert alerted.undelivered_alerts(critical_only.name) == []
    report = deliver(alerted, [critical_only, everything])
    assert report.sent == {critical_only.name: 0, everything.name: 0} and report.skipped == {}


def test_routes_come_from_the_config_and_name_unknown_brands(tmp_path, monkeypatch):
    monkeypatch.setenv("EARSHOT_SLACK_WEBHOOK_URL", f"https://hooks.slack.com/services/T/B/{TOKEN}")
    data = {"brands": [{"name": "Brisa Mobile", "queries": ["brisa"]}],
            "alerts": {"channels": [{"type": "slack", "route": {"brands": ["Brisa Mobile"], "min_severity": "warning",
                                                                "topics": ["billing"]}}]}}
    [slack] = pipeline.alert_channels(parse_config(data))
    assert slack.route == Route.of(["Brisa Mobile"], "warning", ["billing"])

    data["alerts"]["channels"][0]["route"]["brands"] = ["Brisa Mobil"]
    with pytest.raises(ChannelConfigError) as err:
        pipeline.alert_channels(parse_config(data))
    assert "alerts.channels.0.route.brands: no configured brand named 'Brisa Mobil'" in str(err.value)
    data["alerts"]["channels"][0]["route"] = {"min_severity": "urgent"}
    with pytest.raises(ConfigError, match=r"alerts.channels.0.slack.route.min_severity"):
        parse_config(data)


# -- configuration and secrets -------------------------------------------------------------


BRANDS = {"brands": [{"name": "Brisa Mobile", "queries": ["brisa"]}]}


def test_a_missing_secret_is_named_when_channels_are_built(monkeypatch):
    for name in ("EARSHOT_SLACK_WEBHOOK_URL", "EARSHOT_WEBHOOK_SECRET", "SMTP_PW"):
        monkeypatch.delenv(name, raising=False)
    config = parse_config({**BRANDS, "alerts": {"channels": [
        {"type": "slack"},
        {"type": "webhook", "url": "https://hooks.example.com/earshot"},
        {"type": "email", "host": "smtp.example.com", "username": "u", "password_env": "SMTP_PW",
         "sender": "a@example.com", "to": ["b@example.com"]},
    ]}})
    with pytest.raises(ChannelConfigError) as err:
        pipeline.alert_channels(config)
    message = str(err.value)
    assert "alerts.channels.0.url_env: the environment variable EARSHOT_SLACK_WEBHOOK_URL" in message
    assert "alerts.channels.1.secret_env: the environment variable EARSHOT_WEBHOOK_SECRET" in message
    assert "alerts.channels.2.password_env: the environment variable SMTP_PW (the SMTP password) is not set" in message
    assert config.alerts.channels[0].missing_secrets() == ["EARSHOT_SLACK_WEBHOOK_URL"]


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ({"type": "slack", "url": f"https://hooks.slack.com/services/T/B/{TOKEN}"},
         "alerts.channels.0.slack.url: not a config key"),
        ({"type": "slack", "url_env": f"https://hooks.slack.com/services/T/B/{TOKEN}"},
         "alerts.channels.0.slack.url_env: Value error, must be the NAME of an environment variable"),
        ({"type": "teams", "webhook": "x"}, "alerts.channels.0.teams.webhook: not a config key"),
        ({"type": "webhook", "url_env": "HOOK_URL", "url": "https://x.example"},
         "alerts.channels.0.webhook: Value error, set exactly one of url or url_env"),
        ({"type": "email", "host": "smtp.example.com", "sender": "a@example.com", "to": ["b@example.com"],
          "password": "hunter2"}, "alerts.channels.0.email.password: not a config key"),
        ({"type": "email", "host": "smtp.example.com", "sender": "a@example.com", "to": ["b@example.com"],
          "security": "none", "username": "u", "password_env": "PW"}, "never sent in clear text"),
        ({"type": "email", "host": "smtp.example.com", "sender": "a@example.com", "to": []},
         "alerts.channels.0.email.to"),
        ({"type": "slack", "route": {"severity": "critical"}}, "alerts.channels.0.slack.route.severity: not a config key"),
    ],
)
def test_wrong_channel_settings_are_named_and_secrets_are_not_echoed(channel, error):
    with pytest.raises(ConfigError) as err:
        parse_config({**BRANDS, "alerts": {"channels": [channel]}})
    assert error in str(err.value)
    assert TOKEN not in str(err.value) and "hunter2" not in str(err.value)


def test_two_channels_to_the_same_destination_are_refused(monkeypatch):
    monkeypatch.setenv("EARSHOT_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x")
    config = parse_config({**BRANDS, "alerts": {"channels": [{"type": "slack"}, {"type": "slack"}]}})
    with pytest.raises(ChannelConfigError) as err:
        pipeline.alert_channels(config)
    assert "alerts.channels.0 and alerts.channels.1 both deliver as slack:EARSHOT_SLACK_WEBHOOK_URL" in str(err.value)


def test_secrets_never_reach_names_reports_or_logs(alerted, receiver, smtp_server, monkeypatch, caplog, sleeps):
    """Every log record of a failing and then working delivery, httpx's request log included."""
    caplog.set_level(logging.DEBUG)
    # Its own level too: a client library used earlier in the run (elastic_transport) quietens "httpx".
    caplog.set_level(logging.DEBUG, logger="httpx")
    password = "smtp-pass-9d2e"
    monkeypatch.setenv("EARSHOT_SLACK_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("EARSHOT_TEAMS_WEBHOOK_URL", receiver.url + "-teams")
    monkeypatch.setenv("HOOK_URL", receiver.url + "-hook")
    monkeypatch.setenv("EARSHOT_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SMTP_PW", password)
    config = parse_config({**BRANDS, "alerts": {"channels": [
        {"type": "slack", "attempts": 2}, {"type": "teams", "attempts": 2},
        {"type": "webhook", "url_env": "HOOK_URL", "attempts": 2},
        # Refused by the plain test server (no STARTTLS), after the password was read from the environment.
        {"type": "email", "host": "127.0.0.1", "port": smtp_server.port, "username": "alerts",
         "password_env": "SMTP_PW", "sender": "a@brisa.example", "to": ["b@brisa.example"]},
    ]}})
    channels = pipeline.alert_channels(config, sleep=sleeps)

    receiver.fail_with(503)
    failing = deliver(alerted, channels)
    receiver.recover()
    working = deliver(alerted, channels)

    assert sum(working.sent.values()) == 6 and len(failing.failed) == 4
    assert any(r.name == "httpx" for r in caplog.records)  # httpx did log its requests...
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # (aiosmtpd is the test server)
    logged = "\n".join(r.getMessage() for r in ours)
    assert "<redacted>" in logged  # ...with the URL redacted
    shown = [logged, repr(failing), repr(working), *(c.name for c in channels), *(repr(c) for c in channels),
             *(getattr(c, "label", "") for c in channels)]
    for secret in (TOKEN, SECRET, password):
        assert not any(secret in text for text in shown), secret
    assert "slack:EARSHOT_SLACK_WEBHOOK_URL#" in failing.failed["slack:EARSHOT_SLACK_WEBHOOK_URL"]  # a fingerprint


def test_the_console_shows_severity_reason_and_link(alerted, tmp_path):
    path = tmp_path / "console.txt"
    with path.open("w") as fh:
        deliver(alerted, [ConsoleChannel(Console(file=fh, width=200))])
    text = path.read_text()
    assert "ALERT WARNING" in text and "ALERT CRITICAL" in text
    assert "https://x.com/dana_reyes/status/1991500000000000001" in text


def test_the_default_config_builds_the_console(config):
    jsonl = config.resolve(config.alerts.channels[1].path)
    assert [c.name for c in pipeline.alert_channels(config)] == ["console", f"jsonl:{jsonl}"]


DOCUMENTED_EXAMPLE = """
brands:
  - name: Brisa Mobile
    queries: ["brisa mobile"]
alerts:
  inbox_url: https://earshot.example.com      # optional: adds "Open in Earshot" links
  channels:
    - type: console
    - type: jsonl
      path: alerts.jsonl
    - type: slack
      url_env: EARSHOT_SLACK_WEBHOOK_URL       # the incoming-webhook URL is the credential
      route: {min_severity: warning}
    - type: teams
      url_env: EARSHOT_TEAMS_WEBHOOK_URL
      route: {brands: [Brisa Mobile], topics: [billing, outage]}
    - type: email
      host: smtp.example.com
      port: 587
      security: starttls                       # starttls (587) | ssl (465) | none (local relay, no password)
      username: alerts@example.com
      password_env: EARSHOT_SMTP_PASSWORD
      sender: Earshot <alerts@example.com>
      to: [care-leads@example.com]
      route: {min_severity: critical}
    - type: webhook
      url: https://automation.example.com/earshot   # or url_env: EARSHOT_WEBHOOK_URL if it embeds a token
      secret_env: EARSHOT_WEBHOOK_SECRET       # HMAC-SHA256 signing key
      timeout_seconds: 10
      attempts: 3
      max_retry_after_seconds: 30
"""


def test_the_documented_example_builds_every_channel(tmp_path, monkeypatch):
    import yaml

    for name, value in {"EARSHOT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
                        "EARSHOT_TEAMS_WEBHOOK_URL": "https://prod.example.logic.azure.com/workflows/x",
                        "EARSHOT_SMTP_PASSWORD": "pw", "EARSHOT_WEBHOOK_SECRET": "s"}.items():
        monkeypatch.setenv(name, value)
    config = parse_config(yaml.safe_load(DOCUMENTED_EXAMPLE), base_dir=tmp_path)
    channels = pipeline.alert_channels(config)
    assert [type(c).__name__ for c in channels] == [
        "ConsoleChannel", "JsonlChannel", "SlackChannel", "TeamsChannel", "EmailChannel", "WebhookChannel"]
    assert [c.name for c in channels][2:] == [
        "slack:EARSHOT_SLACK_WEBHOOK_URL", "teams:EARSHOT_TEAMS_WEBHOOK_URL", "email:care-leads@example.com",
        "webhook:automation.example.com#" + channels[5].name.split("#")[1]]
    assert channels[4].port == 587 and channels[3].route == Route.of(["Brisa Mobile"], "info", ["billing", "outage"])
