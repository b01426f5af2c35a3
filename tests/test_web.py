"""The web UI against a real SQLite store filled by the real pipeline.

A keyword test double stands in for the sentiment model so these tests run in
about a second and need no weights; everything else (replay source, spread
detector, topic tagging, store, FastAPI app, auth, templates) is the production code.
Triage actions and metrics are in tests/test_triage.py.
"""

from __future__ import annotations

import html

import markupsafe
import logging
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor import pipeline
from monitor.config import WebUser
from monitor.models import Alert, AlertState, Severity
from monitor.store import SQLiteStore
from monitor.web import create_app
from monitor.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Authenticator,
    RedactTokens,
    safe_next,
)
from monitor.web.charts import nice_ceiling, sentiment_chart, source_chart
from monitor.web.templating import url_id
from tests.conftest import KeywordScorer, demo_config, set_aside_scam

CRITICAL = "x:1991500000000000001:critical"
WARNING = "x:1991500000000000001:warning"
INFO = "x:1991500000000000001:info"
VIRAL = "x:1991500000000000001"
SCAM = "x:1991500000000000200"  # the demo's refund scam riding on the complaint, flagged as spam
TOKEN = "test-token-0123456789abcdef"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # just after the demo's newest observation
class Clock:
    """A settable clock for the app: actions happen when the test says they do."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def config(tmp_path: Path):
    return demo_config(tmp_path)


@pytest.fixture
def store(config, tmp_path: Path):
    store = SQLiteStore(tmp_path / "earshot.db")
    summary = pipeline.run_once(config, store, scorer=KeywordScorer(), channels=[])
    scam = {f"{SCAM}:{s}" for s in ("info", "warning", "critical")}
    assert {a.id for a in summary.alerts} == {INFO, WARNING, CRITICAL, *scam}
    # The demo's refund scam (flagged as spam; tests/test_web_noise.py shows it in the inbox) is
    # taken out of these tests' inbox, so they read one case: the viral complaint.
    set_aside_scam(store, NOW - timedelta(hours=1))
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(config, store, clock):
    return create_app(config, store, clock=clock, environ={"EARSHOT_WEB_TOKEN": TOKEN})


def login(client: TestClient, name: str = "Dana", token: str = TOKEN) -> str:
    """Sign in through the login form, as a person does; returns the session's CSRF token."""
    form = client.get("/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    response = client.post("/login", data={"csrf_token": nonce, "mode": "token", "token": token, "name": name,
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def client(app) -> TestClient:
    """A browser-like client, signed in as "Dana"; its CSRF token is `client.csrf`."""
    c = TestClient(app)
    c.csrf = login(c)  # type: ignore[attr-defined]
    return c


@pytest.fixture
def api(app) -> TestClient:
    """A script-like client using the bearer token."""
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def _card(page: str, alert_id: str) -> str:
    """The HTML of one alert card, located by its data attribute."""
    start = page.index(f'data-alert-id="{alert_id}"')
    end = page.find("</article>", start)
    return page[start:end]


def post_form(client: TestClient, path: str, **data: str):
    return client.post(path, data={"csrf_token": client.csrf, **data}, follow_redirects=False)


# -- the inbox page -------------------------------------------------------------


def test_inbox_shows_one_card_per_post_with_post_reason_topic_and_link(client, store):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    alert = store.get_alert(CRITICAL)
    mention = store.get_mention(alert.mention_id)
    card = _card(page.text, CRITICAL)
    assert html.escape(mention.text) in card
    assert str(markupsafe.escape(alert.reason)) in card
    assert f'href="{mention.url}" target="_blank" rel="noopener noreferrer">Open post' in card
    assert "@dana_reyes" in card and "3,200 followers" in card
    assert "Critical" in card and "Brisa Mobile" in card and ">X<" in card and ">EN<" in card
    assert "Negative" in card and "−0.90" in card
    assert re.search(r"<strong>\d+\.\d</strong>/min", card)  # velocity, whatever the detector's tuning
    assert alert.created_at.strftime("%b %d, %H:%M UTC") in card
    assert f'action="/alerts/{url_id(CRITICAL)}/state"' in card
    assert 'value="acknowledged">Acknowledge</button>' in card and 'value="resolved">Resolve</button>' in card
    # Routing: the post was tagged billing, owned by Billing care; nobody has it yet.
    assert 'title="Topic">billing<' in card and "owner: Billing care" in card and "Unassigned" in card
    # The escalated post is one card (critical), with its escalation history, not three.
    assert f'data-alert-id="{WARNING}"' not in page.text and f'data-alert-id="{INFO}"' not in page.text
    assert f'data-alerts="{INFO} {WARNING} {CRITICAL}"' in card
    history = card[card.index('class="escalation"'):card.index("</ol>", card.index('class="escalation"'))]
    assert history.index("Info") < history.index("Warning") < history.index("Critical")


def test_review_alert_shows_title_and_stars(client, store):
    review = store.get_mention("googleplay:gp-20003")
    store.add_alert(Alert(
        id=Alert.make_id(review.id, Severity.info), mention_id=review.id, brand=review.brand,
        severity=Severity.info, created_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC),
        reason="Info: 2-star review.", velocity_per_min=2.1, baseline_per_min=0.0,
    ))
    page = client.get("/").text
    card = _card(page, "googleplay:gp-20003:info")
    assert 'aria-label="2 of 5 stars"' in card and "★★☆☆☆" in card
    assert ">ES<" in card and "Google Play" in card
    assert page.index(f'data-alert-id="{CRITICAL}"') < page.index('data-alert-id="googleplay:gp-20003:info"')


