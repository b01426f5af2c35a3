"""A loopback HTTP server that speaks the part of the Elasticsearch REST API Earshot uses.

Not a mock of the client: the real `elasticsearch` client talks HTTP to it, so product
checks (`X-Elastic-Product`), serialisation, bulk NDJSON, error bodies and retries are
all exercised. It applies composable index templates and enforces `dynamic: strict`
mappings and field types, so a document that does not match Earshot's mappings is
rejected as Elasticsearch would (with the document id in the reason).

Fault injection: `fail_bulk_item(doc_id, status, type, reason, times)` makes the next
`times` bulk operations on `doc_id` fail that way (429/503 to test retries, 400
`document_parsing_exception` to test error reporting).

It refuses what a real server refuses, so a test against it fails where production would:

* **Near-real-time search.** A write is visible to GET/`_mget` at once (real-time) but to
  `_search`/`_count` only after a refresh: `refresh=true`, `refresh=wait_for` (the fake
  refreshes then, instead of waiting for the next scheduled one), `POST _refresh`, or the
  index's `refresh_interval` (1 s) elapsing, checked when a search arrives. `refreshes`
  counts the refreshes each write asked for (what the bulk benchmark reports).
* **Unknown query parameters** are a 400 naming the parameter, as Elasticsearch answers,
  and `refresh` takes only `true`, `false`, `wait_for` or empty.
* **The compatibility header.** `compatible-with=N` in Accept/Content-Type must be the
  server's major version or the one before (`FakeElasticsearch(version="8.17.0")` refuses
  the `compatible-with=9` that elasticsearch-py 9 sends by default).
* **Mappings.** `dynamic: strict` and field types are enforced; a text field's `analyzer`
  must be one Elasticsearch has built in.

Text analysis: `standard` (lowercased words) and the built-in language analyzers, emulated
with Snowball stemmers and a short stop list (`_analyze` answers with the tokens); a
`multi_match` phrase query analyses the query with each field's own analyzer, as
Elasticsearch does, and `fields` may use wildcards (`text_lang.*`).

Simplifications: dates compare at millisecond precision like the `date` type (nanoseconds
for `date_nanos`); one writer at a time, so an update without `if_seq_no` never conflicts;
only the query/aggregation shapes Earshot sends; no scoring (hits come in their sort order).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PRODUCT_HEADERS = {"X-Elastic-Product": "Elasticsearch", "Content-Type": "application/json"}
REFRESH_VALUES = ("true", "false", "wait_for", "")
COMMON_PARAMS = {"pretty", "human", "error_trace", "filter_path"}
_INDEX_OPTIONS = {"allow_no_indices", "ignore_unavailable", "expand_wildcards"}
_SOURCE = {"_source", "_source_includes", "_source_excludes"}
# The query parameters each endpoint accepts (the subset of Elasticsearch's that matter here):
# anything else is refused, as the real server refuses it.
PARAMS: dict[str, set[str]] = {
    "_bulk": {"refresh", "routing", "timeout", "wait_for_active_shards", "pipeline", "require_alias",
              "require_data_stream", "list_executed_pipelines", *_SOURCE},
    "_search": {*_INDEX_OPTIONS, *_SOURCE, "size", "from", "sort", "seq_no_primary_term", "track_total_hits", "q",
                "routing", "preference", "search_type", "request_cache", "rest_total_hits_as_int", "typed_keys",
                "timeout", "version", "allow_partial_search_results", "scroll", "ignore_throttled"},
    "_count": {*_INDEX_OPTIONS, "q", "routing", "preference", "min_score", "terminate_after", "ignore_throttled"},
    "_mget": {"realtime", "refresh", "routing", "preference", "stored_fields", *_SOURCE},
    "_doc:get": {"realtime", "refresh", "routing", "preference", "stored_fields", "version", "version_type",
                 *_SOURCE},
    "_doc:write": {"refresh", "op_type", "if_seq_no", "if_primary_term", "routing", "timeout", "version",
                   "version_type", "wait_for_active_shards", "pipeline", "require_alias"},
    "_update": {"refresh", "retry_on_conflict", "if_seq_no", "if_primary_term", "routing", "timeout", "lang",
                "require_alias", "wait_for_active_shards", *_SOURCE},
    "_refresh": set(_INDEX_OPTIONS),
    "_analyze": {"index"},
}
SEARCHABLE_EVERY_MS = 1000  # `refresh_interval: 1s`: a write becomes searchable within a second

# Elasticsearch's built-in analyzers the fake can emulate: the Snowball stemmer closest to each
# language analyzer's, and the most frequent stop words (the real lists are longer).
# `english` is Porter's stemmer after dropping a possessive 's, as Elasticsearch's; `spanish` is
# Lucene's light Spanish stemmer, written out below (it does not reduce "facturación" to "factur").
LANGUAGE_STEMMERS = {
    "english": "porter", "spanish": "light_spanish", "indonesian": "indonesian", "portuguese": "portuguese",
    "french": "french", "german": "german", "italian": "italian", "arabic": "arabic", "hindi": "hindi",
}
STOP_WORDS = {
    "english": {"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
                "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
                "this", "to", "was", "will", "with"},
    "spanish": {"de", "la", "que", "el", "en", "y", "a", "los", "del", "se", "las", "por", "un", "para", "con",
                "no", "una", "su", "al", "lo", "mi", "me", "es"},
    "indonesian": {"yang", "dan", "di", "ke", "dari", "ini", "itu", "untuk", "dengan", "tidak", "saya", "ada"},
}
BUILT_IN_ANALYZERS = {"standard", "simple", "whitespace", "keyword", "stop", *LANGUAGE_STEMMERS}


class EsError(Exception):
    def __init__(self, status: int, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.type, self.reason = status, type_, reason

    def body(self) -> dict[str, Any]:
        err = {"type": self.type, "reason": self.reason}
        return {"error": {"root_cause": [err], **err}, "status": self.status}


@dataclass
class Doc:
    source: dict[str, Any]
    seq_no: int
    primary_term: int = 1
    version: int = 1


@dataclass
class Index:
    name: str
    properties: dict[str, Any]
    dynamic: Any
    settings: dict[str, Any]
    aliases: dict[str, Any]
    docs: dict[str, Doc] = field(default_factory=dict)
    seq: int = -1
    # What searches see: the documents as of the last refresh (GET and _mget read `docs`).
    visible: dict[str, Doc] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # ids written since the last refresh
    refreshed_at: float = 0.0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def refresh(self, now: float) -> bool:
        """Make what was written since the last refresh searchable (a new segment: cost ~ the writes)."""
        self.refreshed_at = now
        if not self.dirty:
            return False
        for doc_id in self.dirty:
            if doc_id in self.docs:
                self.visible[doc_id] = self.docs[doc_id]
            else:
                self.visible.pop(doc_id, None)
        self.dirty.clear()
        return True


def _millis(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)  # the `date` type keeps milliseconds


def _nanos(value: Any) -> int | None:
    """`date_nanos`: what sorts and compares (the fake keeps microseconds, all Python has)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value) * 1_000_000  # epoch millis
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    if delta.total_seconds() < 0:
        raise ValueError("date_nanos cannot hold dates before 1970")
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _values(source: dict[str, Any], path: str) -> list[Any]:
    """All values at a dotted path (arrays flattened), like a field in a query."""
    current: list[Any] = [source]
    for part in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                nxt += value if isinstance(value, list) else [value]
        current = nxt
    return [v for v in current if v is not None]


