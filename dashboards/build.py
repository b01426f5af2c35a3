"""Generate dashboards/earshot.ndjson: Earshot's Kibana data views, Lens visualizations and dashboards.

The NDJSON is what gets imported (dashboards/import.py); this script is how it is
written, so ids, layer references and field names stay consistent. After editing:

    python dashboards/build.py          # rewrites dashboards/earshot.ndjson

tests/test_dashboards.py checks the file is what this script produces, that every
reference resolves, and that every field a visualization uses exists in the index
mappings (monitor/store/elasticsearch/templates.py).

Saved-object format: Kibana 8.9+ (Lens `formBased` datasource, by-reference panels);
Kibana 8.x and 9.x migrate it on import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("earshot.ndjson")
CORE_MIGRATION = "8.8.0"
TYPE_MIGRATION = {"index-pattern": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0", "search": "8.0.0"}

# Data view id -> (index pattern for the default prefix `earshot`, time field, display name).
# `@timestamp` (ECS): the post's time, the observation's, the alert's; Discover uses it as is.
DATA_VIEWS: dict[str, tuple[str, str, str]] = {
    "earshot-mentions": ("earshot-mentions-*", "@timestamp", "Earshot mentions"),
    "earshot-snapshots": ("earshot-snapshots-*", "@timestamp", "Earshot engagement snapshots"),
    "earshot-alerts": ("earshot-alerts", "@timestamp", "Earshot alerts"),
    # The same mentions by when Earshot stored them: ingest per source, and silence, are about that.
    "earshot-ingest": ("earshot-mentions-*", "first_seen_at", "Earshot ingest (by time stored)"),
    "earshot-quarantine": ("earshot-quarantine", "at", "Earshot quarantined records"),
}

# Fields shown as clickable links (Kibana's URL field format), per data view.
URL_FIELDS: dict[str, list[str]] = {"earshot-mentions": ["url", "author_url"], "earshot-ingest": ["url", "author_url"]}

NEGATIVE = 'sentiment.label : "negative" or rating <= 2'  # Mention.is_negative, in KQL


# -- Lens columns ----------------------------------------------------------------


def date_histogram(field_name: str, interval: str = "auto") -> dict[str, Any]:
    return {
        "label": field_name, "dataType": "date", "operationType": "date_histogram", "sourceField": field_name,
        "isBucketed": True, "scale": "interval",
        "params": {"interval": interval, "includeEmptyRows": True, "dropPartials": False},
    }


def count(label: str, kql: str | None = None) -> dict[str, Any]:
    column: dict[str, Any] = {
        "label": label, "customLabel": True, "dataType": "number", "operationType": "count",
        "sourceField": "___records___", "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True},
    }
    if kql:
        column["filter"] = {"query": kql, "language": "kuery"}
    return column


def stat(operation: str, field_name: str, label: str) -> dict[str, Any]:
    """average, median, max, min, sum of a numeric field."""
    return {
        "label": label, "customLabel": True, "dataType": "number", "operationType": operation,
        "sourceField": field_name, "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True},
    }


def top_values(field_name: str, label: str, order_by: str, size: int = 5, other: bool = True) -> dict[str, Any]:
    return {
        "label": label, "customLabel": True, "dataType": "string", "operationType": "terms", "sourceField": field_name,
        "isBucketed": True, "scale": "ordinal",
        "params": {
            "size": size, "orderBy": {"type": "column", "columnId": order_by}, "orderDirection": "desc",
            "otherBucket": other, "missingBucket": False, "parentFormat": {"id": "terms"},
        },
    }


def last_value(field_name: str, label: str, sort_field: str, data_type: str = "string") -> dict[str, Any]:
    return {
        "label": label, "customLabel": True, "dataType": data_type, "operationType": "last_value",
        "sourceField": field_name, "isBucketed": False, "scale": "ordinal",
        "params": {"sortField": sort_field, "showArrayValues": False},
    }


# -- Lens visualizations -----------------------------------------------------------


@dataclass
class Lens:
    id: str
    title: str
    data_view: str
    visualization_type: str
    columns: dict[str, dict[str, Any]]
    visualization: dict[str, Any]
    description: str = ""
    query: str = ""
    layer: str = "layer1"
    references: list[dict[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.references = [
            {"type": "index-pattern", "id": self.data_view, "name": f"indexpattern-datasource-layer-{self.layer}"}
        ]

    def column_order(self) -> list[str]:
        """Top values, then the date histogram, then metrics: the order Lens nests the aggregations in,
        so a breakdown's top values are ranked over the whole time range, not per interval."""
        rank = {"terms": 0, "date_histogram": 1}
        return sorted(self.columns, key=lambda c: rank.get(self.columns[c]["operationType"], 2))

    def saved_object(self) -> dict[str, Any]:
        state = {
            "datasourceStates": {
                "formBased": {
                    "layers": {
                        self.layer: {"columns": self.columns, "columnOrder": self.column_order(), "incompleteColumns": {}}
                    }
                }
            },
            "visualization": self.visualization,
            "query": {"query": self.query, "language": "kuery"},
            "filters": [],
            "internalReferences": [],
            "adHocDataViews": {},
        }
        return _saved("lens", self.id, {
            "title": self.title, "description": self.description, "visualizationType": self.visualization_type,
            "state": state,
        }, self.references)


