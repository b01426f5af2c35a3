"""Channel secrets: read from the environment variable the config names, never logged.

A secret only ever appears in the request that needs it. Names, labels, errors and logs
use the variable's name and a short fingerprint, which tells two secrets apart (for
example before and after a rotation) without revealing either. httpx logs every request
URL at INFO, and a Slack or Teams webhook URL *is* the credential, so every secret read
here is also redacted from the `httpx` logger's records.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading

from monitor.config import ConfigError

REDACTED = "<redacted>"


class ChannelConfigError(ConfigError):
    """An alert channel cannot be built: the message names the config key or the variable to set."""


def fingerprint(secret: str) -> str:
    """8 hex digits of SHA-256: enough to tell secrets apart, useless for recovering one."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def from_env(variable: str, what: str, key: str, conn_id: str | None = None, field: str = "password") -> str:
    """The value of `variable`, else field `field` of Airflow connection `conn_id`; registered for redaction.

    A clear error naming the variable (and the connection) when neither holds it.
    """
    value = os.environ.get(variable, "").strip()
    if not value and conn_id:
        from monitor.sources.credentials import from_airflow

        value = (from_airflow(conn_id, field) or "").strip()
    if not value:
        where = f" or the {field} of Airflow connection {conn_id!r}" if conn_id else ""
        raise ChannelConfigError(f"{key}: the environment variable {variable} ({what}){where} is not set")
    _register(value)
    return value


_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def _register(value: str) -> None:
    global _secrets
    import httpx  # the URL as httpx prints it may differ from the configured text (normalisation)

    forms = {value}
    try:
        url = httpx.URL(value)
        if url.scheme in ("http", "https"):
            forms |= {str(url), url.raw_path.decode("ascii", "replace")}
    except Exception:  # noqa: BLE001 - not a URL: the value itself is enough
        pass
    with _lock:
        _secrets = _secrets | {f for f in forms if len(f) >= 6 and f != "/"}


def redact(text: str) -> str:
    # Longest first, so a URL is replaced whole rather than leaving its host around a redacted path.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message contains a registered secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_filter = RedactSecrets()
for _name in ("httpx",):  # httpcore logs hosts and ports only, never the path
    if _filter not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_filter)
