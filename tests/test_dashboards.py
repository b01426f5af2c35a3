"""Kibana saved objects (dashboards/earshot.ndjson) and their import script.

No Kibana here, so the NDJSON is checked the way Kibana would trip over it: every line
parses, every reference resolves, every Lens layer has its data view reference, every
field a visualization uses exists in the Elasticsearch mappings with a type the operation
accepts, and panels fit the 48-column grid. The import script runs against a loopback
fake Kibana that speaks the saved-objects import API.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.store.elasticsearch import templates as t

REPO = Path(__file__).resolve().parent.parent
NDJSON = REPO / "dashboards" / "earshot.ndjson"
NUMERIC = {"long", "integer", "short", "byte", "float", "double"}
DATA_VIEW_KIND = {"earshot-mentions": "mentions", "earshot-snapshots": "snapshots", "earshot-alerts": "alerts",
                  "earshot-ingest": "mentions", "earshot-quarantine": "quarantine"}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"earshot_dashboards_{name}", REPO / "dashboards" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build = _load("build")
importer = _load("import")


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines()]


def of_type(type_: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o["type"] == type_]


def fields_of(data_view_id: str) -> dict[str, str]:
    return t.field_types(t.KINDS_BY_NAME[DATA_VIEW_KIND[data_view_id]].properties)


# -- the file -----------------------------------------------------------------------


def test_every_line_is_a_saved_object_and_ids_are_unique():
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    assert lines and all(line.strip() for line in lines)
    seen = set()
    for line in lines:
        obj = json.loads(line)
        assert {"type", "id", "attributes", "references"} <= set(obj)
        assert obj["type"] in {"index-pattern", "lens", "dashboard", "search"}
        assert (obj["type"], obj["id"]) not in seen
        seen.add((obj["type"], obj["id"]))


def test_the_file_is_what_the_generator_writes():
    assert NDJSON.read_text(encoding="utf-8") == build.render(), "run: python dashboards/build.py"


def test_every_reference_resolves_to_an_object_in_the_file():
    present = {(o["type"], o["id"]) for o in objects()}
    for obj in objects():
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, f"{obj['id']} -> {ref}"


def test_data_views_cover_the_index_patterns_and_their_time_fields_are_dates():
    names = t.IndexNames()
    views = {o["id"]: o["attributes"] for o in of_type("index-pattern")}
    assert views["earshot-mentions"]["title"] == names.pattern("mentions")
    assert views["earshot-snapshots"]["title"] == names.pattern("snapshots")
    assert views["earshot-alerts"]["title"] == names.pattern("alerts")
    for view_id, attributes in views.items():
        assert fields_of(view_id)[attributes["timeFieldName"]] == "date"


def _kql_fields(kql: str) -> list[str]:
    return re.findall(r"([A-Za-z_][\w.]*)\s*(?::|<=|>=|<|>)", kql)


def _check_column(lens_id: str, fields: dict[str, str], column: dict[str, Any]) -> None:
    op, source = column["operationType"], column["sourceField"]
    if op == "count":
        assert source == "___records___", lens_id
    else:
        assert source in fields, f"{lens_id}: {source} is not in the mappings"
        type_ = fields[source]
        expected = {
            "date_histogram": {"date"},
            "terms": {"keyword"} | NUMERIC,
            "last_value": {"keyword", "date"} | NUMERIC,
        }.get(op, NUMERIC)  # average, median, max, min, sum
        assert type_ in expected, f"{lens_id}: {op} on {source} ({type_})"
    for name in _kql_fields((column.get("filter") or {}).get("query", "")):
        assert name in fields, f"{lens_id}: filter uses {name}"


def test_every_field_a_visualization_uses_exists_in_the_index_mappings():
    for lens in of_type("lens"):
        state = lens["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        refs = {r["name"]: r["id"] for r in lens["references"]}
        for layer_id, layer in layers.items():
            data_view = refs[f"indexpattern-datasource-layer-{layer_id}"]
            fields = fields_of(data_view)
            order = layer["columnOrder"]
            assert sorted(order) == sorted(layer["columns"])
            bucketed = [layer["columns"][c]["isBucketed"] for c in order]
            assert bucketed == sorted(bucketed, reverse=True), f"{lens['id']}: buckets before metrics"
            for column in layer["columns"].values():
                _check_column(lens["id"], fields, column)
                order = column.get("params", {}).get("orderBy", {})
                if order.get("type") == "column":
                    assert order["columnId"] in layer["columns"], lens["id"]
            for name in _kql_fields(state["query"]["query"]):
                assert name in fields, f"{lens['id']}: query uses {name}"


def _accessors(visualization: dict[str, Any]) -> list[str]:
    found = []
    for layer in visualization.get("layers", [visualization]):
        found += [layer.get(k) for k in ("xAccessor", "splitAccessor", "metricAccessor") if layer.get(k)]
        found += layer.get("accessors", []) + layer.get("primaryGroups", []) + layer.get("metrics", [])
        found += [c["columnId"] for c in layer.get("columns", [])]
    return found


def test_visualizations_only_show_columns_their_layer_defines():
    for lens in of_type("lens"):
        state = lens["attributes"]["state"]
        columns = {c for layer in state["datasourceStates"]["formBased"]["layers"].values() for c in layer["columns"]}
        used = _accessors(state["visualization"])
        assert used and set(used) <= columns, lens["id"]
        assert lens["attributes"]["visualizationType"] in {"lnsXY", "lnsPie", "lnsMetric", "lnsDatatable"}


def test_dashboards_place_every_visualization_on_the_grid_without_overlap():
    lens_ids = {o["id"] for o in of_type("lens")}
    placed = set()
    for dash in of_type("dashboard"):
        panels = json.loads(dash["attributes"]["panelsJSON"])
        refs = {r["name"]: r for r in dash["references"]}
        cells: set[tuple[int, int]] = set()
        for panel in panels:
            ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == "lens" and ref["id"] in lens_ids
            placed.add(ref["id"])
            grid = panel["gridData"]
            assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
            area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not cells & area, f"{dash['id']}: panel {panel['panelIndex']} overlaps"
            cells |= area
        json.loads(dash["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert placed == lens_ids


def test_the_dashboards_cover_what_the_care_team_asked_for():
    titles = " | ".join(o["attributes"]["title"].lower() for o in of_type("lens"))
    for topic in ("sentiment", "by source", "language", "share of voice", "negative posts", "first response", "resolve"):
        assert topic in titles, topic


# -- the import script against a loopback Kibana ----------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


class FakeKibana:
    """Speaks POST /api/saved_objects/_import (multipart, kbn-xsrf, auth) and GET /api/status.

    Like Kibana, it refuses an object saved by a newer Kibana than itself (its
    `coreMigrationVersion` or `typeMigrationVersion` is ahead of the server's) and an object
    of a type it does not know.
    """

    TYPES = {"index-pattern", "lens", "dashboard", "search", "visualization", "config"}

    def __init__(self, auth: str, not_ready: int = 0, version: str = "9.1.0") -> None:
        self.auth, self.not_ready, self.version = auth, not_ready, version
        self.saved: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if fake.not_ready:
                    fake.not_ready -= 1
                    return self._reply(503, {"status": {"overall": {"level": "unavailable"}}})
                self._reply(200, {"version": {"number": fake.version},
                                  "status": {"overall": {"level": "available"}}})

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers)})
                if self.headers.get("Authorization") != fake.auth:
                    return self._reply(401, {"statusCode": 401, "error": "Unauthorized", "message": "unauthorized"})
                if self.headers.get("kbn-xsrf") is None:
                    return self._reply(400, {"statusCode": 400, "message": "Request must contain a kbn-xsrf header."})
                if not url.path.endswith("/api/saved_objects/_import"):
                    return self._reply(404, {"statusCode": 404})
                message = BytesParser(policy=email_policy).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw
                )
                part = next(p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file")
                uploaded = [json.loads(line) for line in part.get_content().splitlines() if line.strip()]
                present = set(fake.saved) | {(o["type"], o["id"]) for o in uploaded}
                errors = []
                for obj in uploaded:
                    missing = [r for r in obj["references"] if (r["type"], r["id"]) not in present]
                    newer = [obj.get(k) for k in ("coreMigrationVersion", "typeMigrationVersion")
                             if obj.get(k) and _version(obj[k]) > _version(fake.version)]
                    if obj["type"] not in FakeKibana.TYPES:
                        errors.append({"id": obj["id"], "type": obj["type"], "error": {"type": "unsupported_type"}})
                    elif newer:
                        errors.append({"id": obj["id"], "type": obj["type"], "title": obj["attributes"].get("title"),
                                       "error": {"type": "unknown", "message": f"Document \"{obj['id']}\" has a "
                                                 f"migration version {newer[0]} newer than Kibana {fake.version}"}})
                    elif missing:
                        errors.append({"id": obj["id"], "type": obj["type"], "title": obj["attributes"].get("title"),
                                       "error": {"type": "missing_references", "references": missing}})
                    else:
                        fake.saved[(obj["type"], obj["id"])] = obj
                self._reply(200, {"success": not errors, "successCount": len(uploaded) - len(errors), "errors": errors})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


BASIC = {"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "changeme-kibana"}
BASIC_HEADER = "Basic ZWxhc3RpYzpjaGFuZ2VtZS1raWJhbmE="


@pytest.fixture
def kibana():
    server = FakeKibana(BASIC_HEADER)
    yield server
    server.close()


def test_import_posts_the_ndjson_with_the_xsrf_header_and_overwrite(kibana):
    result = importer.import_dashboards(kibana.url, environ=BASIC)
    assert result.ok and result.success_count == len(objects())
    request = kibana.requests[-1]
    assert request["path"] == "/api/saved_objects/_import" and request["query"] == {"overwrite": ["true"]}
    assert request["headers"]["kbn-xsrf"] == "true"
    assert ("dashboard", "earshot-alert-handling") in kibana.saved
    again = importer.import_dashboards(kibana.url, environ=BASIC)  # idempotent: same ids, overwritten
    assert again.success_count == result.success_count and len(kibana.saved) == len(objects())


def test_import_into_a_space_with_another_index_prefix_and_an_api_key():
    server = FakeKibana("ApiKey a2V5OnNlY3JldA==")
    try:
        importer.import_dashboards(server.url, space="care", index_prefix="brisa", environ={"KIBANA_API_KEY": "a2V5OnNlY3JldA=="})
        assert server.requests[-1]["path"] == "/s/care/api/saved_objects/_import"
        titles = {o["attributes"]["title"] for (type_, _), o in server.saved.items() if type_ == "index-pattern"}
        assert titles == {"brisa-mentions-*", "brisa-snapshots-*", "brisa-alerts", "brisa-quarantine"}
    finally:
        server.close()


def test_a_rejected_import_names_the_objects_and_bad_credentials_do_not_echo_the_password(kibana, tmp_path):
    broken = tmp_path / "broken.ndjson"
    dash = next(o for o in objects() if o["type"] == "dashboard")
    broken.write_text(json.dumps(dash) + "\n")
    with pytest.raises(importer.DashboardImportError, match="missing_references") as info:
        importer.import_dashboards(kibana.url, broken, environ=BASIC)
    assert dash["id"] in str(info.value)
    with pytest.raises(importer.DashboardImportError, match="refused the credentials") as info:
        importer.import_dashboards(kibana.url, environ={"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "wrong-secret"})
    assert "wrong-secret" not in str(info.value)


def test_the_script_waits_for_kibana_and_exits_non_zero_on_failure(kibana, monkeypatch, capsys):
    import httpx

    kibana.not_ready = 2
    with httpx.Client() as client:
        importer.wait_for_kibana(client, kibana.url, timeout=5, interval=0.01)
    assert kibana.not_ready == 0
    monkeypatch.setattr(importer.os, "environ", BASIC)
    assert importer.main(["--kibana-url", kibana.url]) == 0
    assert f"imported {len(objects())} saved object(s)" in capsys.readouterr().out
    monkeypatch.setattr(importer.os, "environ", {"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "nope"})
    assert importer.main(["--kibana-url", kibana.url]) == 1
    assert "nope" not in capsys.readouterr().err


@pytest.mark.parametrize("version", ["8.9.0", "8.17.2", "9.0.0", "9.1.3"])
def test_the_dashboards_import_into_kibana_8_and_9(version):
    server = FakeKibana(BASIC_HEADER, version=version)
    try:
        result = importer.import_dashboards(server.url, environ=BASIC)
        assert result.ok and result.success_count == len(objects())
    finally:
        server.close()


def test_an_object_from_a_newer_kibana_is_refused_by_an_older_one(tmp_path):
    newer = tmp_path / "newer.ndjson"
    view = dict(of_type("index-pattern")[0], coreMigrationVersion="9.2.0")
    newer.write_text(json.dumps(view) + "\n")
    server = FakeKibana(BASIC_HEADER, version="8.17.0")
    try:
        with pytest.raises(importer.DashboardImportError, match="newer than Kibana 8.17.0"):
            importer.import_dashboards(server.url, newer, environ=BASIC)
    finally:
        server.close()


def test_kibana_older_than_8_9_is_refused_with_a_clear_message():
    server = FakeKibana(BASIC_HEADER, version="8.6.2")
    try:
        with pytest.raises(importer.DashboardImportError, match="Kibana 8.9 or later"):
            importer.import_dashboards(server.url, environ=BASIC)
    finally:
        server.close()


# -- what a brand manager and an operator get without setup -------------------------------


def test_data_views_use_the_ecs_timestamp_and_render_urls_as_links():
    views = {o["id"]: o["attributes"] for o in of_type("index-pattern")}
    for view_id in ("earshot-mentions", "earshot-snapshots", "earshot-alerts"):
        assert views[view_id]["timeFieldName"] == "@timestamp"
    formats = json.loads(views["earshot-mentions"]["fieldFormatMap"])
    assert {name: f["id"] for name, f in formats.items()} == {"url": "url", "author_url": "url"}
    assert formats["url"]["params"]["type"] == "a"


def test_saved_searches_give_the_inbox_views_in_discover():
    searches = {o["id"]: o for o in of_type("search")}
    assert {"earshot-inbox-open", "earshot-inbox-critical", "earshot-inbox-unassigned",
            "earshot-inbox-health"} <= set(searches)
    fields = fields_of("earshot-alerts")
    for search in searches.values():
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert search["references"] == [{"type": "index-pattern", "id": "earshot-alerts",
                                         "name": source["indexRefName"]}]
        for name in _kql_fields(source["query"]["query"]) + search["attributes"]["columns"]:
            assert name in fields, f"{search['id']}: {name}"
        assert search["attributes"]["sort"] == [["@timestamp", "desc"]]


def test_the_pipeline_health_dashboard_shows_ingest_per_source_per_hour_errors_and_silence():
    dash = next(o for o in of_type("dashboard") if o["id"] == "earshot-pipeline-health")
    panels = {r["id"] for r in dash["references"]}
    assert {"earshot-ingest-by-source", "earshot-source-last-seen", "earshot-health-alerts",
            "earshot-quarantined-by-source"} == panels
    lens = next(o for o in of_type("lens") if o["id"] == "earshot-ingest-by-source")
    columns = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]["columns"]
    assert columns["when"]["sourceField"] == "first_seen_at" and columns["when"]["params"]["interval"] == "1h"
    assert columns["source"]["sourceField"] == "source"
