"""Each alert channel delivers one alert to a real receiver on loopback, rendered for that receiver.

Slack, Teams and the signed webhook POST to a local HTTP server; email goes to a local
aiosmtpd server (plain, STARTTLS with a login, implicit TLS); console and JSONL write
locally. Secrets come from environment variables, as in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from monitor import pipeline
from monitor.alerts import deliver
from monitor.alerts.console import ConsoleChannel
from monitor.alerts.jsonl import JsonlChannel
from monitor.alerts.mail import EmailChannel
from monitor.alerts.render import view
from monitor.alerts.slack import SlackChannel
from monitor.alerts.teams import CARD_CONTENT_TYPE, TeamsChannel
from monitor.alerts.webhook import WebhookChannel
from monitor.config import parse_config
from monitor.store import SQLiteStore
from tests.test_alert_support import (
    MENTION,
    POST_TEXT,
    REASON,
    SPREAD,
    STORM,
    HttpReceiver,
    SmtpReceiver,
    self_signed_cert,
)

INBOX = "https://earshot.example.com"
SECRET = "whsec-test-4f1c9a"


@pytest.fixture
def one_alert(tmp_path):
    """A store holding exactly one alert, for one post, not yet delivered anywhere."""
    store = SQLiteStore(tmp_path / "alerts.db")
    store.ingest([MENTION], [])
    store.add_alert(SPREAD)
    yield store
    store.close()


@pytest.fixture
def storm_alert(tmp_path):
    store = SQLiteStore(tmp_path / "storm.db")
    store.add_alert(STORM)
    yield store
    store.close()


@pytest.fixture
def http():
    receivers: list[HttpReceiver] = []

    def make(path: str = "/hooks/T000/B000/secret-token-123") -> HttpReceiver:
        receivers.append(HttpReceiver(path))
        return receivers[-1]

    yield make
    for r in receivers:
        r.stop()


@pytest.fixture
def smtp():
    receivers: list[SmtpReceiver] = []

    def make(**kwargs) -> SmtpReceiver:
        receivers.append(SmtpReceiver(**kwargs))
        return receivers[-1]

    yield make
    for r in receivers:
        r.stop()


def verify(secret: bytes, body: bytes, timestamp: str, signature: str, tolerance: int = 300) -> bool:
    """The verification recipe from monitor/alerts/webhook.py's docstring, copied verbatim."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False  # too old (or from the future): possibly a replay
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


# -- one alert to each channel --------------------------------------------------------


def test_slack_receives_one_alert_as_block_kit(one_alert, http):
    slack = http()
    channel = SlackChannel(slack.url, key="EARSHOT_SLACK_WEBHOOK_URL", inbox_url=INBOX)
    report = deliver(one_alert, [channel])

    assert report.sent == {"slack:EARSHOT_SLACK_WEBHOOK_URL": 1} and not report.failed
    [request] = slack.received
    assert request.path == "/hooks/T000/B000/secret-token-123"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json
    assert "CRITICAL · Brisa Mobile" in body["text"]  # the notification preview
    header, reason, quote, context, actions = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"].endswith("CRITICAL · Brisa Mobile")
    assert reason == {"type": "section", "text": {"type": "mrkdwn", "text": REASON}}
    # Quoted line by line; Slack's control syntax from the post is escaped, so no channel ping.
    assert quote["text"]["text"] == (
        ">@BrisaMobile charged me TWICE this month &lt;!channel&gt; &amp; support hangs up.\n"
        ">See [my bill](https://evil.example)"
    )
    assert "<!channel>" not in request.body.decode()
    assert context["type"] == "context"
    facts = [e["text"] for e in context["elements"]]
    assert facts == ["*Author:* @dana_reyes · 12,400 followers", "*Source:* x (en)", "*Sentiment:* negative (-0.91)",
                     "*Velocity:* 48.0 engagements/min (baseline 0.8)", "*Topic:* billing → Billing care"]
    open_post, open_inbox = actions["elements"]
    assert open_post["type"] == "button" and open_post["text"]["text"] == "Open post"
    assert open_post["url"] == MENTION.url
    assert open_inbox["url"] == f"{INBOX}/#alert-x%3A1991500000000000001%3Acritical"

    deliver(one_alert, [channel])  # the outbox is empty now: nothing is sent twice
    assert len(slack.received) == 1


