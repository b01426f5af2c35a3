"""Import Earshot's dashboards into Kibana through the saved-objects import API.

    python dashboards/import.py --kibana-url http://localhost:5601 [--space ID] [--index-prefix earshot] [--wait 300]

`POST /api/saved_objects/_import?overwrite=true` with the NDJSON as a multipart file and the
`kbn-xsrf` header Kibana requires. Running it again replaces the objects (same ids), so
it is safe in an init container. Credentials come from the environment only, never from
arguments (they would show in `ps` and shell history):

* `KIBANA_API_KEY`, sent as `Authorization: ApiKey ...`, or
* `KIBANA_USERNAME` + `KIBANA_PASSWORD` (basic auth).

`KIBANA_URL` can replace `--kibana-url`; `KIBANA_CA_CERTS` names a CA bundle for https.
With a non-default `store.elasticsearch.index_prefix`, pass `--index-prefix` so the data
views point at your indices.

Also a function: `import_dashboards(...)` (file name `import.py` is a keyword in Python,
so load it with `runpy`/`importlib` rather than `import`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_NDJSON = Path(__file__).with_name("earshot.ndjson")
DEFAULT_PREFIX = "earshot"


class DashboardImportError(RuntimeError):
    """Kibana refused the import (or could not be reached); the message says why, without credentials."""


@dataclass
class ImportResult:
    success_count: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def auth_headers(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    if key := environ.get("KIBANA_API_KEY"):
        return {"Authorization": f"ApiKey {key}"}
    return {}


def basic_auth(environ: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    user, password = environ.get("KIBANA_USERNAME"), environ.get("KIBANA_PASSWORD")
    if environ.get("KIBANA_API_KEY") or not user:
        return None
    if not password:
        raise DashboardImportError("KIBANA_USERNAME is set but KIBANA_PASSWORD is not")
    return (user, password)


def with_index_prefix(ndjson: str, prefix: str) -> str:
    """Point the data views at `prefix`'s indices (the file is written for the default `earshot`)."""
    if prefix == DEFAULT_PREFIX:
        return ndjson
    lines = []
    for line in ndjson.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj["type"] == "index-pattern":
            title = obj["attributes"]["title"]
            obj["attributes"]["title"] = prefix + title[len(DEFAULT_PREFIX):]
        lines.append(json.dumps(obj, sort_keys=True, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _safe(url: str) -> str:
    """The URL without any user:password@ it may carry, for messages."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl() if parts.hostname else url


def _base(kibana_url: str, space: str | None) -> str:
    url = kibana_url.rstrip("/")
    return f"{url}/s/{space}" if space and space != "default" else url


def wait_for_kibana(client: httpx.Client, kibana_url: str, timeout: float, interval: float = 5.0) -> None:
    """Poll `/api/status` until Kibana answers 200 (it returns 503 while starting)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            response = client.get(f"{kibana_url.rstrip('/')}/api/status")
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            raise DashboardImportError(f"Kibana at {_safe(kibana_url)} was not ready after {timeout:.0f}s ({last})")
        time.sleep(interval)


MIN_KIBANA = (8, 9)  # Lens' `formBased` datasource and by-reference panels; 9.x migrates them on import


def check_version(client: httpx.Client, kibana_url: str) -> None:
    """Refuse a Kibana too old for the saved objects, naming its version; unknown versions are let through."""
    try:
        response = client.get(f"{kibana_url.rstrip('/')}/api/status")
        number = str(response.json()["version"]["number"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return  # the import itself will say what is wrong
    parts = tuple(int(p) for p in number.split("-")[0].split(".")[:2] if p.isdigit())
    if len(parts) == 2 and parts < MIN_KIBANA:
        raise DashboardImportError(f"Kibana {number} at {_safe(kibana_url)}: the dashboards need Kibana 8.9 or later")


def import_dashboards(
    kibana_url: str,
    ndjson_path: Path = DEFAULT_NDJSON,
    *,
    space: str | None = None,
    index_prefix: str = DEFAULT_PREFIX,
    overwrite: bool = True,
    wait_seconds: float = 0,
    environ: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> ImportResult:
    """Import the NDJSON into Kibana; raises DashboardImportError unless every object imported."""
    environ = os.environ if environ is None else environ
    body = with_index_prefix(Path(ndjson_path).read_text(encoding="utf-8"), index_prefix)
    verify: bool | str = environ.get("KIBANA_CA_CERTS") or True
    with httpx.Client(auth=basic_auth(environ), headers=auth_headers(environ), timeout=timeout, verify=verify) as client:
        if wait_seconds:
            wait_for_kibana(client, kibana_url, wait_seconds)
        check_version(client, kibana_url)
        try:
            response = client.post(
                f"{_base(kibana_url, space)}/api/saved_objects/_import",
                params={"overwrite": "true"} if overwrite else {},
                headers={"kbn-xsrf": "true"},
                files={"file": ("earshot.ndjson", body.encode("utf-8"), "application/ndjson")},
            )
        except httpx.HTTPError as exc:
            raise DashboardImportError(f"could not reach Kibana at {_safe(kibana_url)}: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise DashboardImportError(
            f"Kibana refused the credentials (HTTP {response.status_code}); set KIBANA_API_KEY or KIBANA_USERNAME/KIBANA_PASSWORD"
        )
    if response.status_code != 200:
        raise DashboardImportError(f"Kibana answered HTTP {response.status_code}: {response.text[:500]}")
    payload = response.json()
    result = ImportResult(int(payload.get("successCount", 0)), list(payload.get("errors") or []))
    if not payload.get("success", False) or result.errors:
        details = "; ".join(
            f"{e.get('type')}/{e.get('id')}: {json.dumps(e.get('error'), sort_keys=True)}" for e in result.errors[:10]
        )
        raise DashboardImportError(f"Kibana imported {result.success_count} object(s) but rejected others: {details}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import Earshot's Kibana dashboards (credentials from the environment).")
    parser.add_argument("--kibana-url", default=os.environ.get("KIBANA_URL"), help="default: $KIBANA_URL")
    parser.add_argument("--file", type=Path, default=DEFAULT_NDJSON)
    parser.add_argument("--space", default=None, help="Kibana space id (default: the default space)")
    parser.add_argument("--index-prefix", default=os.environ.get("EARSHOT_INDEX_PREFIX", DEFAULT_PREFIX))
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait for Kibana to be ready first")
    args = parser.parse_args(argv)
    if not args.kibana_url:
        parser.error("--kibana-url or $KIBANA_URL is required")
    try:
        result = import_dashboards(
            args.kibana_url, args.file, space=args.space, index_prefix=args.index_prefix, wait_seconds=args.wait
        )
    except DashboardImportError as exc:
        print(f"dashboard import failed: {exc}", file=sys.stderr)
        return 1
    print(f"imported {result.success_count} saved object(s) into Kibana at {_safe(args.kibana_url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