class FakeElasticsearch:
    def __init__(self, version: str = "9.0.0", clock: Any = None) -> None:
        import time

        self.version = version
        self.major = int(version.split(".")[0])
        self.clock = clock or time.monotonic
        self.refreshes = 0  # refreshes asked for by writes (refresh=true / wait_for) and by _refresh
        self.refresh_kinds: dict[str, int] = {}  # by kind: "true" (forced), "wait_for", "_refresh"
        self.indices: dict[str, Index] = {}
        self.index_templates: dict[str, dict[str, Any]] = {}
        self.component_templates: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.security: dict[str, dict[str, Any]] = {}  # "user/<name>", "role/<name>", "password/<user>"
        self.requests: list[dict[str, Any]] = []
        self.bulk_faults: dict[str, list[tuple[int, str, str]]] = {}
        self.lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = fake.handle(self.command, self.path, raw, {k.lower(): v for k, v in self.headers.items()})
                payload = b"" if body is None or self.command == "HEAD" else json.dumps(body).encode()
                self.send_response(status)
                for key, value in PRODUCT_HEADERS.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeElasticsearch:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_bulk_item(self, doc_id: str, status: int, type_: str, reason: str, times: int = 1) -> None:
        self.bulk_faults.setdefault(doc_id, []).extend([(status, type_, reason)] * times)

    def bulk_requests(self) -> list[list[dict[str, Any]]]:
        """The action lines of every _bulk request received, in order."""
        out = []
        for req in self.requests:
            if req["path"].endswith("/_bulk"):
                lines = [json.loads(line) for line in req["body"].splitlines() if line.strip()]
                out.append([line for line in lines if set(line) & {"index", "create", "update", "delete"}])
        return out

    # -- routing ------------------------------------------------------------------

    def handle(self, method: str, target: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        url = urlsplit(target)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        with self.lock:
            self.requests.append({"method": method, "path": url.path, "params": params, "body": raw.decode(), "headers": headers})
            try:
                self._check_compatibility(headers)
                self._check_params(method, url.path, parts, params)
                return self.route(method, parts, params, raw)
            except EsError as exc:
                return exc.status, exc.body()

    def _check_compatibility(self, headers: dict[str, str]) -> None:
        """`compatible-with=N` must be this major version or the previous one, as Elasticsearch checks."""
        for name in ("accept", "content-type"):
            found = re.search(r"compatible-with=(\d+)", headers.get(name, ""))
            if found and int(found.group(1)) not in (self.major, self.major - 1):
                raise EsError(400, "media_type_header_exception",
                              f"Invalid media-type value on headers [{name.title()}]: {name.title()} version must be "
                              f"either version {self.major} or {self.major - 1}, but found {found.group(1)}. "
                              f"{name.title()}={headers[name]}")

    def _check_params(self, method: str, path: str, parts: list[str], params: dict[str, str]) -> None:
        action = next((p for p in reversed(parts) if p in ("_bulk", "_search", "_count", "_mget", "_refresh",
                                                           "_analyze", "_update", "_create", "_doc")), None)
        if action in ("_doc", "_create"):
            action = "_doc:get" if method in ("GET", "HEAD") else "_doc:write"
        allowed = PARAMS.get(action or "")
        if allowed is None:
            return  # admin endpoints: not checked
        unknown = sorted(set(params) - allowed - COMMON_PARAMS)
        if unknown:
            raise EsError(400, "illegal_argument_exception",
                          f"request [{path}] contains unrecognized parameter{'s' if len(unknown) > 1 else ''}: "
                          + ", ".join(f"[{u}]" for u in unknown))
        if "refresh" in params and params["refresh"] not in REFRESH_VALUES:
            raise EsError(400, "illegal_argument_exception",
                          f"Unknown value for refresh: [{params['refresh']}].")

    # -- near-real-time -------------------------------------------------------------

    def _refresh_indices(self, indices: Iterator[Index] | list[Index]) -> None:
        now = self.clock()
        for index in indices:
            index.refresh(now)

    def _after_write(self, indices: set[str], refresh: str | None) -> None:
        """`refresh=true|wait_for|""`: the written indices are refreshed before the answer."""
        if refresh is None or refresh == "false":
            return
        self.refreshes += 1
        kind = "true" if refresh == "" else refresh
        self.refresh_kinds[kind] = self.refresh_kinds.get(kind, 0) + 1
        self._refresh_indices([self.indices[name] for name in sorted(indices) if name in self.indices])

    def _scheduled_refresh(self, indices: list[Index]) -> None:
        """The periodic refresh (`refresh_interval`) that would have happened by now."""
        now = self.clock()
        for index in indices:
            if index.dirty and (now - index.refreshed_at) * 1000 >= SEARCHABLE_EVERY_MS:
                index.refresh(now)

    def route(self, method: str, parts: list[str], params: dict[str, str], raw: bytes) -> tuple[int, Any]:
        body = json.loads(raw) if raw and not (parts and parts[-1] == "_bulk") else {}
        if not parts:
            return 200, {"name": "fake", "cluster_name": "fake", "version": {"number": self.version},
                         "tagline": "You Know, for Search"}
        head = parts[0]
        if head == "_analyze":
            return self.analyze(None, body)
        if head == "_mget":
            return self.mget(None, body)
        if head == "_refresh":
            self.refreshes += 1
            self.refresh_kinds["_refresh"] = self.refresh_kinds.get("_refresh", 0) + 1
            self._refresh_indices(list(self.indices.values()))
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if head == "_ilm" and len(parts) == 3:
            status, found = self._named(self.policies, method, parts[2], body)
            if method == "GET":
                found = {name: {"version": 1, "policy": policy.get("policy", {})} for name, policy in found.items()}
            return status, found
        if head == "_component_template" and len(parts) == 2:
            status, found = self._named(self.component_templates, method, parts[1], body)
            if method == "GET":
                found = {"component_templates": [{"name": n, "component_template": t} for n, t in found.items()]}
            return status, found
        if head == "_index_template" and len(parts) == 2:
            status, found = self._named(self.index_templates, method, parts[1], body)
            if method == "GET":
                found = {"index_templates": [{"name": n, "index_template": t} for n, t in found.items()]}
            return status, found
        if head == "_bulk":
            return self.bulk(raw, None, params)
        if head == "_security" and method in ("PUT", "POST"):
            if len(parts) == 4 and parts[1] == "user" and parts[3] == "_password":
                self.security[f"password/{parts[2]}"] = body
                return 200, {}
            if len(parts) == 3 and parts[1] in ("user", "role"):
                created = f"{parts[1]}/{parts[2]}" not in self.security
                self.security[f"{parts[1]}/{parts[2]}"] = body
                return 200, {"created": created} if parts[1] == "user" else {"role": {"created": created}}
        if len(parts) == 1:
            return self.index_admin(method, head, params, body)
        action = parts[1]
        if action == "_bulk":
            return self.bulk(raw, head, params)
        if action == "_search":
            return self.search(head, params, body)
        if action == "_count":
            return 200, {"count": sum(1 for _ in self._matching(head, params, body.get("query")))}
        if action == "_refresh":
            self.refreshes += 1
            self.refresh_kinds["_refresh"] = self.refresh_kinds.get("_refresh", 0) + 1
            self._refresh_indices(self.resolve(head, params))
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if action == "_mget":
            return self.mget(head, body)
        if action == "_analyze":
            return self.analyze(head, body)
        if action == "_mapping" and method in ("PUT", "POST"):
            return self.put_mapping(head, params, body)
        if action in ("_doc", "_create", "_update") and len(parts) == 3:
            return self.document(method, head, action, parts[2], params, body)
        raise EsError(400, "illegal_argument_exception", f"fake does not support {method} /{'/'.join(parts)}")

    def _named(self, store: dict[str, Any], method: str, name: str, body: Any) -> tuple[int, Any]:
        """PUT, DELETE, HEAD or GET one named policy or template; GET takes wildcards too."""
        if method == "PUT":
            store[name] = body
            return 200, {"acknowledged": True}
        found = {n: copy.deepcopy(store[n]) for n in sorted(store) if fnmatch.fnmatchcase(n, name)}
        if not found:
            raise EsError(404, "resource_not_found_exception", f"[{name}] not found")
        if method == "DELETE":
            if "*" in name:
                raise EsError(400, "illegal_argument_exception", "fake deletes by exact name only")
            del store[name]
            return 200, {"acknowledged": True}
        return 200, found

    # -- indices ------------------------------------------------------------------

    def resolve(self, target: str, params: dict[str, str]) -> list[Index]:
        ignore_unavailable = params.get("ignore_unavailable") == "true"
        found: dict[str, Index] = {}
        for name in target.split(","):
            if "*" in name:
                found.update({n: i for n, i in self.indices.items() if fnmatch.fnmatchcase(n, name)})
                continue
            hits = {n: i for n, i in self.indices.items() if n == name or name in i.aliases}
            if not hits and not ignore_unavailable:
                raise EsError(404, "index_not_found_exception", f"no such index [{name}]")
            found.update(hits)
        return [found[n] for n in sorted(found)]

    def _template_for(self, name: str) -> dict[str, Any] | None:
        matching = [
            t for t in self.index_templates.values()
            if any(fnmatch.fnmatchcase(name, p) for p in t.get("index_patterns", []))
        ]
        return max(matching, key=lambda t: t.get("priority", 0)) if matching else None

    def create_index(self, name: str, body: dict[str, Any]) -> Index:
        if name in self.indices:
            raise EsError(400, "resource_already_exists_exception", f"index [{name}] already exists")
        properties: dict[str, Any] = {}
        dynamic: Any = True
        settings: dict[str, Any] = {}
        aliases: dict[str, Any] = {}
        template = self._template_for(name)
        parts = []
        if template:
            parts = [self.component_templates[c]["template"] for c in template.get("composed_of", [])]
            parts.append(template.get("template", {}))
        parts.append(body)
        for part in parts:
            mappings = part.get("mappings") or {}
            properties = _deep_merge(properties, mappings.get("properties", {}))
            dynamic = mappings.get("dynamic", dynamic)
            settings = _deep_merge(settings, part.get("settings") or {})
            aliases.update(part.get("aliases") or {})
        self._check_analyzers(properties, "")
        index = Index(name, properties, dynamic, settings, aliases, refreshed_at=self.clock())
        self.indices[name] = index
        return index

    def _check_analyzers(self, properties: dict[str, Any], path: str) -> None:
        for name, spec in properties.items():
            if "properties" in spec:
                self._check_analyzers(spec["properties"], f"{path}{name}.")
                continue
            for key in ("analyzer", "search_analyzer"):
                if key in spec and spec[key] not in BUILT_IN_ANALYZERS:
                    raise EsError(400, "mapper_parsing_exception",
                                  f"Failed to parse mapping: analyzer [{spec[key]}] has not been configured in mappings")
            self._check_analyzers(spec.get("fields", {}), f"{path}{name}.")

    def index_admin(self, method: str, name: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if method == "PUT":
            self.create_index(name, body)
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if method == "DELETE":
            if "*" in name:
                raise EsError(400, "illegal_argument_exception", "Wildcard expressions or all indices are not allowed")
            for index in self.resolve(name, params):
                del self.indices[index.name]
            return 200, {"acknowledged": True}
        if method in ("GET", "HEAD"):
            return 200, {
                i.name: {"aliases": i.aliases, "mappings": {"dynamic": i.dynamic, "properties": i.properties}, "settings": i.settings}
                for i in self.resolve(name, params)
            }
        raise EsError(405, "method_not_allowed", method)

    def put_mapping(self, target: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        """Add fields to existing indices; changing a field's type is refused, as in Elasticsearch."""
        indices = self.resolve(target, params)
        if not indices and params.get("allow_no_indices") != "true":
            raise EsError(404, "index_not_found_exception", f"no such index [{target}]")
        self._check_analyzers(body.get("properties", {}), "")
        for index in indices:
            self._check_compatible(index.properties, body.get("properties", {}), "")
        for index in indices:
            index.properties = _deep_merge(index.properties, body.get("properties", {}))
            index.dynamic = body.get("dynamic", index.dynamic)
        return 200, {"acknowledged": True}

    def _check_compatible(self, current: dict[str, Any], new: dict[str, Any], path: str) -> None:
        for name, spec in new.items():
            old = current.get(name)
            if old is None:
                continue
            if "properties" in spec or "properties" in old:
                self._check_compatible(old.get("properties", {}), spec.get("properties", {}), f"{path}{name}.")
            elif old.get("type") != spec.get("type"):
                raise EsError(400, "illegal_argument_exception",
                              f"mapper [{path}{name}] cannot be changed from type [{old.get('type')}] to [{spec.get('type')}]")

    # -- documents ----------------------------------------------------------------

    def check(self, index: Index, doc_id: str, source: dict[str, Any]) -> None:
        self._check_object(index, doc_id, source, index.properties, "", index.dynamic)

    def _check_object(self, index: Index, doc_id: str, obj: Any, props: dict[str, Any], path: str, dynamic: Any) -> None:
        if not isinstance(obj, dict):
            raise EsError(400, "document_parsing_exception", f"object mapping [{path}] tried to parse a value as object in document with id '{doc_id}'")
        for key, value in obj.items():
            full = f"{path}{key}"
            spec = props.get(key)
            if spec is None:
                if str(dynamic).lower() == "strict":
                    raise EsError(400, "strict_dynamic_mapping_exception",
                                  f"[1:1] mapping set to strict, dynamic introduction of [{key}] within [{path.rstrip('.') or '_doc'}] is not allowed")
                continue
            if value is None:
                continue
            if "properties" in spec:
                self._check_object(index, doc_id, value, spec["properties"], f"{full}.", spec.get("dynamic", dynamic))
                continue
            for item in value if isinstance(value, list) else [value]:
                if not self._type_ok(spec["type"], item):
                    raise EsError(400, "document_parsing_exception",
                                  f"[1:1] failed to parse field [{full}] of type [{spec['type']}] in document with id '{doc_id}'")

    @staticmethod
    def _type_ok(type_: str, value: Any) -> bool:
        if type_ in ("keyword", "text"):
            return isinstance(value, str)
        if type_ in ("long", "integer", "short", "byte"):
            return isinstance(value, int) and not isinstance(value, bool)
        if type_ in ("float", "double"):
            return isinstance(value, int | float) and not isinstance(value, bool)
        if type_ in ("date", "date_nanos"):
            try:
                (_millis if type_ == "date" else _nanos)(value)
            except (ValueError, TypeError):
                return False
            return True
        if type_ == "boolean":
            return isinstance(value, bool)
        return True

    def _target_index(self, name: str) -> Index:
        if name in self.indices:
            return self.indices[name]
        for index in self.indices.values():
            if name in index.aliases:
                raise EsError(400, "illegal_argument_exception", f"no write index is defined for alias [{name}]")
        return self.create_index(name, {})  # auto-create, templates apply

    def write(self, op: str, index_name: str, doc_id: str, body: dict[str, Any], meta: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        index = self._target_index(index_name)
        existing = index.docs.get(doc_id)
        if_seq_no = meta.get("if_seq_no")
        if if_seq_no is not None:
            if existing is None or existing.seq_no != int(if_seq_no) or existing.primary_term != int(meta.get("if_primary_term", 1)):
                raise EsError(409, "version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, required seqNo [{if_seq_no}]")
        if op == "create" and existing is not None:
            raise EsError(409, "version_conflict_engine_exception", f"[{doc_id}]: version conflict, document already exists")
        if op == "delete":
            if existing is None:
                return 404, self._result(index, doc_id, None, "not_found")
            del index.docs[doc_id]
            index.dirty.add(doc_id)
            return 200, self._result(index, doc_id, existing, "deleted")
        if op == "update":
            if existing is None:
                if "upsert" not in body:
                    raise EsError(404, "document_missing_exception", f"[{doc_id}]: document missing")
                source = body["upsert"]
            else:
                source = _deep_merge(existing.source, body.get("doc", {}))
                if source == existing.source:
                    return 200, self._result(index, doc_id, existing, "noop")
        else:
            source = body
        self.check(index, doc_id, source)
        doc = Doc(copy.deepcopy(source), index.next_seq(), version=(existing.version + 1) if existing else 1)
        index.docs[doc_id] = doc
        index.dirty.add(doc_id)
        return (200 if existing else 201), self._result(index, doc_id, doc, "updated" if existing else "created")

    @staticmethod
    def _result(index: Index, doc_id: str, doc: Doc | None, result: str) -> dict[str, Any]:
        out: dict[str, Any] = {"_index": index.name, "_id": doc_id, "result": result,
                               "_shards": {"total": 1, "successful": 1, "failed": 0}}
        if doc is not None:
            out.update(_version=doc.version, _seq_no=doc.seq_no, _primary_term=doc.primary_term)
        return out

    def document(self, method: str, index_name: str, action: str, doc_id: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if action == "_doc" and method in ("GET", "HEAD"):
            index = self.indices.get(index_name)
            if index is None:
                raise EsError(404, "index_not_found_exception", f"no such index [{index_name}]")
            doc = index.docs.get(doc_id)
            if doc is None:
                return 404, {"_index": index_name, "_id": doc_id, "found": False}
            return 200, {"_index": index_name, "_id": doc_id, "_version": doc.version, "_seq_no": doc.seq_no,
                         "_primary_term": doc.primary_term, "found": True, "_source": copy.deepcopy(doc.source)}
        op = {"_create": "create", "_update": "update"}.get(action) or ("delete" if method == "DELETE" else params.get("op_type", "index"))
        try:
            status, result = self.write(op, index_name, doc_id, body, params)
        finally:
            self._after_write({index_name, *(i.name for i in self.indices.values() if index_name in i.aliases)},
                              params.get("refresh"))
        return status, result

    def bulk(self, raw: bytes, default_index: str | None, params: dict[str, str] | None = None) -> tuple[int, Any]:
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        items: list[dict[str, Any]] = []
        i = 0
        while i < len(lines):
            (op, meta), = lines[i].items()
            body = lines[i + 1] if op != "delete" else {}
            i += 1 if op == "delete" else 2
            index_name, doc_id = meta.get("_index", default_index), meta.get("_id")
            try:
                if doc_id in self.bulk_faults and self.bulk_faults[doc_id]:
                    raise EsError(*self.bulk_faults[doc_id].pop(0))
                status, result = self.write(op, index_name, doc_id, body, meta)
            except EsError as exc:
                err = {"type": exc.type, "reason": exc.reason}
                items.append({op: {"_index": index_name, "_id": doc_id, "status": exc.status, "error": err}})
                continue
            items.append({op: {**result, "status": status}})
        self._after_write({next(iter(it.values()))["_index"] for it in items}, (params or {}).get("refresh"))
        return 200, {"took": 1, "errors": any("error" in next(iter(it.values())) for it in items), "items": items}

    # -- search -------------------------------------------------------------------

    def _field_type(self, indices: list[Index], path: str) -> str | None:
        for index in indices:
            props: dict[str, Any] = index.properties
            spec: dict[str, Any] | None = None
            for part in path.split("."):
                spec = props.get(part) if props else None
                if spec is None:
                    break
                props = spec.get("properties", {})
            if spec is not None and "type" in spec:
                return spec["type"]
        return None

    def _field_spec(self, indices: list[Index], path: str) -> dict[str, Any] | None:
        for index in indices:
            props: dict[str, Any] = index.properties
            spec: dict[str, Any] | None = None
            for part in path.split("."):
                spec = props.get(part) if props else None
                if spec is None:
                    break
                props = spec.get("properties", {})
            if spec is not None:
                return spec
        return None

    def _analyzer_of(self, indices: list[Index], path: str) -> str:
        spec = self._field_spec(indices, path) or {}
        return spec.get("search_analyzer") or spec.get("analyzer") or "standard"

    def _expand_fields(self, indices: list[Index], fields: list[str]) -> list[str]:
        """`text_lang.*` to the mapped text fields it names, as Elasticsearch expands field patterns."""
        out: list[str] = []
        for pattern in fields:
            if "*" not in pattern:
                out.append(pattern)
                continue
            for index in indices:
                for path, type_ in _flat_types(index.properties).items():
                    if type_ == "text" and fnmatch.fnmatchcase(path, pattern) and path not in out:
                        out.append(path)
        return out

    def mget(self, default_index: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        """Real-time multi-get: sees every write, refreshed or not (as GET does)."""
        out = []
        for ref in body.get("docs", []):
            index_name, doc_id = ref.get("_index", default_index), ref["_id"]
            index = self.indices.get(index_name)
            if index is None:
                out.append({"_index": index_name, "_id": doc_id, "error": {
                    "type": "index_not_found_exception", "reason": f"no such index [{index_name}]"}})
                continue
            doc = index.docs.get(doc_id)
            if doc is None:
                out.append({"_index": index_name, "_id": doc_id, "found": False})
                continue
            out.append({"_index": index_name, "_id": doc_id, "_version": doc.version, "_seq_no": doc.seq_no,
                        "_primary_term": doc.primary_term, "found": True, "_source": copy.deepcopy(doc.source)})
        return 200, {"docs": out}

    def analyze(self, index_name: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        """`_analyze` with an `analyzer`, or a `field` of `index_name` (its mapped analyzer)."""
        if "field" in body:
            if index_name is None:
                raise EsError(400, "illegal_argument_exception", "analyzer [field] requires an index")
            analyzer = self._analyzer_of(self.resolve(index_name, {}), body["field"])
        else:
            analyzer = body.get("analyzer", "standard")
        if analyzer not in BUILT_IN_ANALYZERS:
            raise EsError(400, "illegal_argument_exception", f"failed to find global analyzer [{analyzer}]")
        texts = body.get("text", "")
        tokens = []
        position = 0
        for text in texts if isinstance(texts, list) else [texts]:
            for token in analyse(analyzer, text):
                tokens.append({"token": token, "start_offset": 0, "end_offset": 0, "type": "<ALPHANUM>",
                               "position": position})
                position += 1
        return 200, {"tokens": tokens}

    def _norm(self, indices: list[Index], path: str, value: Any) -> Any:
        type_ = self._field_type(indices, path)
        return _millis(value) if type_ == "date" else _nanos(value) if type_ == "date_nanos" else value

    def matches(self, indices: list[Index], query: dict[str, Any] | None, doc_id: str, source: dict[str, Any]) -> bool:
        if not query:
            return True
        (kind, spec), = query.items()
        if kind == "match_all":
            return True
        if kind == "ids":
            return doc_id in spec["values"]
        if kind == "term":
            (path, value), = spec.items()
            if isinstance(value, dict) and value.get("case_insensitive"):
                return str(value["value"]).casefold() in [str(v).casefold() for v in _values(source, path)]
            value = value.get("value") if isinstance(value, dict) else value
            return value in _values(source, path)
        if kind == "multi_match":
            prefix = spec.get("type") == "phrase_prefix"
            for path in self._expand_fields(indices, spec["fields"]):
                analyzer = self._analyzer_of(indices, path)
                wanted = analyse(analyzer, spec["query"])
                if any(_phrase_in(wanted, analyse(analyzer, value), prefix) for value in _values(source, path)):
                    return True
            return False
        if kind == "terms":
            (path, wanted), = spec.items()
            return any(v in wanted for v in _values(source, path))
        if kind == "exists":
            return bool(_values(source, spec["field"]))
        if kind == "range":
            (path, bounds), = spec.items()
            values = [self._norm(indices, path, v) for v in _values(source, path)]
            checks = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}
            return any(
                all(checks[op](v, self._norm(indices, path, bound)) for op, bound in bounds.items() if op in checks)
                for v in values
            )
        if kind == "bool":
            must = spec.get("must", []) + spec.get("filter", [])
            must = must if isinstance(must, list) else [must]
            must_not = spec.get("must_not", [])
            must_not = must_not if isinstance(must_not, list) else [must_not]
            should = spec.get("should", [])
            return (
                all(self.matches(indices, c, doc_id, source) for c in must)
                and not any(self.matches(indices, c, doc_id, source) for c in must_not)
                and (not should or any(self.matches(indices, c, doc_id, source) for c in should))
            )
        raise EsError(400, "parsing_exception", f"fake does not support query [{kind}]")

    def _matching(self, target: str, params: dict[str, str], query: dict[str, Any] | None) -> Iterator[tuple[Index, str, Doc]]:
        indices = self.resolve(target, params)
        self._scheduled_refresh(indices)
        for index in indices:
            for doc_id, doc in list(index.visible.items()):
                if self.matches(indices, query, doc_id, doc.source):
                    yield index, doc_id, doc

    def search(self, target: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        indices = self.resolve(target, params)
        hits = list(self._matching(target, params, body.get("query")))
        sort_spec = [next(iter(s.items())) if isinstance(s, dict) else (s, "asc") for s in body.get("sort", [])]
        sort_spec = [(f, o["order"] if isinstance(o, dict) else o) for f, o in sort_spec]

        def sort_values(source: dict[str, Any]) -> list[Any]:
            out = []
            for path, _ in sort_spec:
                values = _values(source, path)
                out.append(self._norm(indices, path, values[0]) if values else None)
            return out

        def key(values: list[Any]) -> tuple:
            # ascending: missing last; descending: reverse each comparable part
            parts = []
            for value, (_, order) in zip(values, sort_spec, strict=True):
                if value is None:
                    parts.append((1, 0))
                elif order == "desc":
                    parts.append((0, _Reverse(value)))
                else:
                    parts.append((0, value))
            return tuple(parts)

        rows = [(sort_values(doc.source), index, doc_id, doc) for index, doc_id, doc in hits]
        if sort_spec:
            rows.sort(key=lambda r: key(r[0]))
            if after := body.get("search_after"):
                rows = [r for r in rows if key(r[0]) > key(list(after))]
        size = int(body.get("size", params.get("size", 10)))
        includes = params.get("_source_includes")
        seq = body.get("seq_no_primary_term") or params.get("seq_no_primary_term") == "true"
        out = []
        for values, index, doc_id, doc in rows[int(body.get("from", 0)) : int(body.get("from", 0)) + size]:
            source = copy.deepcopy(doc.source)
            if includes:
                source = {k: v for k, v in source.items() if k in includes.split(",")}
            hit: dict[str, Any] = {"_index": index.name, "_id": doc_id, "_score": None, "_source": source}
            if sort_spec:
                hit["sort"] = values
            if seq:
                hit.update(_seq_no=doc.seq_no, _primary_term=doc.primary_term)
            out.append(hit)
        response: dict[str, Any] = {
            "took": 1, "timed_out": False, "_shards": {"total": len(indices), "successful": len(indices), "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(rows), "relation": "eq"}, "max_score": None, "hits": out},
        }
        if aggs := body.get("aggs") or body.get("aggregations"):
            response["aggregations"] = {name: self.aggregate(indices, spec, [(i, d, doc) for i, d, doc in hits]) for name, spec in aggs.items()}
        return 200, response

    def aggregate(self, indices: list[Index], spec: dict[str, Any], hits: list[tuple[Index, str, Doc]]) -> dict[str, Any]:
        if "composite" not in spec:
            raise EsError(400, "parsing_exception", "fake supports composite aggregations only")
        comp = spec["composite"]
        counts: dict[tuple, int] = {}
        names = [next(iter(source)) for source in comp["sources"]]
        for _, _, doc in hits:
            keys: list[list[Any]] = [[]]
            for source in comp["sources"]:
                (_, definition), = source.items()
                (kind, params), = definition.items()
                values = _values(doc.source, params["field"])
                if kind == "date_histogram":
                    width = _interval_millis(params.get("fixed_interval", ""))
                    values = [_millis(v) // width * width for v in values]
                if not values:
                    if not params.get("missing_bucket"):
                        keys = []
                        break
                    values = [None]
                keys = [k + [v] for k in keys for v in values]
            for k in keys:
                counts[tuple(k)] = counts.get(tuple(k), 0) + 1
        ordered = sorted(counts, key=lambda k: tuple((v is not None, v if v is not None else 0) for v in k))
        if after := comp.get("after"):
            after_key = tuple(after[n] for n in names)
            ordered = [k for k in ordered if tuple((v is not None, v if v is not None else 0) for v in k)
                       > tuple((v is not None, v if v is not None else 0) for v in after_key)]
        page = ordered[: comp.get("size", 10)]
        buckets = [{"key": dict(zip(names, k, strict=True)), "doc_count": counts[k]} for k in page]
        out: dict[str, Any] = {"buckets": buckets}
        if buckets:
            out["after_key"] = buckets[-1]["key"]
        return out


def _analysed(text: Any) -> list[str]:
    """Roughly the standard analyzer: lowercased words (no accent folding, as in Elasticsearch)."""
    return re.findall(r"[^\W_]+(?:['’][^\W_]+)*", str(text).lower())  # "customer's" stays one word


_stemmers: dict[str, Any] = {}


def analyse(analyzer: str, text: Any) -> list[str]:
    """The tokens `analyzer` makes of `text`: standard words, then (language analyzers) stop words out, stemmed."""
    words = _analysed(text)
    language = LANGUAGE_STEMMERS.get(analyzer)
    if language is None:
        return words
    stop = STOP_WORDS.get(analyzer, set())
    words = [w for w in words if w not in stop]
    if language == "light_spanish":
        return [_light_spanish(w) for w in words]
    if language == "porter":
        words = [w[:-2] if w.endswith(("'s", "’s")) else w for w in words]
    if language not in _stemmers:
        import snowballstemmer

        _stemmers[language] = snowballstemmer.stemmer(language)
    return [_stemmers[language].stemWord(w) for w in words]


_ACCENTS = str.maketrans("àáâäòóôöèéêëùúûüìíîï", "aaaaooooeeeeuuuuiiii")


def _light_spanish(word: str) -> str:
    """Lucene's SpanishLightStemmer (Elasticsearch's `light_spanish`): accents out, plural and gender endings off."""
    if len(word) < 5:
        return word
    w = word.translate(_ACCENTS)
    if w[-1] in "oae":
        return w[:-1]
    if w[-1] == "s":
        if w.endswith("ses") and w[-4] == "e":
            return w[:-2]
        if w[-3:-1] == "ce":
            return w[:-3] + "z"
        if w[-2] in "oae":
            return w[:-2]
    return w


def _flat_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in properties.items():
        if "properties" in spec:
            out.update(_flat_types(spec["properties"], f"{prefix}{name}."))
        elif "type" in spec:
            out[f"{prefix}{name}"] = spec["type"]
            for sub, sub_spec in spec.get("fields", {}).items():
                out[f"{prefix}{name}.{sub}"] = sub_spec.get("type", "")
    return out


def _phrase_in(wanted: list[str], words: list[str], prefix: bool) -> bool:
    """A `phrase` (or `phrase_prefix`: the last word may be the start of one) of tokens `wanted` in `words`."""
    if not wanted:
        return False
    for start in range(len(words) - len(wanted) + 1):
        window = words[start : start + len(wanted)]
        if window[:-1] == wanted[:-1] and (window[-1] == wanted[-1] or prefix and window[-1].startswith(wanted[-1])):
            return True
    return False


def _interval_millis(interval: str) -> int:
    """A fixed_interval such as 5m or 1h in milliseconds, refused as Elasticsearch refuses a bad one."""
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    number, unit = interval.rstrip("smhd"), interval[len(interval.rstrip("smhd")):]
    if not number.isdigit() or unit not in units or int(number) <= 0:
        raise EsError(400, "illegal_argument_exception", f"failed to parse setting [fixed_interval] with value [{interval}]")
    return int(number) * units[unit]


class _Reverse:
    """Inverts comparisons, for descending sorts."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return self.value > other.value

    def __gt__(self, other: _Reverse) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.value == other.value