def test_teams_receives_one_alert_as_an_adaptive_card(one_alert, http):
    teams = http("/workflows/abc/triggers/manual/paths/invoke?sig=secret-sig-456")
    report = deliver(one_alert, [TeamsChannel(teams.url, key="EARSHOT_TEAMS_WEBHOOK_URL", inbox_url=INBOX)])

    assert report.sent == {"teams:EARSHOT_TEAMS_WEBHOOK_URL": 1}
    [request] = teams.received
    body = request.json
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    headline, reason, quote, *facts = card["body"]
    assert headline["type"] == "TextBlock" and headline["text"].endswith("CRITICAL · Brisa Mobile")
    assert headline["color"] == "Attention"
    assert reason["inlines"] == [{"type": "TextRun", "text": REASON}]
    # The post is a TextRun (rendered literally), so "[my bill](https://evil...)" stays text.
    assert quote["type"] == "Container"
    assert quote["items"][0]["inlines"][0] == {"type": "TextRun", "text": POST_TEXT, "italic": True}
    assert [run["text"] for run in facts[0]["inlines"]] == ["Author: ", "@dana_reyes · 12,400 followers"]
    assert {f["inlines"][0]["text"] for f in facts} >= {"Sentiment: ", "Velocity: ", "Topic: "}
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open post", "url": MENTION.url},
        {"type": "Action.OpenUrl", "title": "Open in Earshot",
         "url": f"{INBOX}/#alert-x%3A1991500000000000001%3Acritical"},
    ]


def test_webhook_receives_one_alert_signed_with_hmac(one_alert, http):
    hook = http("/earshot")
    report = deliver(one_alert, [WebhookChannel(hook.url, secret=SECRET, inbox_url=INBOX)])

    assert sum(report.sent.values()) == 1
    [request] = hook.received
    body, headers = request.body, request.headers
    assert request.json["id"] == SPREAD.id and request.json["kind"] == "spread"
    assert request.json["mention"]["text"] == POST_TEXT and request.json["topic"] == "billing"
    assert request.json["inbox_url"].startswith(INBOX)
    assert headers["X-Earshot-Alert"] == SPREAD.id
    timestamp, signature = headers["X-Earshot-Timestamp"], headers["X-Earshot-Signature"]
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64

    assert verify(SECRET.encode(), body, timestamp, signature)
    assert not verify(SECRET.encode(), body.replace(b"critical", b"info"), timestamp, signature)  # tampered body
    assert not verify(b"another-secret", body, timestamp, signature)
    assert not verify(SECRET.encode(), body, str(int(timestamp) + 1), signature)  # timestamp is signed too
    stale = str(int(time.time()) - 3600)  # an old request replayed with a valid signature for its time
    assert not verify(SECRET.encode(), body, stale,
                      "sha256=" + hmac.new(SECRET.encode(), stale.encode() + b"." + body, hashlib.sha256).hexdigest())


