"""Keeping credentials that arrive in query strings out of uvicorn's access log.

A sign-in link carries a one-time code (`/login?code=...`), and a client may put a
token or password in a query string by mistake. The access log prints every request
line, so each query parameter whose name says it is secret has its whole value
replaced. Names are compared the way the app reads them (percent-decoded, `+` as a
space, any case), so `tok%65n=` or `Code=` is caught as surely as `token=`.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
# A parameter whose name contains one of these (letters and digits only, any case) is secret.
# ("key" covers api_key and apiKey, "auth" authorization; a false positive only hides a harmless value.)
SECRET_NAMES = ("token", "password", "passwd", "secret", "code", "key", "auth", "session", "csrf", "credential",
                "signature")
# name=value inside a query: after ? or &, up to the next separator or the end of the request target.
_PARAM = re.compile(r"(?<=[?&;])([^=&;\s\"'#]*)=([^&;\s]*)")


def _secret_name(raw: str) -> bool:
    name = raw
    for _ in range(3):  # doubly encoded names too: over-redacting a log costs nothing
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    letters = "".join(ch for ch in name.casefold() if ch.isalnum())
    return any(secret in letters for secret in SECRET_NAMES)


def redact_query(text: str) -> str:
    """`text` with the values of secret-looking query parameters replaced by `[redacted]`."""
    if "=" not in text:
        return text
    return _PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}" if _secret_name(m.group(1)) else m.group(0), text)


class RedactTokens(logging.Filter):
    """Redacts secret query values in a log record's message and arguments (uvicorn passes the path as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