def xy(series: str, x: str, ys: list[str], split: str | None = None, layer: str = "layer1") -> dict[str, Any]:
    data_layer: dict[str, Any] = {
        "layerId": layer, "layerType": "data", "seriesType": series, "xAccessor": x, "accessors": ys,
        "palette": {"type": "palette", "name": "default"},
    }
    if split:
        data_layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series,
        "layers": [data_layer],
    }


def donut(groups: list[str], metric: str, layer: str = "layer1") -> dict[str, Any]:
    return {
        "shape": "donut",
        "layers": [{
            "layerId": layer, "layerType": "data", "primaryGroups": groups, "metrics": [metric],
            "numberDisplay": "percent", "categoryDisplay": "default", "legendDisplay": "default", "nestedLegend": False,
        }],
    }


def metric_vis(accessor: str, layer: str = "layer1") -> dict[str, Any]:
    return {"layerId": layer, "layerType": "data", "metricAccessor": accessor}


def table(columns: list[str], layer: str = "layer1") -> dict[str, Any]:
    return {"layerId": layer, "layerType": "data", "columns": [{"columnId": c} for c in columns]}


HEALTH = 'kind : "health"'


def visualizations() -> list[Lens]:
    m, s, a, i, qr = "earshot-mentions", "earshot-snapshots", "earshot-alerts", "earshot-ingest", "earshot-quarantine"
    return [
        # --- pipeline health: is every source still bringing posts in?
        Lens("earshot-ingest-by-source", "Mentions stored per source per hour", i, "lnsXY",
             {"when": date_histogram("first_seen_at", "1h"), "n": count("Mentions stored"),
              "source": top_values("source", "Source", "n", size=10)},
             xy("bar_stacked", "when", ["n"], "source"),
             "By the time Earshot stored them: a source whose bars stop is silent or failing."),
        Lens("earshot-source-last-seen", "Newest post per source", i, "lnsDatatable",
             {"source": top_values("source", "Source", "n", size=20, other=False),
              "n": count("Stored"),
              "stored": last_value("first_seen_at", "Last stored", "first_seen_at", "date"),
              "posted": last_value("@timestamp", "Newest post", "@timestamp", "date")},
             table(["source", "n", "stored", "posted"]),
             "Silence: how long ago each source last brought a post in."),
        Lens("earshot-health-alerts", "Pipeline-health alerts by check", a, "lnsXY",
             {"when": date_histogram("@timestamp"), "n": count("Health alerts"),
              "check": top_values("topic", "Check", "n", size=6, other=False)},
             xy("bar_stacked", "when", ["n"], "check"),
             "A source failing, silent or erroring more, a channel not delivering.", query=HEALTH),
        Lens("earshot-quarantined-by-source", "Records set aside per source", qr, "lnsXY",
             {"when": date_histogram("at", "1h"), "n": count("Quarantined"),
              "source": top_values("source", "Source", "n", size=10)},
             xy("bar_stacked", "when", ["n"], "source"),
             "Input a source sent that could not be used (malformed, unsupported); `earshot quarantine` lists it."),
        # --- listening: sentiment, volume, languages, share of voice
        Lens("earshot-sentiment-over-time", "Mentions over time by sentiment", m, "lnsXY",
             {"when": date_histogram("@timestamp"), "n": count("Mentions"),
              "label": top_values("sentiment.label", "Sentiment", "n", size=3, other=False)},
             xy("bar_stacked", "when", ["n"], "label"),
             "Unscored mentions are not shown until the sentiment model has scored them."),
        Lens("earshot-sentiment-score", "Average sentiment score by brand", m, "lnsXY",
             {"when": date_histogram("@timestamp"), "score": stat("average", "sentiment.score", "Average sentiment (-1..1)"),
              "brand": top_values("brand", "Brand", "score", size=5)},
             xy("line", "when", ["score"], "brand")),
        Lens("earshot-volume-by-source", "Volume by source", m, "lnsXY",
             {"when": date_histogram("@timestamp"), "n": count("Mentions"),
              "source": top_values("source", "Source", "n", size=10)},
             xy("bar_stacked", "when", ["n"], "source")),
        Lens("earshot-volume-by-language", "Mentions by language", m, "lnsPie",
             {"lang": top_values("lang", "Language", "n", size=10), "n": count("Mentions")},
             donut(["lang"], "n")),
        Lens("earshot-share-of-voice-over-time", "Share of voice over time", m, "lnsXY",
             {"when": date_histogram("@timestamp"), "n": count("Mentions"),
              "brand": top_values("brand", "Brand", "n", size=10)},
             xy("area_percentage_stacked", "when", ["n"], "brand"),
             "Each brand's share of all mentions in the period."),
        Lens("earshot-share-of-voice", "Share of voice", m, "lnsPie",
             {"brand": top_values("brand", "Brand", "n", size=10), "n": count("Mentions")},
             donut(["brand"], "n")),
        Lens("earshot-negative-share-by-brand", "Negative mentions by brand", m, "lnsXY",
             {"when": date_histogram("@timestamp"), "neg": count("Negative mentions", NEGATIVE),
              "brand": top_values("brand", "Brand", "neg", size=10)},
             xy("line", "when", ["neg"], "brand")),
        Lens("earshot-negative-by-topic", "Negative mentions by topic", m, "lnsXY",
             {"when": date_histogram("@timestamp"), "n": count("Negative mentions"),
              "topic": top_values("topic", "Topic", "n", size=10)},
             xy("bar_stacked", "when", ["n"], "topic"),
             "What the complaints are about (the topics in the config); untagged posts are not shown.",
             query=NEGATIVE),
        # --- spreading negative posts
        Lens("earshot-top-negative-posts", "Top spreading negative posts", m, "lnsDatatable",
             {"url": top_values("url", "Post", "eng", size=20, other=False),
              "text": last_value("text.keyword", "Text", "@timestamp"),
              "brand": last_value("brand", "Brand", "@timestamp"),
              "source": last_value("source", "Source", "@timestamp"),
              "eng": stat("max", "engagement.total", "Engagement"),
              "author": last_value("author_url", "Author", "@timestamp"),
              "followers": stat("max", "author_followers", "Author followers")},
             table(["url", "text", "brand", "source", "eng", "author", "followers"]),
             "Negative posts and 1-2 star reviews, most engaged first.", query=NEGATIVE),
        Lens("earshot-engagement-growth", "Engagement growth of the most engaged posts", s, "lnsXY",
             {"when": date_histogram("@timestamp"), "eng": stat("max", "engagement.total", "Engagement"),
              "post": top_values("mention_id", "Post", "eng", size=5, other=False)},
             xy("line", "when", ["eng"], "post"),
             "The steeper the line, the faster the post spreads (weighted engagement: reposts and quotes count double)."),
        Lens("earshot-alerts-by-severity", "Spread alerts by severity", a, "lnsXY",
             {"when": date_histogram("@timestamp"), "n": count("Alerts"),
              "severity": top_values("severity", "Severity", "n", size=3, other=False)},
             xy("bar_stacked", "when", ["n"], "severity"), query="not " + HEALTH),
        Lens("earshot-alert-velocity", "Velocity of alerted posts", a, "lnsXY",
             {"when": date_histogram("@timestamp"), "v": stat("max", "velocity_per_min", "Velocity (per min)"),
              "b": stat("average", "baseline_per_min", "Brand baseline (per min)")},
             xy("line", "when", ["v", "b"])),
        # --- alert handling
        Lens("earshot-first-response-median", "Median time to first response (min)", a, "lnsMetric",
             {"ttfr": stat("median", "time_to_first_response_minutes", "Time to first response (min)")},
             metric_vis("ttfr")),
        Lens("earshot-resolve-median", "Median time to resolve (min)", a, "lnsMetric",
             {"ttr": stat("median", "time_to_resolve_minutes", "Time to resolve (min)")},
             metric_vis("ttr")),
        Lens("earshot-open-alerts", "Open alerts", a, "lnsMetric",
             {"open": count("Open alerts", 'state : "open"')},
             metric_vis("open")),
        Lens("earshot-dismissed-alerts", "Alerts dismissed as noise", a, "lnsMetric",
             {"noise": count("Dismissed as noise", 'state : "dismissed"')},
             metric_vis("noise"),
             "Alerts the care team dismissed (not about us, spam, duplicate): how detection gets tuned."),
        Lens("earshot-alerts-by-topic", "Alerts by topic", a, "lnsPie",
             {"topic": top_values("topic", "Topic", "n", size=10), "n": count("Alerts")},
             donut(["topic"], "n")),
        Lens("earshot-response-times", "Time to first response and to resolve", a, "lnsXY",
             {"when": date_histogram("@timestamp"),
              "ttfr": stat("median", "time_to_first_response_minutes", "Median time to first response (min)"),
              "ttr": stat("median", "time_to_resolve_minutes", "Median time to resolve (min)")},
             xy("line", "when", ["ttfr", "ttr"])),
        Lens("earshot-alerts-by-state", "Alerts by state", a, "lnsPie",
             {"state": top_values("state", "State", "n", size=5), "n": count("Alerts")},
             donut(["state"], "n")),
        Lens("earshot-response-by-team", "Response times by team", a, "lnsDatatable",
             {"team": top_values("team", "Team", "n", size=20),
              "n": count("Alerts"),
              "ttfr": stat("median", "time_to_first_response_minutes", "Median first response (min)"),
              "ttr": stat("median", "time_to_resolve_minutes", "Median resolve (min)"),
              "open": count("Still open", 'state : "open"')},
             table(["team", "n", "ttfr", "ttr", "open"])),
    ]


