"""Alerts by email over SMTP: a plain-text and an HTML part, STARTTLS or implicit TLS.

The subject reads like `[Earshot CRITICAL] Brisa Mobile: negative x post spreading`, so
inbox rules can sort by severity and brand. The Message-ID is derived from the alert id:
if an alert is ever sent twice (a crash between sending and recording it), mail systems
that deduplicate by Message-ID show it once, and a human sees it is the same alert.

Security: `starttls` (default, port 587) refuses to continue if the server does not offer
STARTTLS; `ssl` is implicit TLS (port 465); `none` is for a local relay only and cannot be
combined with a password. Certificates are verified (`ca_file` for a private CA). The
password comes from the environment and appears in no error or log line.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from monitor.alerts.base import DeliveryError, header_value
from monitor.alerts.render import AlertView, view
from monitor.alerts.routing import EVERYTHING, Route
from monitor.alerts.secret import from_env
from monitor.alerts.transport import RetryPolicy, Transient, run_with_retries
from monitor.models import Alert, Mention, utcnow

if TYPE_CHECKING:
    from monitor.alerts.builtin import EmailSettings
    from monitor.alerts.channels import ChannelContext

log = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]
_COLOR = {"info": "#1d6fb8", "warning": "#b86e00", "critical": "#b3261e"}


def plain_text(v: AlertView) -> str:
    lines = [v.headline, "", v.reason, ""]
    if v.quote:
        if v.quote_title:
            lines.append(f"> {v.quote_title}")
        lines += [f"> {line}" if line else ">" for line in v.quote.splitlines()]
        lines.append("")
    lines += [f"{f.label}: {f.value}" for f in v.facts]
    if v.post_url or v.inbox_url:
        lines.append("")
    if v.post_url:
        lines.append(f"Open post: {v.post_url}")
    if v.inbox_url:
        lines.append(f"Open in Earshot: {v.inbox_url}")
    lines += ["", f"-- Earshot alert {v.alert.id}"]
    return "\n".join(lines) + "\n"


def html_text(v: AlertView) -> str:
    e = html.escape
    color = _COLOR[v.alert.severity.value]
    parts = [
        '<!DOCTYPE html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#1f1f1f;max-width:640px">',
        f'<h2 style="color:{color};margin:0 0 12px">{e(v.emoji)} {e(v.headline)}</h2>',
        f'<p style="margin:0 0 12px">{e(v.reason)}</p>',
    ]
    if v.quote:
        title = f"<strong>{e(v.quote_title)}</strong><br>" if v.quote_title else ""
        body = e(v.quote).replace("\n", "<br>")
        parts.append(f'<blockquote style="margin:0 0 12px;padding:8px 12px;border-left:4px solid {color};'
                     f'background:#f6f6f6">{title}{body}</blockquote>')
    if v.facts:
        rows = "".join(f'<tr><td style="padding:2px 12px 2px 0;color:#666">{e(f.label)}</td><td>{e(f.value)}</td></tr>'
                       for f in v.facts)
        parts.append(f'<table style="border-collapse:collapse;font-size:14px;margin:0 0 12px">{rows}</table>')
    links = []
    if v.post_url:
        links.append(f'<a href="{e(v.post_url)}" style="font-weight:bold">Open post</a>')
    if v.inbox_url:
        links.append(f'<a href="{e(v.inbox_url)}">Open in Earshot</a>')
    if links:
        parts.append(f'<p>{" &middot; ".join(links)}</p>')
    parts.append(f'<p style="color:#888;font-size:12px">Earshot alert {e(v.alert.id)}</p></body></html>')
    return "".join(parts)


# CRLF line ends, and no header folding: the stdlib's folding mangles subjects that start
# with "[" or mix in non-ASCII words (stray leading space, lost spaces); 998 is RFC 5322's limit.
POLICY = email.policy.SMTP.clone(max_line_length=998)


def message(v: AlertView, sender: str, to: Sequence[str]) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = v.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<{hashlib.sha256(v.alert.id.encode()).hexdigest()[:32]}@earshot.alert>"
    msg["X-Earshot-Alert"] = header_value(v.alert.id)
    msg["X-Earshot-Severity"] = v.alert.severity.value
    msg.set_content(plain_text(v))
    msg.add_alternative(html_text(v), subtype="html")
    return msg


class EmailChannel:
    """One SMTP relay and a fixed list of recipients (the outbox key is the recipient list)."""

    def __init__(
        self, host: str, port: int, *, sender: str, to: Sequence[str], security: Security = "starttls",
        username: str | None = None, password: str | None = None, ca_file: Path | None = None,
        route: Route = EVERYTHING, inbox_url: str | None = None, timeout: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if password and security == "none":
            raise ValueError("a password is never sent without TLS: use security starttls or ssl")
        self.host, self.port, self.security = host, port, security
        self.sender, self.to = sender, list(to)
        self.username, self._password = username, password
        self.ca_file = ca_file
        self.route = route
        self.inbox_url = inbox_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.name = f"email:{','.join(sorted(self.to))}"
        self.label = f"email:{host}:{port}"

    def __repr__(self) -> str:
        return f"EmailChannel({self.label} -> {', '.join(self.to)})"

    @classmethod
    def from_settings(cls, settings: EmailSettings, context: ChannelContext) -> EmailChannel:
        password = None
        if settings.password_env:
            password = from_env(settings.password_env, "the SMTP password", f"{context.key}.password_env",
                                settings.airflow_conn_id)
        return cls(
            settings.host, settings.effective_port, sender=settings.sender, to=settings.to,
            security=settings.security, username=settings.username, password=password,
            ca_file=context.resolve(settings.ca_file) if settings.ca_file else None,
            route=context.route, inbox_url=context.inbox_url, timeout=settings.timeout_seconds,
            retry=RetryPolicy(attempts=settings.attempts, sleep=context.sleep),
        )

    def send(self, alert: Alert, mention: Mention | None) -> None:
        msg = message(view(alert, mention, self.inbox_url), self.sender, self.to)
        run_with_retries(lambda: self._send_once(msg), self.retry, self.label)

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                smtp.starttls(context=self._tls())  # raises SMTPNotSupportedError if not offered
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _send_once(self, msg: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(msg, from_addr=parseaddr(self.sender)[1], to_addrs=self.to)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(f"{self.label} does not offer STARTTLS; not sending in clear text") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self.label} refused the login for {self.username} (SMTP {exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(400 <= c < 500 for c in codes):
                raise Transient(f"recipients deferred (SMTP {sorted(codes)})") from None
            raise DeliveryError(f"{self.label} refused the recipients {sorted(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
            if 400 <= exc.smtp_code < 500:
                raise Transient(f"SMTP {exc.smtp_code}") from None
            raise DeliveryError(f"{self.label} refused the alert (SMTP {exc.smtp_code})") from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"{self.label}: TLS certificate not trusted ({exc.verify_message});"
                                " set ca_file for a private CA") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"{self.label}: TLS failed ({exc.reason}); is `security` right for port"
                                f" {self.port}? (starttls: 587, ssl: 465)") from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, disconnected
            raise Transient(type(exc).__name__) from None
        if refused:
            log.warning("%s did not accept alert %s for %s", self.label, msg["X-Earshot-Alert"], sorted(refused))