def test_webhook_signature_matches_the_openssl_recipe(one_alert, http, tmp_path):
    """The shell recipe in the docstring computes the same signature (skipped without openssl)."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    hook = http("/earshot")
    deliver(one_alert, [WebhookChannel(hook.url, secret=SECRET)])
    [request] = hook.received
    (tmp_path / "body.json").write_bytes(request.body)
    recipe = """{ printf '%s.' "$TIMESTAMP"; cat body.json; } | openssl dgst -sha256 -hmac "$EARSHOT_WEBHOOK_SECRET" """
    out = subprocess.run(
        ["sh", "-c", recipe],
        cwd=tmp_path, env={"TIMESTAMP": request.headers["X-Earshot-Timestamp"], "EARSHOT_WEBHOOK_SECRET": SECRET,
                           "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout
    assert "sha256=" + out.split()[-1] == request.headers["X-Earshot-Signature"]


def test_email_receives_one_alert_over_starttls_with_login(one_alert, smtp, tmp_path, caplog):
    caplog.set_level("DEBUG")
    cert = self_signed_cert(tmp_path)
    server = smtp(security="starttls", cert=cert, login=("alerts@brisa.example", "smtp-pass-9d2e"))
    channel = EmailChannel(
        "127.0.0.1", server.port, sender="Earshot <alerts@brisa.example>",
        to=["care-leads@brisa.example", "oncall@brisa.example"], security="starttls",
        username="alerts@brisa.example", password="smtp-pass-9d2e", ca_file=cert[0], inbox_url=INBOX,
    )
    report = deliver(one_alert, [channel])

    assert report.sent == {"email:care-leads@brisa.example,oncall@brisa.example": 1} and not report.failed
    assert server.logins == ["alerts@brisa.example"]  # authenticated, and only after STARTTLS (server requires it)
    [envelope] = server.received
    assert envelope.mail_from == "alerts@brisa.example"
    assert envelope.rcpt_tos == ["care-leads@brisa.example", "oncall@brisa.example"]
    msg = envelope.message
    assert msg["Subject"] == "[Earshot CRITICAL] Brisa Mobile: negative x post spreading"
    assert msg["To"] == "care-leads@brisa.example, oncall@brisa.example"
    assert msg["X-Earshot-Alert"] == SPREAD.id
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert REASON in text and "> @BrisaMobile charged me TWICE" in text
    assert f"Open post: {MENTION.url}" in text and "Open in Earshot: https://earshot.example.com/#alert-" in text
    assert "Author: @dana_reyes · 12,400 followers" in text
    assert f'<a href="{MENTION.url}"' in html and "<blockquote" in html
    assert "&lt;!channel&gt; &amp; support" in html  # the post is escaped, never markup
    assert "smtp-pass-9d2e" not in caplog.text


def test_email_receives_one_alert_over_implicit_tls(one_alert, smtp, tmp_path):
    cert = self_signed_cert(tmp_path)
    server = smtp(security="ssl", cert=cert)
    channel = EmailChannel("127.0.0.1", server.port, sender="alerts@brisa.example", to=["care@brisa.example"],
                           security="ssl", ca_file=cert[0])
    assert deliver(one_alert, [channel]).sent == {channel.name: 1}
    [envelope] = server.received
    assert envelope.message["Subject"] == "[Earshot CRITICAL] Brisa Mobile: negative x post spreading"


def test_email_refuses_a_server_with_an_untrusted_certificate(one_alert, smtp, tmp_path):
    server = smtp(security="ssl", cert=self_signed_cert(tmp_path))
    channel = EmailChannel("127.0.0.1", server.port, sender="alerts@brisa.example", to=["care@brisa.example"],
                           security="ssl")  # no ca_file: the system store does not know this certificate
    report = deliver(one_alert, [channel])
    assert "certificate not trusted" in report.failed[channel.name] and server.received == []


def test_email_without_starttls_on_offer_is_not_sent_in_clear_text(one_alert, smtp):
    server = smtp(security="none")
    channel = EmailChannel("127.0.0.1", server.port, sender="alerts@brisa.example", to=["care@brisa.example"],
                           security="starttls")
    report = deliver(one_alert, [channel])
    assert "does not offer STARTTLS" in report.failed[channel.name] and server.received == []


def test_console_receives_one_alert(one_alert, tmp_path):
    path = tmp_path / "console.txt"
    with path.open("w") as fh:
        report = deliver(one_alert, [ConsoleChannel(Console(file=fh, width=300))])
    assert report.sent == {"console": 1}
    text = path.read_text()
    assert "ALERT CRITICAL [Brisa Mobile] Critical: negative x post" in text
    assert "topic: billing → Billing care" in text and MENTION.url in text


def test_jsonl_receives_one_alert(one_alert, tmp_path):
    path = tmp_path / "alerts.jsonl"
    assert deliver(one_alert, [JsonlChannel(path, inbox_url=INBOX)]).sent == {f"jsonl:{path}": 1}
    [line] = path.read_text().splitlines()
    record = json.loads(line)
    assert record["id"] == SPREAD.id and record["mention"]["url"] == MENTION.url
    assert record["inbox_url"] == f"{INBOX}/#alert-x%3A1991500000000000001%3Acritical"


# -- the whole thing from a config file ------------------------------------------------------


def channels_config(tmp_path: Path, slack: HttpReceiver, teams: HttpReceiver, hook: HttpReceiver,
                    server: SmtpReceiver) -> dict:
    return {
        "brands": [{"name": "Brisa Mobile", "queries": ["brisa mobile"]}],
        "alerts": {
            "inbox_url": INBOX,
            "channels": [
                {"type": "console"},
                {"type": "jsonl", "path": "alerts.jsonl"},
                {"type": "slack", "url_env": "EARSHOT_SLACK_WEBHOOK_URL"},
                {"type": "teams", "url_env": "EARSHOT_TEAMS_WEBHOOK_URL"},
                {"type": "webhook", "url": hook.url, "secret_env": "EARSHOT_WEBHOOK_SECRET"},
                {"type": "email", "host": "127.0.0.1", "port": server.port, "security": "none",
                 "sender": "alerts@brisa.example", "to": ["care@brisa.example"]},
            ],
        },
    }


def test_every_configured_channel_receives_one_alert(one_alert, http, smtp, tmp_path, monkeypatch, capsys):
    slack, teams, hook, server = http(), http("/teams/secret-sig-456"), http("/earshot"), smtp()
    monkeypatch.setenv("EARSHOT_SLACK_WEBHOOK_URL", slack.url)
    monkeypatch.setenv("EARSHOT_TEAMS_WEBHOOK_URL", teams.url)
    monkeypatch.setenv("EARSHOT_WEBHOOK_SECRET", SECRET)
    config = parse_config(channels_config(tmp_path, slack, teams, hook, server), base_dir=tmp_path)

    channels = pipeline.alert_channels(config)
    report = deliver(one_alert, channels)

    assert report.failed == {}
    assert report.sent == {c.name: 1 for c in channels} and len(channels) == 6
    assert [len(r.received) for r in (slack, teams, hook)] == [1, 1, 1]
    assert len(server.received) == 1
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1
    assert "ALERT CRITICAL" in capsys.readouterr().out
    hook_request = hook.received[0]
    assert verify(SECRET.encode(), hook_request.body, hook_request.headers["X-Earshot-Timestamp"],
                  hook_request.headers["X-Earshot-Signature"])
    assert slack.received[0].json["blocks"][-1]["elements"][1]["url"].startswith(INBOX)

    assert sum(deliver(one_alert, pipeline.alert_channels(config)).sent.values()) == 0  # a second run sends nothing


# -- storm alerts (no post) ---------------------------------------------------------------------


def test_a_storm_alert_renders_sensibly_on_every_channel(storm_alert, http, smtp, tmp_path):
    slack, teams, hook, server = http(), http(), http(), smtp()
    console_file = (tmp_path / "console.txt").open("w")
    channels = [
        SlackChannel(slack.url, inbox_url=INBOX), TeamsChannel(teams.url, inbox_url=INBOX),
        WebhookChannel(hook.url, secret=SECRET), ConsoleChannel(Console(file=console_file, width=300)),
        JsonlChannel(tmp_path / "alerts.jsonl"),
        EmailChannel("127.0.0.1", server.port, sender="alerts@brisa.example", to=["care@brisa.example"],
                     security="none"),
    ]
    report = deliver(storm_alert, channels)
    console_file.close()
    assert report.failed == {} and set(report.sent.values()) == {1}

    blocks = slack.received[0].json["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]  # no quote, no post button
    assert blocks[0]["text"]["text"].endswith("WARNING · Brisa Mobile · storm")
    assert blocks[2]["elements"][0]["text"] == "*Kind:* mention storm (brand-wide)"
    assert [b["text"]["text"] for b in blocks[3]["elements"]] == ["Open in Earshot"]
    card = teams.received[0].json["attachments"][0]["content"]
    assert [a["title"] for a in card["actions"]] == ["Open in Earshot"]
    assert not any(item["type"] == "Container" for item in card["body"])
    payload = hook.received[0].json
    assert payload["kind"] == "storm" and payload["mention_id"] is None and "mention" not in payload
    msg = server.received[0].message
    assert msg["Subject"] == "[Earshot WARNING] Brisa Mobile: storm of negative mentions about billing"
    assert "Open post" not in msg.get_body(("plain",)).get_content()
    assert "ALERT WARNING STORM [Brisa Mobile]" in (tmp_path / "console.txt").read_text()
    assert json.loads((tmp_path / "alerts.jsonl").read_text())["kind"] == "storm"


def test_a_spread_alert_whose_post_is_gone_still_renders():
    v = view(SPREAD, None)
    assert v.quote is None and v.post_url is None
    assert v.subject == "[Earshot CRITICAL] Brisa Mobile: negative post spreading"


def test_a_low_rated_review_is_named_as_such():
    review = MENTION.model_copy(update={"source": "googleplay", "rating": 1, "sentiment": None})
    assert view(SPREAD, review).subject == "[Earshot CRITICAL] Brisa Mobile: 1-star googleplay review spreading"