# -- dashboards ------------------------------------------------------------------


@dataclass
class Panel:
    lens_id: str
    x: int
    y: int
    w: int
    h: int


DASHBOARDS: list[tuple[str, str, str, list[Panel]]] = [
    ("earshot-listening", "Earshot: listening",
     "What people say about the brands: sentiment, volume by source and language, share of voice.", [
         Panel("earshot-sentiment-over-time", 0, 0, 32, 15),
         Panel("earshot-share-of-voice", 32, 0, 16, 15),
         Panel("earshot-sentiment-score", 0, 15, 24, 13),
         Panel("earshot-negative-share-by-brand", 24, 15, 24, 13),
         Panel("earshot-volume-by-source", 0, 28, 32, 13),
         Panel("earshot-volume-by-language", 32, 28, 16, 13),
         Panel("earshot-share-of-voice-over-time", 0, 41, 48, 13),
         Panel("earshot-negative-by-topic", 0, 54, 48, 13),
     ]),
    ("earshot-spread", "Earshot: spreading negative posts",
     "The negative posts that are taking off, and the alerts they raised.", [
         Panel("earshot-top-negative-posts", 0, 0, 48, 16),
         Panel("earshot-engagement-growth", 0, 16, 24, 14),
         Panel("earshot-alert-velocity", 24, 16, 24, 14),
         Panel("earshot-alerts-by-severity", 0, 30, 48, 12),
     ]),
    ("earshot-pipeline-health", "Earshot: pipeline health",
     "Is every source still bringing posts in? Ingest per source per hour, silence, errors and health alerts.", [
         Panel("earshot-ingest-by-source", 0, 0, 32, 15),
         Panel("earshot-source-last-seen", 32, 0, 16, 15),
         Panel("earshot-health-alerts", 0, 15, 24, 13),
         Panel("earshot-quarantined-by-source", 24, 15, 24, 13),
     ]),
    ("earshot-alert-handling", "Earshot: alert handling",
     "How fast the care team responds to alerts and resolves them, and what they dismiss as noise.", [
         Panel("earshot-first-response-median", 0, 0, 12, 8),
         Panel("earshot-resolve-median", 12, 0, 12, 8),
         Panel("earshot-open-alerts", 24, 0, 12, 8),
         Panel("earshot-dismissed-alerts", 36, 0, 12, 8),
         Panel("earshot-response-times", 0, 8, 32, 14),
         Panel("earshot-alerts-by-state", 32, 8, 16, 14),
         Panel("earshot-response-by-team", 0, 22, 32, 14),
         Panel("earshot-alerts-by-topic", 32, 22, 16, 14),
     ]),
]