def test_acknowledging_a_card_acknowledges_every_alert_of_the_post(client, store):
    response = post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="acknowledged", next="/?severity=")
    assert response.status_code == 303
    assert response.headers["location"] == "/?severity="  # back where the agent was
    assert store.get_alert(CRITICAL).state == store.get_alert(WARNING).state == AlertState.acknowledged
    page = client.get("/").text
    assert 'id="open-alerts"' not in page and "No open alerts." in page
    card = _card(page, CRITICAL)
    assert page.index('id="acknowledged-alerts"') < page.index(f'data-alert-id="{CRITICAL}"')
    assert 'data-state="acknowledged"' in card
    assert ">Acknowledge</button>" not in card and ">Resolve</button>" in card
    assert 'id="stat-open">0<' in page and 'id="stat-acknowledged">1<' in page


def test_resolving_the_card_shows_the_empty_state(client, store):
    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="resolved").status_code == 303
    assert {store.get_alert(i).state for i in (CRITICAL, WARNING)} == {AlertState.resolved}
    page = client.get("/").text
    assert "No open alerts." in page
    assert "data-alert-id" not in page


def test_state_form_rejects_unknown_ids_states_and_moves(client):
    assert post_form(client, "/alerts/x%3Anope%3Awarning/state", state="resolved").status_code == 404
    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="bogus").status_code == 422
    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="open").status_code == 409  # already open


def test_alert_ids_with_slashes_round_trip(client, api, store):
    mention = store.get_mention("bluesky:3lbrisa0000001")
    odd_id = "bluesky:at://did:plc:abc/app.bsky.feed.post/3l:warning"
    store.add_alert(Alert(
        id=odd_id, mention_id=mention.id, brand=mention.brand, severity=Severity.warning,
        created_at=datetime(2026, 11, 20, 13, 0, tzinfo=UTC), reason="odd id", velocity_per_min=5, baseline_per_min=0,
    ))
    assert f'action="/alerts/{url_id(odd_id)}/state"' in client.get("/").text
    assert post_form(client, f"/alerts/{url_id(odd_id)}/state", state="acknowledged").status_code == 303
    assert api.get(f"/api/alerts/{url_id(odd_id)}").json()["state"] == "acknowledged"
    assert client.get(f"/alerts/{url_id(odd_id)}").status_code == 200


def test_page_shows_totals_metrics_and_trend_charts(client, store):
    page = client.get("/").text
    assert f'id="stat-mentions">{store.count_mentions()}<' in page
    assert f'id="stat-snapshots">{store.count_snapshots()}<' in page
    assert 'id="stat-open">1<' in page  # one post needs attention (two alerts)
    assert 'id="metrics"' in page and "First response" in page and "Dismissed as noise" in page
    for chart in ("chart-sentiment", "chart-sources"):
        assert f'<figure class="chart" id="{chart}">' in page
    assert page.count("<rect ") > 10
    assert "<title>Nov 20 09:00–10:00 UTC:" in page  # per-segment tooltips


