"""Replying from the alert page and the API, through the fake X: the panel, saved replies, failures, metrics."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient

from monitor.replies.settings import SavedReply
from monitor.web import create_app
from monitor.web.templating import url_id
from tests.sources.fakes.x_api import FakeX
from tests.test_web import (  # noqa: F401 - fixtures, used by name
    CRITICAL, NOW, TOKEN, VIRAL, WARNING, Clock, clock, config, csrf_of, login, post_form, store,
)

NATIVE = VIRAL.split(":", 1)[1]


@pytest.fixture
def fake_x():
    fake = FakeX()
    fake.start()
    fake.publish(NATIVE, "Brisa Mobile charged me twice", NOW)
    yield fake
    fake.stop()


def _creds(fake: FakeX) -> dict[str, str]:
    return {"EARSHOT_WEB_TOKEN": TOKEN, "EARSHOT_X_CONSUMER_KEY": fake.consumer_key,
            "EARSHOT_X_CONSUMER_SECRET": fake.consumer_secret, "EARSHOT_X_ACCESS_TOKEN": fake.access_token,
            "EARSHOT_X_ACCESS_TOKEN_SECRET": fake.access_token_secret}


@pytest.fixture
def app(config, store, clock, fake_x):
    config.replies.platforms["x"] = {"api_base_url": fake_x.base_url}
    config.replies.saved = [
        SavedReply(name="Billing (es)", lang="es", topic="billing", text="Hola {author}, lo sentimos."),
        SavedReply(name="Billing refund", lang="en", topic="billing",
                   text="Hi {author}, sorry about the double charge. {agent} from {brand} care will refund it."),
        SavedReply(name="Generic", text="Hi {author}, please DM us."),
    ]
    return create_app(config, store, clock=clock, environ=_creds(fake_x))


@pytest.fixture
def client(app) -> TestClient:
    c = TestClient(app)
    c.csrf = login(c)  # type: ignore[attr-defined]
    return c


def _page(client: TestClient, alert_id: str = CRITICAL, query: str = "") -> str:
    response = client.get(f"/alerts/{url_id(alert_id)}{query}")
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def test_the_alert_page_offers_saved_replies_for_the_posts_language_and_topic(client):
    page = _page(client)
    assert 'id="reply-send"' in page and "disabled" not in page.split('id="reply-send"')[1][:40]
    names = [n for n in ("Billing refund", "Generic", "Billing (es)") if n in page]
    assert names == ["Billing refund", "Generic"]  # the Spanish one is not for an English post
    filled = _page(client, query="?use=0")
    assert "Hi dana_reyes, sorry about the double charge. Dana from Brisa Mobile care will refund it.</textarea>" in filled


def test_reply_from_the_page_is_posted_linked_and_the_first_response(client, fake_x, clock, store):
    clock.advance(minutes=7)
    response = post_form(client, f"/alerts/{url_id(CRITICAL)}/reply", text="Hi Dana, refunded today.",
                         next=f"/alerts/{url_id(CRITICAL)}")
    assert response.status_code == 303 and response.headers["location"].endswith("#replies")
    assert [t.text for t in fake_x.replies_to(NATIVE)] == ["Hi Dana, refunded today."]
    page = _page(client)
    assert 'data-status="posted"' in page and "https://x.com/i/web/status/" in page
    assert "reply posted" in page and 'class="tl-reply-link"' in page  # the audit trail, with the link
    for alert_id in (CRITICAL, WARNING):  # every alert of the post is answered
        alert = store.get_alert(alert_id)
        assert alert.first_response_at == NOW + __import__("datetime").timedelta(minutes=7)
        assert alert.state.value == "acknowledged"
    metrics = client.get("/api/metrics").json()
    # The complaint's three alerts by the reply, and the demo's scam's three set aside by the fixture.
    assert metrics["responded"] == 6 and metrics["open"] == 0


def test_a_failed_reply_is_shown_and_retried_only_when_asked(client, fake_x):
    fake_x.fail_next(429)
    post_form(client, f"/alerts/{url_id(CRITICAL)}/reply", text="Hi Dana, refunded today.",
              next=f"/alerts/{url_id(CRITICAL)}")
    page = _page(client)
    assert 'data-status="failed"' in page and "rate limited by the platform" in page
    assert 'id="reply-retry"' in page and fake_x.replies_to(NATIVE) == []
    client.csrf = csrf_of(page)
    post_form(client, f"/alerts/{url_id(CRITICAL)}/reply", text="Hi Dana, refunded today.",
              next=f"/alerts/{url_id(CRITICAL)}")
    page = _page(client)
    assert page.count('data-status="failed"') == 1 and page.count('data-status="posted"') == 1
    assert len(fake_x.replies_to(NATIVE)) == 1


def test_the_api_posts_once_per_text(app, fake_x):
    api = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    first = api.post(f"/api/alerts/{url_id(CRITICAL)}/replies", json={"text": "We are on it."})
    assert first.status_code == 200 and first.json()["status"] == "posted", first.text
    again = api.post(f"/api/alerts/{url_id(WARNING)}/replies", json={"text": "We are on it."})  # same post
    assert again.json()["already_posted"] and again.json()["url"] == first.json()["url"]
    assert len(fake_x.replies_to(NATIVE)) == 1
    events = api.get(f"/api/alerts/{url_id(CRITICAL)}/events").json()
    assert [e["kind"] for e in events] == ["reply", "reply_posted"]
    too_long = api.post(f"/api/alerts/{url_id(CRITICAL)}/replies", json={"text": "x" * 281})
    assert too_long.status_code == 422 and "at most 280 characters" in too_long.json()["detail"]
    assert api.post("/api/alerts/nope:1:info/replies", json={"text": "hi"}).status_code == 404


def test_without_write_access_the_button_says_why(config, store, clock):
    app = create_app(config, store, clock=clock, environ={"EARSHOT_WEB_TOKEN": TOKEN})  # no X user credentials
    client = TestClient(app)
    client.csrf = login(client)
    page = _page(client)
    reason = page.split('id="reply-disabled-reason">')[1].split("</p>")[0]
    assert "no write access to X: set EARSHOT_X_CONSUMER_KEY" in reason and "EARSHOT_X_ACCESS_TOKEN_SECRET" in reason
    assert 'id="reply-send" disabled' in page
    refused = post_form(client, f"/alerts/{url_id(CRITICAL)}/reply", text="hi", next="/")
    assert refused.status_code == 422 and "no write access" in refused.text
    assert store.alert_events([CRITICAL]) == []  # nothing attempted, nothing recorded
