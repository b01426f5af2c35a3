"""Which addresses the UI will send a browser to: its own paths after an action, web pages for posts.

Both come from outside: `next` is a query or form value anyone can put in a link, and
a post's URL is whatever a source (an RSS feed, say) said. A browser is more lenient
than it looks: it drops tabs and newlines anywhere in a URL, turns `\\` into `/`, and
treats `//host` as another site, so `/%09/evil.example` (a tab once decoded) becomes
`//evil.example`. These checks therefore look at the value the way a browser will,
after percent-decoding, and allow only what is plainly safe; anything else falls back
(to `/`, or to showing a post's address as text).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MAX_NEXT_LENGTH = 2000
WEB_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_IGNORED = re.compile(r"[\t\n\r]")  # what the WHATWG URL parser removes wherever it appears
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))  # what it strips from both ends


def _layers(value: str, depth: int = 3) -> list[str]:
    """The value and its percent-decodings, until decoding changes nothing (at most `depth` times)."""
    layers = [value]
    for _ in range(depth):
        decoded = unquote(layers[-1])
        if decoded == layers[-1]:
            break
        layers.append(decoded)
    return layers


def _local_path(layer: str) -> bool:
    if not layer.startswith("/") or layer.startswith("//"):
        return False
    if "\\" in layer or not layer.isprintable():  # control characters, line separators, ...
        return False
    parts = urlsplit(layer)
    return not parts.scheme and not parts.netloc


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site however a browser decodes it; else `/`.

    Used for every redirect after a sign-in or an action, so a crafted link cannot
    send a signed-in person to another site.
    """
    if not value or len(value) > MAX_NEXT_LENGTH:
        return "/"
    if all(_local_path(layer) for layer in _layers(value)):
        return value
    return "/"


def web_link(url: object) -> str | None:
    """The address to put in an `href` if it is an http(s) page; None for anything else.

    A post's URL comes from its source; `javascript:`, `data:` or `vbscript:` (in any
    case, behind any whitespace) would run or show attacker content when clicked, so
    only web pages become links.
    """
    if not isinstance(url, str):
        return None
    candidate = _URL_IGNORED.sub("", url).strip(_C0_OR_SPACE)
    if not candidate.isprintable():
        return None
    scheme = _SCHEME.match(candidate)
    if scheme is None or scheme.group(1).lower() not in WEB_SCHEMES:
        return None
    try:
        host = urlsplit(candidate).netloc
    except ValueError:  # e.g. a malformed IPv6 literal
        return None
    return candidate if host else None