def test_trend_and_metric_window_links_change_the_window_and_keep_filters(client):
    page = client.get("/?hours=6").text
    assert '<a href="/?hours=6#trends" aria-current="true">' in page
    assert '<a href="/?hours=6&amp;days=30#metrics"' in page
    filtered = client.get("/?topic=billing&days=30").text
    assert '<a href="/?hours=6&amp;days=30&amp;topic=billing#trends"' in filtered
    assert '<a href="/?days=30&amp;topic=billing#metrics" aria-current="true">' in filtered
    assert client.get("/?hours=0").status_code == 422
    assert client.get("/?days=0").status_code == 422


def test_inbox_filters_by_topic_team_assignee_severity_and_brand(client, store):
    review = store.get_mention("googleplay:gp-20003")
    store.add_alert(Alert(id=f"{review.id}:info", mention_id=review.id, brand=review.brand, severity=Severity.info,
                          created_at=datetime(2026, 11, 20, 14, 0, tzinfo=UTC), reason="2-star review",
                          topic="product quality", team="Digital product"))

    def shown(query: str) -> set[str]:
        return set(re.findall(r'<article class="alert-card[^>]*data-alert-id="([^"]+)"', client.get("/" + query).text))

    both = {CRITICAL, f"{review.id}:info"}
    assert shown("") == both
    assert shown("?topic=billing") == {CRITICAL}
    assert shown("?topic=product+quality") == {f"{review.id}:info"}
    assert shown("?team=Billing+care") == {CRITICAL}
    assert shown("?severity=info") == {f"{review.id}:info"}
    assert shown("?brand=Brisa+Mobile") == both and shown("?brand=Other") == set()
    assert shown("?assignee=unassigned") == both and shown("?assignee=me") == set()
    post_form(client, f"/alerts/{url_id(CRITICAL)}/assign", assignee="Dana")
    assert shown("?assignee=me") == {CRITICAL}  # signed in as Dana
    assert shown("?assignee=dana") == {CRITICAL}
    assert shown("?assignee=unassigned") == {f"{review.id}:info"}
    page = client.get("/?topic=billing").text
    assert 'id="filter-note">Showing 1 of 2 cases.' in page
    assert '<option value="billing" selected>' in page


# -- sign-in, sessions, CSRF ---------------------------------------------------------


