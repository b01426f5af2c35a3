"""Real receivers on loopback and sample alerts for the alert tests (no tests in here).

`HttpReceiver` stands in for Slack, Teams and any webhook endpoint: it records every
request's raw body and headers, can be scripted to answer with errors, and can go down
(connection refused) and come back on the same port. `SmtpReceiver` is an aiosmtpd
server, optionally with STARTTLS or implicit TLS and a login, recording each message.

The sample alerts are built here rather than by running the demo through detection, so
delivery tests do not move when detection is tuned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from monitor.models import Alert, AlertKind, Engagement, Mention, Sentiment, SentimentLabel, Severity

T0 = dt.datetime(2025, 11, 20, 9, 41, tzinfo=dt.UTC)

# A post written to abuse a chat channel: a channel-wide ping and a disguised link.
POST_TEXT = "@BrisaMobile charged me TWICE this month <!channel> & support hangs up.\nSee [my bill](https://evil.example)"
MENTION = Mention(
    id="x:1991500000000000001", source="x", native_id="1991500000000000001",
    url="https://x.com/dana_reyes/status/1991500000000000001", author_handle="dana_reyes", author_followers=12400,
    text=POST_TEXT, lang="en", created_at=T0, brand="Brisa Mobile", query="brisa mobile",
    engagement=Engagement(likes=900, reposts=300),
    sentiment=Sentiment(label=SentimentLabel.negative, score=-0.91, model="test"),
)
REASON = ("Critical: negative x post by @dana_reyes (12,400 followers) is gaining 48.0 engagements/min over the last"
          " 30 min, 12.0x the alert threshold of 4.0/min (brand baseline 0.8/min); sentiment -0.91.")
WARNING = Alert(
    id=Alert.make_id(MENTION.id, Severity.warning), mention_id=MENTION.id, brand="Brisa Mobile",
    severity=Severity.warning, created_at=T0, velocity_per_min=14.0, baseline_per_min=0.8,
    reason=("Warning: negative x post by @dana_reyes (12,400 followers) is gaining 14.0 engagements/min over the"
            " last 30 min, 3.5x the alert threshold of 4.0/min (brand baseline 0.8/min); sentiment -0.91."),
)
SPREAD = Alert(
    id=Alert.make_id(MENTION.id, Severity.critical), mention_id=MENTION.id, brand="Brisa Mobile",
    severity=Severity.critical, created_at=T0 + dt.timedelta(minutes=12), reason=REASON, velocity_per_min=48.0,
    baseline_per_min=0.8, topic="billing", team="Billing care",
)
STORM = Alert(
    id="storm:Brisa Mobile:2025-11-20T09:45:warning", kind=AlertKind.storm, mention_id=None, brand="Brisa Mobile",
    severity=Severity.warning, created_at=T0.replace(minute=45),
    reason="Warning: negative mentions of Brisa Mobile are arriving at 6.5/min, 8x the usual 0.8/min.",
    velocity_per_min=6.5, baseline_per_min=0.8, topic="billing",
)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class HttpReceiver:
    """Records POSTs. `replies` answers the next requests in order, then `default` answers."""

    def __init__(self, path: str = "/hooks/T000/B000/secret-token-123") -> None:
        self.received: list[Request] = []  # requests answered 2xx
        self.attempts: list[Request] = []  # every request, including the failed ones
        self.replies: list[Reply] = []
        self.default = Reply(200, {"Content-Type": "text/plain"}, b"ok")
        self.port = 0
        self.path = path
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def fail_with(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.default = Reply(status, headers or {}, body)

    def recover(self) -> None:
        self.default = Reply(200, {"Content-Type": "text/plain"}, b"ok")

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(self.path, dict(self.headers), body)
                receiver.attempts.append(request)
                reply = receiver.replies.pop(0) if receiver.replies else receiver.default
                if 200 <= reply.status < 300:
                    receiver.received.append(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Down: nothing listens on the port any more (connection refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA: the client trusts it via `ca_file`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "earshot-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class SmtpReceiver:
    """An aiosmtpd server on a free loopback port. `security`: none | starttls | ssl."""

    def __init__(self, security: str = "none", cert: tuple[Path, Path] | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.security = security
        self.cert = cert
        self.login = login
        self.port = free_port()
        self.received: list[Envelope] = []
        self.logins: list[str] = []
        self._controller = None
        self.start()

    def _tls(self) -> ssl.SSLContext:
        assert self.cert is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, self.cert))
        return context

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                message = email.message_from_bytes(envelope.original_content or envelope.content,
                                                   policy=email.policy.default)
                receiver.received.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos), message))
                return "250 Message accepted for delivery"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and receiver.login is not None
                  and (auth_data.login.decode(), auth_data.password.decode()) == receiver.login)
            if ok:
                receiver.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port}
        if self.security == "starttls":
            kwargs.update(tls_context=self._tls(), require_starttls=True)
        elif self.security == "ssl":
            kwargs.update(ssl_context=self._tls())
        if self.login:
            kwargs.update(authenticator=authenticator, auth_require_tls=True)
        self._controller = Controller(Handler(), **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            with contextlib.suppress(Exception):
                self._controller.stop()
            self._controller = None
