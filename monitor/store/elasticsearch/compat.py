"""Talking to Elasticsearch 8.x and 9.x with one client: the compatibility header follows the server.

elasticsearch-py 9 sends `Accept`/`Content-Type: application/vnd.elasticsearch+json;
compatible-with=9` on every request, and an 8.x server refuses that with a 400
(`media_type_header_exception`: "must be either version 8 or 7"). So each connection asks
the server its version once, with a plain `GET /` before its first request, and rewrites
`compatible-with=` to the server's major version from then on. When the version cannot be
read that way (an API key without the `monitor` privilege gets a 403 on `GET /`), the
server's own refusal names the versions it accepts, and the request is sent again once with
the right one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._models import DEFAULT

__all__ = ["VersionedNode", "compat_header"]

_COMPAT = re.compile(r"compatible-with=\d+")
_ACCEPTED = re.compile(r"must be either version (\d+)")
HEADERS = ("accept", "content-type")


def compat_header(value: str, major: int) -> str:
    """`value` asking for API compatibility with `major` (other media-type parameters kept)."""
    return _COMPAT.sub(f"compatible-with={major}", value)


def major_of(version: str) -> int | None:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


class VersionedNode(Urllib3HttpNode):
    """A urllib3 node that sends the compatibility header of the server it talks to."""

    major: int | None = None  # the server's major version, once known
    _probed = False

    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: HttpHeaders | None = None, request_timeout: Any = DEFAULT) -> Any:
        if not self._probed:
            self._probed = True
            self.major = self._probe(headers, request_timeout)
        response = super().perform_request(method, target, body, self._rewrite(headers), request_timeout)
        if response.meta.status == 400 and b"media_type_header_exception" in response.body:
            accepted = _ACCEPTED.search(response.body.decode("utf-8", "replace"))
            if accepted and int(accepted.group(1)) != self.major:
                self.major = int(accepted.group(1))
                response = super().perform_request(method, target, body, self._rewrite(headers), request_timeout)
        return response

    def _rewrite(self, headers: HttpHeaders | None) -> HttpHeaders | None:
        if headers is None or self.major is None:
            return headers
        out = headers.copy()
        for name in HEADERS:
            if name in out:
                out[name] = compat_header(out[name], self.major)
        return out

    def _probe(self, headers: HttpHeaders | None, request_timeout: Any) -> int | None:
        """The server's major version from `GET /` (its credentials, no compatibility header), or None."""
        plain = HttpHeaders({k: v for k, v in (headers or {}).items() if k.lower() not in HEADERS})
        plain["accept"] = "application/json"
        try:
            response = super().perform_request("GET", "/", None, plain, request_timeout)
            if response.meta.status != 200:
                return None
            return major_of(str(json.loads(response.body)["version"]["number"]))
        except Exception:  # noqa: BLE001 - unreachable now: the real request reports it; the refusal path remains
            return None
