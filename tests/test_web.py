"""The web UI against a real SQLite store filled by the real pipeline.

A keyword test double stands in for the sentiment model so these tests run in
about a second and need no weights; everything else (replay source, spread
detector, store, FastAPI app, templates) is the production code.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor import pipeline
from monitor.config import load_config, demo_config_path
from monitor.models import Alert, AlertState, Sentiment, SentimentLabel, Severity
from monitor.store import SQLiteStore
from monitor.web import create_app
from monitor.web.charts import nice_ceiling, sentiment_chart, source_chart
from monitor.web.templating import url_id

CRITICAL = "x:1991500000000000001:critical"
WARNING = "x:1991500000000000001:warning"
NEGATIVE_WORDS = ("charged me twice", "crashing", "scam", "desastre", "jelek", "pésimo", "lambat", "no signal")
POSITIVE_WORDS = ("love", "encanta", "mantap", "friendly", "funciona bien", "bagus")


class KeywordScorer:
    """Labels by keywords so tests need no model; "charged me twice" is negative, which makes the demo alert."""

    model_id = "keyword-test"

    def score(self, texts: list[str]) -> list[Sentiment]:
        results = []
        for text in texts:
            lowered = text.lower()
            if any(word in lowered for word in NEGATIVE_WORDS):
                results.append(Sentiment(label=SentimentLabel.negative, score=-0.9, model=self.model_id))
            elif any(word in lowered for word in POSITIVE_WORDS):
                results.append(Sentiment(label=SentimentLabel.positive, score=0.8, model=self.model_id))
            else:
                results.append(Sentiment(label=SentimentLabel.neutral, score=0.0, model=self.model_id))
        return results


@pytest.fixture
def config(tmp_path: Path):
    cfg = load_config(demo_config_path())
    cfg.base_dir = tmp_path
    return cfg


@pytest.fixture
def store(config, tmp_path: Path):
    store = SQLiteStore(tmp_path / "earshot.db")
    summary = pipeline.run_once(config, store, scorer=KeywordScorer(), channels=[])
    assert {a.id for a in summary.alerts} == {CRITICAL, WARNING}
    yield store
    store.close()


@pytest.fixture
def client(config, store) -> TestClient:
    return TestClient(create_app(config, store))


def _card(page: str, alert_id: str) -> str:
    """The HTML of one alert card, located by its data attribute."""
    start = page.index(f'data-alert-id="{alert_id}"')
    end = page.find("</article>", start)
    return page[start:end]


# -- the inbox page -------------------------------------------------------------


def test_inbox_lists_the_alert_with_post_reason_and_link(client, store):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    alert = store.get_alert(CRITICAL)
    mention = store.get_mention(alert.mention_id)
    card = _card(page.text, CRITICAL)
    assert html.escape(mention.text) in card
    assert html.escape(alert.reason) in card
    assert f'href="{mention.url}" target="_blank" rel="noopener noreferrer">Open post' in card
    assert "@dana_reyes" in card and "3,200 followers" in card
    assert "Critical" in card and "Brisa Mobile" in card and ">X<" in card and ">EN<" in card
    assert "Negative" in card and "−0.90" in card
    assert "22.8</strong>/min" in card
    assert "Nov 20, 09:30 UTC" in card
    assert f'action="/alerts/{url_id(CRITICAL)}/state"' in card
    assert 'value="acknowledged">Acknowledge</button>' in card and 'value="resolved">Resolve</button>' in card


def test_inbox_puts_the_most_severe_alert_first(client):
    page = client.get("/").text
    assert page.index(f'data-alert-id="{CRITICAL}"') < page.index(f'data-alert-id="{WARNING}"')
    assert "Escalated to critical" in _card(page, WARNING)
    assert "Escalated to" not in _card(page, CRITICAL)


def test_review_alert_shows_title_and_stars(client, store):
    review = store.get_mention("googleplay:gp-20003")
    store.add_alert(Alert(
        id=Alert.make_id(review.id, Severity.info), mention_id=review.id, brand=review.brand,
        severity=Severity.info, created_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC),
        reason="Info: 2-star review.", velocity_per_min=2.1, baseline_per_min=0.0,
    ))
    card = _card(client.get("/").text, "googleplay:gp-20003:info")
    assert 'aria-label="2 of 5 stars"' in card and "★★☆☆☆" in card
    assert ">ES<" in card and "Google Play" in card


def test_acknowledge_form_moves_the_alert_to_acknowledged(client, store):
    response = client.post(f"/alerts/{url_id(CRITICAL)}/state", data={"state": "acknowledged"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert store.get_alert(CRITICAL).state == AlertState.acknowledged
    page = client.get("/").text
    open_list = page[page.index('id="open-alerts"'):page.index('id="acknowledged-alerts"')]
    assert CRITICAL not in open_list and WARNING in open_list
    card = _card(page, CRITICAL)
    assert 'data-state="acknowledged"' in card
    assert ">Acknowledge</button>" not in card and ">Resolve</button>" in card


def test_resolving_every_alert_shows_the_empty_state(client):
    for alert_id in (CRITICAL, WARNING):
        assert client.post(f"/alerts/{url_id(alert_id)}/state", data={"state": "resolved"}).status_code == 200
    page = client.get("/").text
    assert "No open alerts." in page
    assert "data-alert-id" not in page


def test_state_form_rejects_unknown_ids_and_states(client):
    assert client.post("/alerts/x%3Anope%3Awarning/state", data={"state": "resolved"}).status_code == 404
    assert client.post(f"/alerts/{url_id(CRITICAL)}/state", data={"state": "bogus"}).status_code == 422


def test_alert_ids_with_slashes_round_trip(client, store):
    mention = store.get_mention("bluesky:3lbrisa0000001")
    odd_id = "bluesky:at://did:plc:abc/app.bsky.feed.post/3l:warning"
    store.add_alert(Alert(
        id=odd_id, mention_id=mention.id, brand=mention.brand, severity=Severity.warning,
        created_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC), reason="odd id", velocity_per_min=5, baseline_per_min=0,
    ))
    assert f'action="/alerts/{url_id(odd_id)}/state"' in client.get("/").text
    assert client.post(f"/alerts/{url_id(odd_id)}/state", data={"state": "acknowledged"}).status_code == 200
    assert client.get(f"/api/alerts/{url_id(odd_id)}").json()["state"] == "acknowledged"


def test_page_shows_totals_and_trend_charts(client, store):
    page = client.get("/").text
    assert f'id="stat-mentions">{store.count_mentions()}<' in page
    assert f'id="stat-snapshots">{store.count_snapshots()}<' in page
    assert 'id="stat-open">2<' in page
    for chart in ("chart-sentiment", "chart-sources"):
        assert f'<figure class="chart" id="{chart}">' in page
    assert page.count("<rect ") > 10
    assert "<title>Nov 20 09:00–10:00 UTC:" in page  # per-segment tooltips


def test_trend_window_links_change_the_window(client):
    page = client.get("/?hours=6").text
    assert '<a href="/?hours=6#trends" aria-current="true">' in page
    assert client.get("/?hours=0").status_code == 422


# -- assets ---------------------------------------------------------------------


class _AssetCollector(HTMLParser):
    """Every URL the browser would load on its own (not links a person clicks)."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline_styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed"} and values.get("src"):
            self.assets.append(values["src"])
        if tag == "link" and values.get("href"):
            self.assets.append(values["href"])
        if tag in {"image", "use"}:
            self.assets += [v for k, v in attrs if k in {"href", "xlink:href"} and v]
        if values.get("style"):
            self.inline_styles.append(values["style"])