def test_nothing_is_readable_without_signing_in(app, store):
    anonymous = TestClient(app)
    page = anonymous.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F"
    detail = anonymous.get(f"/alerts/{url_id(CRITICAL)}", headers={"accept": "text/html"}, follow_redirects=False)
    assert detail.headers["location"] == f"/login?next={url_id('/alerts/' + url_id(CRITICAL))}"
    for path in ("/api/alerts", f"/api/alerts/{CRITICAL}", "/api/metrics", "/api/stats", "/api/trend", "/api/topics",
                 "/openapi.json", "/docs", "/", f"/api/alerts/{CRITICAL}/events"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "charged" not in response.text
    for path, body in ((f"/alerts/{url_id(CRITICAL)}/state", {"state": "resolved"}),
                       (f"/alerts/{url_id(CRITICAL)}/assign", {"assignee": "x"}),
                       (f"/alerts/{url_id(CRITICAL)}/notes", {"text": "x"})):
        assert anonymous.post(path, data=body).status_code == 401
    assert anonymous.post(f"/api/alerts/{CRITICAL}/state", json={"state": "resolved"}).status_code == 401
    assert store.get_alert(CRITICAL).state == AlertState.open and store.alert_events([CRITICAL]) == []
    # Public: the health probe, the login page and static assets.
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert anonymous.get("/healthz", headers={"Authorization": "Bearer stale"}).status_code == 200
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/earshot.css").status_code == 200


def test_a_wrong_bearer_token_is_refused_even_with_a_session(client):
    assert client.get("/api/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/api/alerts").status_code == 200  # the session alone reads


def test_login_form_sets_a_signed_httponly_samesite_strict_cookie(app):
    browser = TestClient(app)
    form = browser.get("/login")
    assert "Sign in to Earshot" in form.text and 'name="token"' in form.text
    assert "samesite=strict" in form.headers["set-cookie"].lower()  # the login form's CSRF cookie
    nonce = csrf_of(form.text)
    wrong = browser.post("/login", data={"csrf_token": nonce, "token": "guess"})
    assert wrong.status_code == 401 and "That token is not valid." in wrong.text
    nonce = csrf_of(wrong.text)
    response = browser.post("/login", data={"csrf_token": nonce, "token": TOKEN, "name": "  Ana  García ",
                                            "next": "/?topic=billing"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/?topic=billing"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert TOKEN not in cookie
    page = browser.get("/").text
    assert 'class="user-name" title="Signed in as Ana García (via token)">Ana García<' in page


def test_login_form_needs_its_csrf_nonce(app):
    browser = TestClient(app)
    browser.get("/login")
    assert browser.post("/login", data={"csrf_token": "forged", "token": TOKEN}).status_code == 403
    fresh = TestClient(app)  # no login cookie at all: a cross-site form post
    assert fresh.post("/login", data={"csrf_token": "x", "token": TOKEN}).status_code == 403
    assert SESSION_COOKIE not in fresh.cookies


def test_tampered_or_expired_sessions_are_refused(app, client):
    good = client.cookies.get(SESSION_COOKIE)
    body, mac = good.split(".")
    forged = TestClient(app, cookies={SESSION_COOKIE: body[:-2] + "xx." + mac})
    assert forged.get("/api/alerts").status_code == 401
    auth: Authenticator = app.state.auth
    expired = auth.sign({"n": "Dana", "a": "Dana", "c": "c", "x": 1})
    assert TestClient(app, cookies={SESSION_COOKIE: expired}).get("/api/alerts").status_code == 401
    other_app = create_app(app.state.config, app.state.store, environ={"EARSHOT_WEB_TOKEN": TOKEN})
    assert TestClient(other_app, cookies={SESSION_COOKIE: good}).get("/api/alerts").status_code == 401  # new key


def test_every_form_post_checks_the_csrf_token(client, store):
    for path, data in ((f"/alerts/{url_id(CRITICAL)}/state", {"state": "resolved"}),
                       (f"/alerts/{url_id(CRITICAL)}/assign", {"assignee": "Mallory"}),
                       (f"/alerts/{url_id(CRITICAL)}/notes", {"text": "pwned"}),
                       ("/logout", {})):
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403, path
    assert store.get_alert(CRITICAL).state == AlertState.open
    assert store.get_alert(CRITICAL).assignee is None and store.alert_events([CRITICAL, WARNING]) == []
    assert client.get("/api/alerts").status_code == 200  # still signed in


def test_json_writes_with_a_session_need_the_csrf_header(client, store):
    path = f"/api/alerts/{CRITICAL}/state"
    assert client.post(path, json={"state": "acknowledged"}).status_code == 403
    assert client.post(path, json={"state": "acknowledged"}, headers={"X-CSRF-Token": "no"}).status_code == 403
    assert store.get_alert(CRITICAL).state == AlertState.open
    ok = client.post(path, json={"state": "acknowledged"}, headers={"X-CSRF-Token": client.csrf})
    assert ok.status_code == 200 and ok.json()["state"] == "acknowledged"


def test_logout_ends_the_session(client):
    response = post_form(client, "/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/api/alerts").status_code == 401


def test_password_users_sign_in_under_their_own_name(config, store):
    config.web.auth.users = [WebUser(username="ana", password_env="PW_ANA", display_name="Ana García"),
                             WebUser(username="luis", password_env="PW_LUIS")]
    app = create_app(config, store, environ={"PW_ANA": "correct horse"})  # no token, luis has no password set
    assert not app.state.auth.links_only and app.state.auth.token is None
    browser = TestClient(app)
    form = browser.get("/login").text
    assert 'id="password-login"' in form and 'id="token-login"' not in form

    def attempt(username: str, password: str):
        nonce = csrf_of(browser.get("/login").text)
        return browser.post("/login", data={"csrf_token": nonce, "mode": "password", "username": username,
                                            "password": password}, follow_redirects=False)

    assert attempt("ana", "wrong").status_code == 401
    assert attempt("luis", "").status_code == 401
    assert attempt("nobody", "correct horse").status_code == 401
    assert attempt("Ana", "correct horse").status_code == 303
    csrf = csrf_of(browser.get("/").text)
    browser.post(f"/alerts/{url_id(CRITICAL)}/notes", data={"csrf_token": csrf, "text": "on it"})
    assert [e.actor for e in store.alert_events([CRITICAL])] == ["Ana García"]
    # With no token at all, the API has no bearer to accept.
    assert TestClient(app, headers={"Authorization": "Bearer "}).get("/api/alerts").status_code == 401


def test_without_credentials_a_one_time_login_link_signs_in(config, store):
    app = create_app(config, store, environ={})
    auth: Authenticator = app.state.auth
    assert auth.links_only and auth.token is None  # no API token nobody was told about
    link = auth.login_url("0.0.0.0", 8000)
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/login\?code=[\w-]{40,}", link)
    code = link.split("code=")[1]
    assert auth.login_url("0.0.0.0", 8000) != link  # a new code at every call
    browser = TestClient(app)
    assert browser.get("/login?code=wrong").status_code == 401
    response = browser.get(f"/login?code={code}&next=/%3Fseverity%3Dcritical")
    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="0;url=/?severity=critical">' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert browser.get("/api/alerts").status_code == 200
    page = browser.get("/").text
    assert 'class="user-name" title="Signed in as token">token<' in page
    assert TestClient(app, headers={"Authorization": f"Bearer {code}"}).get("/api/stats").status_code == 401
    configured = create_app(config, store, environ={"EARSHOT_WEB_TOKEN": TOKEN}).state.auth
    assert configured.login_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/"  # a configured token is never printed


def test_next_never_leaves_the_site():
    assert safe_next("/alerts/x%3A1") == "/alerts/x%3A1"
    for bad in ("https://evil.example", "//evil.example", "/\\evil.example", "", None, "javascript:alert(1)"):
        assert safe_next(bad) == "/"


def test_tokens_never_reach_the_logs(config, store, caplog):
    app = create_app(config, store, environ={})
    code = app.state.auth.login_url("127.0.0.1", 8000).split("code=")[1]
    with caplog.at_level(logging.DEBUG):
        browser = TestClient(app)
        browser.get(f"/login?code={code}")
        browser.get("/login?code=wrong-guess")
        TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}).get("/api/alerts")
    server_side = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]  # not the test client
    assert server_side is not None and not any(code in line or TOKEN in line for line in server_side)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/login?token={TOKEN}&next=/", "1.1", 200), None)
    RedactTokens().filter(record)
    assert TOKEN not in record.getMessage() and "token=[redacted]&next=/" in record.getMessage()