def _saved(type_: str, id_: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": type_, "id": id_, "attributes": attributes, "references": references,
        "coreMigrationVersion": CORE_MIGRATION, "typeMigrationVersion": TYPE_MIGRATION[type_], "managed": False,
    }


def data_view(id_: str) -> dict[str, Any]:
    title, time_field, name = DATA_VIEWS[id_]
    attributes: dict[str, Any] = {"title": title, "name": name, "timeFieldName": time_field}
    if URL_FIELDS.get(id_):
        # Kibana's URL field format: the value rendered as a link, opened in a new tab.
        url = {"id": "url", "params": {"type": "a", "urlTemplate": None, "labelTemplate": None,
                                       "openLinkInCurrentTab": False}}
        attributes["fieldFormatMap"] = json.dumps({name_: url for name_ in URL_FIELDS[id_]}, sort_keys=True)
    return _saved("index-pattern", id_, attributes, [])


# Saved searches (Discover): the inbox's views, for whoever works from Kibana.
SEARCH_COLUMNS = ["severity", "brand", "reason", "state", "assignee", "topic"]
SAVED_SEARCHES: list[tuple[str, str, str]] = [
    ("earshot-inbox-open", "Earshot inbox: open alerts", 'state : "open" and not ' + HEALTH),
    ("earshot-inbox-critical", "Earshot inbox: critical open alerts", 'state : "open" and severity : "critical"'),
    ("earshot-inbox-unassigned", "Earshot inbox: open and unassigned", 'state : "open" and not assignee : *'),
    ("earshot-inbox-acknowledged", "Earshot inbox: acknowledged, not resolved", 'state : "acknowledged"'),
    ("earshot-inbox-resolved", "Earshot inbox: resolved and dismissed", 'state : ("resolved" or "dismissed")'),
    ("earshot-inbox-health", "Earshot: pipeline-health alerts", HEALTH),
]