def test_static_css_is_served(client):
    css = client.get("/static/earshot.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".alert-card" in css.text
    assert client.get("/static/favicon.svg").status_code == 200


def test_html_references_no_external_asset(client):
    page = client.get("/").text
    parser = _AssetCollector()
    parser.feed(page)
    assert parser.assets, "expected the stylesheet and favicon at least"
    external = [u for u in parser.assets if u.startswith(("http:", "https:", "//"))]
    assert external == []
    for asset in parser.assets:
        assert client.get(asset).status_code == 200, asset
    css = client.get("/static/earshot.css").text
    for text in [css, *parser.inline_styles]:
        assert "@import" not in text and "url(" not in text


# -- JSON API -------------------------------------------------------------------


def test_api_lists_inbox_alerts_with_mentions(client):
    alerts = client.get("/api/alerts").json()
    assert [a["id"] for a in alerts] == [CRITICAL, WARNING]  # newest first
    assert alerts[0]["mention"]["author_handle"] == "dana_reyes"
    assert "charged me twice" in alerts[0]["mention"]["text"]
    assert alerts[0]["mention"]["sentiment"]["label"] == "negative"
    assert len(client.get("/api/alerts", params={"limit": 1}).json()) == 1
    assert client.get("/api/alerts", params={"limit": 0}).status_code == 422
    assert client.get("/api/alerts", params={"state": "resolved"}).json() == []
    assert client.get("/api/alerts", params={"state": "nonsense"}).status_code == 422


def test_api_get_alert_by_id_with_colons(client):
    assert client.get(f"/api/alerts/{CRITICAL}").json()["severity"] == "critical"
    assert client.get(f"/api/alerts/{url_id(CRITICAL)}").json()["id"] == CRITICAL
    assert client.get("/api/alerts/x:nope:warning").status_code == 404


def test_api_state_change(client, store):
    response = client.post(f"/api/alerts/{CRITICAL}/state", json={"state": "acknowledged"})
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["mention"]["id"] == "x:1991500000000000001"
    assert store.get_alert(CRITICAL).state == AlertState.acknowledged
    assert [a["id"] for a in client.get("/api/alerts", params={"state": "acknowledged"}).json()] == [CRITICAL]
    assert client.post("/api/alerts/x:nope:warning/state", json={"state": "acknowledged"}).status_code == 404
    assert client.post(f"/api/alerts/{CRITICAL}/state", json={"state": "bogus"}).status_code == 422
    assert client.post(f"/api/alerts/{CRITICAL}/state", json={}).status_code == 422


def test_api_trend_and_stats(client, store):
    trend = client.get("/api/trend", params={"hours": 48}).json()
    assert trend["until"] == "2026-11-20T14:50:58Z"  # the newest observation, not the wall clock
    assert sum(p["count"] for p in trend["points"]) == store.count_mentions()
    assert {p["label"] for p in trend["points"]} <= {"negative", "neutral", "positive", "unscored"}
    short = client.get("/api/trend", params={"hours": 2}).json()
    assert short["since"] == "2026-11-20T13:00:00Z"
    assert all(p["bucket"] >= short["since"] for p in short["points"])
    assert client.get("/api/trend", params={"hours": 0}).status_code == 422

    stats = client.get("/api/stats").json()
    assert stats["mentions"] == store.count_mentions() and stats["snapshots"] == store.count_snapshots()
    assert stats["open_alerts"] == 2 and stats["alerts"]["acknowledged"] == 0
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_documents_typed_models(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"AlertOut", "StateChange", "TrendOut", "StatsOut", "Mention"} <= set(schemas)


# -- app factory and charts -------------------------------------------------------


def test_create_app_opens_the_configured_store(config, store):
    with TestClient(create_app(config)) as client:  # no store given: opened from config.store.path
        assert client.get("/api/stats").json()["mentions"] == store.count_mentions()


def test_empty_store_renders(config, tmp_path):
    with TestClient(create_app(config, SQLiteStore(tmp_path / "empty.db"))) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "No open alerts." in page.text and "No mentions in this window." in page.text


@pytest.mark.parametrize(("value", "expected"), [(0, (1, 1)), (3, (3, 1)), (7, (8, 2)), (23, (30, 10)), (100, (100, 50))])
def test_nice_ceiling(value, expected):
    assert nice_ceiling(value) == expected


def test_charts_stack_every_mention(store):
    points = store.trend()
    until = store.latest_observation()
    for chart in (sentiment_chart(points, until), source_chart(points, until)):
        assert chart.total == store.count_mentions()
        assert sum(int(s.title.rsplit(": ", 1)[1].split()[0]) for s in chart.segments) == chart.total
        assert all(chart.top - 0.01 <= s.y and s.y + s.height <= chart.bottom + 0.01 for s in chart.segments)