def test_pages_send_security_headers(client):
    response = client.get("/")
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script" not in response.text


def test_login_cookie_is_not_a_session(app):
    browser = TestClient(app)
    browser.get("/login")
    assert LOGIN_COOKIE in browser.cookies
    browser.cookies.set(SESSION_COOKIE, browser.cookies.get(LOGIN_COOKIE))  # a signed value, but not a session
    assert browser.get("/api/alerts").status_code == 401


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


@pytest.mark.parametrize("path", ["/", f"/alerts/{url_id(CRITICAL)}", "/docs", "/login"])
def test_html_references_no_external_asset(client, path):
    page = client.get(path).text
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


def test_api_reference_page_is_offline_and_lists_the_endpoints(client):
    page = client.get("/docs").text
    for path in ("/api/alerts", "/api/alerts/{alert_id}/state", "/api/alerts/{alert_id}/assignee",
                 "/api/alerts/{alert_id}/notes", "/api/metrics"):
        assert f"<code>{path}</code>" in page
    assert "Authorization: Bearer" in page and "swagger" not in page.lower()


# -- JSON API -------------------------------------------------------------------


def test_api_lists_inbox_alerts_with_mentions(api):
    alerts = api.get("/api/alerts").json()
    assert [a["id"] for a in alerts] == [CRITICAL, WARNING, INFO]  # newest first
    assert alerts[0]["mention"]["author_handle"] == "dana_reyes"
    assert "charged me twice" in alerts[0]["mention"]["text"]
    assert alerts[0]["mention"]["sentiment"]["label"] == "negative"
    assert alerts[0]["mention"]["topic"] == "billing" and alerts[0]["mention"]["team"] == "Billing care"
    assert {"acknowledged_at", "resolved_at", "dismissed_at", "first_response_at", "assignee"} <= set(alerts[0])
    assert len(api.get("/api/alerts", params={"limit": 1}).json()) == 1
    assert api.get("/api/alerts", params={"limit": 0}).status_code == 422
    assert api.get("/api/alerts", params={"state": "resolved"}).json() == []
    assert api.get("/api/alerts", params={"state": "nonsense"}).status_code == 422
    assert [a["id"] for a in api.get("/api/alerts", params={"topic": "billing", "severity": "critical"}).json()] == [
        CRITICAL]
    assert api.get("/api/alerts", params={"team": "Logistics"}).json() == []
    assert api.get("/api/alerts", params={"severity": "loud"}).status_code == 422