def saved_search(id_: str, title: str, kql: str) -> dict[str, Any]:
    source = {"query": {"query": kql, "language": "kuery"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return _saved("search", id_, {
        "title": title, "description": "", "columns": SEARCH_COLUMNS, "sort": [["@timestamp", "desc"]],
        "grid": {}, "hideChart": False, "isTextBasedQuery": False,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, sort_keys=True)},
    }, [{"type": "index-pattern", "id": "earshot-alerts", "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}])


def dashboard(id_: str, title: str, description: str, panels: list[Panel]) -> dict[str, Any]:
    panels_json = []
    references = []
    for number, panel in enumerate(panels, start=1):
        index = str(number)
        panels_json.append({
            "type": "lens", "panelIndex": index, "panelRefName": f"panel_{index}",
            "gridData": {"x": panel.x, "y": panel.y, "w": panel.w, "h": panel.h, "i": index},
            "embeddableConfig": {"enhancements": {}},
        })
        references.append({"type": "lens", "id": panel.lens_id, "name": f"{index}:panel_{index}"})
    return _saved("dashboard", id_, {
        "title": title, "description": description,
        "panelsJSON": json.dumps(panels_json),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                   "syncTooltips": False, "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})},
    }, references)


def saved_objects() -> list[dict[str, Any]]:
    """Data views first, then visualizations, then dashboards: each refers only to what came before."""
    objects = [data_view(id_) for id_ in DATA_VIEWS]
    objects += [saved_search(*spec) for spec in SAVED_SEARCHES]
    objects += [lens.saved_object() for lens in visualizations()]
    objects += [dashboard(*spec) for spec in DASHBOARDS]
    return objects


def render() -> str:
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in saved_objects())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(saved_objects())} saved objects)")