def test_api_get_alert_by_id_with_colons(api):
    detail = api.get(f"/api/alerts/{CRITICAL}").json()
    assert detail["severity"] == "critical" and detail["events"] == []
    assert [a["id"] for a in detail["related"]] == [INFO, WARNING]
    assert api.get(f"/api/alerts/{url_id(CRITICAL)}").json()["id"] == CRITICAL
    assert api.get("/api/alerts/x:nope:warning").status_code == 404
    assert api.get("/api/alerts/x:nope:warning/events").status_code == 404


def test_api_state_change(api, store):
    response = api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "acknowledged"})
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["acknowledged_at"] == "2026-11-20T15:00:00Z"
    assert response.json()["mention"]["id"] == VIRAL
    assert store.get_alert(CRITICAL).state == AlertState.acknowledged
    assert store.get_alert(WARNING).state == AlertState.open  # apply_to defaults to this alert only
    assert [a["id"] for a in api.get("/api/alerts", params={"state": "acknowledged"}).json()] == [CRITICAL]
    assert api.post("/api/alerts/x:nope:warning/state", json={"state": "acknowledged"}).status_code == 404
    assert api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "bogus"}).status_code == 422
    assert api.post(f"/api/alerts/{CRITICAL}/state", json={}).status_code == 422
    assert api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "acknowledged"}).status_code == 409


def test_api_trend_and_stats(api, store):
    trend = api.get("/api/trend", params={"hours": 48}).json()
    assert trend["until"] == "2026-11-20T14:58:26Z"  # the newest observation, not the wall clock
    assert sum(p["count"] for p in trend["points"]) == store.count_mentions()
    assert {p["label"] for p in trend["points"]} <= {"negative", "neutral", "positive", "unscored"}
    short = api.get("/api/trend", params={"hours": 2}).json()
    assert short["since"] == "2026-11-20T13:00:00Z"
    assert all(p["bucket"] >= short["since"] for p in short["points"])
    assert api.get("/api/trend", params={"hours": 0}).status_code == 422

    stats = api.get("/api/stats").json()
    assert stats["mentions"] == store.count_mentions() and stats["snapshots"] == store.count_snapshots()
    assert stats["open_alerts"] == 3 and stats["alerts"]["acknowledged"] == 0
    assert api.get("/healthz").json() == {"status": "ok"}


def test_api_topics_lists_the_taxonomy(api):
    body = api.get("/api/topics").json()
    assert {"name": "billing", "team": "Billing care"} in body["topics"]
    assert "Logistics" in body["teams"]


def test_openapi_documents_typed_models_and_the_bearer_scheme(api):
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"AlertOut", "AlertDetailOut", "StateChange", "AssignmentIn", "NoteIn", "AlertEvent", "MetricsOut",
            "TrendOut", "StatsOut", "Mention"} <= set(schemas)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "/docs" not in spec["paths"] and "/login" not in spec["paths"]


# -- app factory and charts -------------------------------------------------------


def test_create_app_opens_the_configured_store(config, store):
    app = create_app(config, environ={"EARSHOT_WEB_TOKEN": TOKEN})  # no store given: opened from config.store.path
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.get("/api/stats").json()["mentions"] == store.count_mentions()


def test_empty_store_renders(config, tmp_path):
    app = create_app(config, SQLiteStore(tmp_path / "empty.db"), environ={"EARSHOT_WEB_TOKEN": TOKEN})
    with TestClient(app) as client:
        login(client)
        page = client.get("/")
        assert page.status_code == 200
        assert "No open alerts." in page.text and "No mentions in this window." in page.text
        assert client.get("/api/metrics").json()["alerts"] == 0


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


def test_quarantined_records_are_listed_in_the_ui_and_the_api(store, client, api):
    from monitor.quarantine import Quarantined

    store.ingest([], [], quarantine=[
        Quarantined("replay", "scenario.jsonl:17", "not valid UTF-8 (byte 5)", "caf\\xe9 <script>alert(1)</script>"),
    ])
    body = api.get("/api/quarantine").json()
    assert body["total"] == 1
    assert body["records"][0]["where"] == "scenario.jsonl:17" and body["records"][0]["at"]
    page = client.get("/quarantine")
    assert page.status_code == 200
    assert "scenario.jsonl:17" in page.text and "not valid UTF-8" in page.text
    assert "<script>alert(1)" not in page.text  # raw input is shown as text, never markup
