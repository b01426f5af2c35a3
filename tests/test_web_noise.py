"""Noise in the web UI and API: the demo's copied complaint shows its cluster on its card, the
refund scam shows its spam flag and reasons, and "not spam" is a button, an API call and an
entry in the audit trail; copies and spam filter the mention search."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.store import SQLiteStore
from monitor.web.templating import url_id
from tests.conftest import KeywordScorer
from tests.test_web import CRITICAL, NOW, SCAM, VIRAL, _card, api, app, client, clock, config, post_form  # noqa: F401

SCAM_CRITICAL = f"{SCAM}:critical"


@pytest.fixture
def store(config, tmp_path: Path):
    """The demo morning as the pipeline leaves it: the scam's alerts open beside the complaint's."""
    s = SQLiteStore(tmp_path / "earshot.db")
    pipeline.run_once(config, s, scorer=KeywordScorer(), channels=[])
    yield s
    s.close()


def test_the_inbox_shows_the_cluster_on_the_first_post_and_the_spam_flag_with_its_reasons(client):
    page = client.get("/").text
    viral = _card(page, CRITICAL)
    assert "Posted 8 times by 8 accounts" in viral and 'data-copies="7"' in viral
    assert "Likely spam" not in viral
    scam = _card(page, SCAM_CRITICAL)
    assert "Likely spam" in scam and 'data-spam="true"' in scam
    assert "giveaway pattern" in scam and "shortened or throwaway links: bit.ly" in scam
    assert f'action="/alerts/{url_id(SCAM_CRITICAL)}/spam"' in scam and ">Not spam</button>" in scam


def test_not_spam_clears_the_flag_is_recorded_in_the_trail_and_can_be_undone(client, store):
    response = post_form(client, f"/alerts/{url_id(SCAM_CRITICAL)}/spam", verdict="not_spam", next="/")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert store.noise_of([SCAM])[SCAM].not_spam
    card = _card(client.get("/").text, SCAM_CRITICAL)
    assert "Likely spam" not in card and "Marked not spam" in card and ">Spam after all</button>" in card
    trail = [e for e in store.alert_events([SCAM_CRITICAL]) if e.kind.value == "spam"]
    assert [(e.actor, e.text) for e in trail] == [("Dana (via token)", "not spam")]
    assert store.get_alert(SCAM_CRITICAL).first_response_at == NOW  # a person acted on it
    details = client.get(f"/alerts/{url_id(SCAM_CRITICAL)}").text
    assert "marked as not spam" in details
    assert post_form(client, f"/alerts/{url_id(SCAM_CRITICAL)}/spam", verdict="spam").status_code == 303
    assert store.noise_of([SCAM])[SCAM].is_spam
    assert post_form(client, f"/alerts/{url_id(SCAM_CRITICAL)}/spam", verdict="maybe").status_code == 422


def test_the_api_sets_the_verdict_and_refuses_what_has_no_post(api, store):
    response = api.post(f"/api/alerts/{SCAM_CRITICAL}/spam", json={"not_spam": True, "reason": "real customer"})
    assert response.status_code == 200
    body = response.json()
    assert (body["mention_id"], body["spam"], body["not_spam"]) == (SCAM, False, True)
    assert any(r.startswith("giveaway pattern") for r in body["reasons"])
    events = api.get(f"/api/alerts/{SCAM_CRITICAL}/events").json()
    assert [(e["kind"], e["actor"], e["text"]) for e in events] == [("spam", "token", "not spam: real customer")]
    again = api.post(f"/api/alerts/{SCAM_CRITICAL}/spam", json={"not_spam": True})
    assert again.status_code == 200 and len(api.get(f"/api/alerts/{SCAM_CRITICAL}/events").json()) == 1
    assert api.post("/api/alerts/x:nope:info/spam", json={"not_spam": True}).status_code == 404
    assert api.post(f"/api/alerts/{SCAM_CRITICAL}/spam", json={}).status_code == 422
    from monitor.models import Alert, AlertKind, Severity

    store.add_alert(Alert(id="storm:Brisa Mobile:2026-11-20T10:00:critical", kind=AlertKind.storm, mention_id=None,
                          brand="Brisa Mobile", severity=Severity.critical, created_at=NOW, reason="storm"))
    storm = api.post("/api/alerts/storm:Brisa Mobile:2026-11-20T10:00:critical/spam", json={"not_spam": True})
    assert storm.status_code == 409 and "not one post" in storm.json()["detail"]


def test_copies_and_spam_filter_the_mention_search_page_and_api(client, api):
    copies = api.get("/api/mentions", params={"duplicate": "true"}).json()["mentions"]
    assert len(copies) == 7 and VIRAL not in {m["id"] for m in copies}
    spam = [m["id"] for m in api.get("/api/mentions", params={"spam": "true"}).json()["mentions"]]
    assert spam == [SCAM]
    clean = {m["id"] for m in api.get("/api/mentions", params={"spam": "false", "duplicate": "false",
                                                               "limit": 500}).json()["mentions"]}
    assert VIRAL in clean and SCAM not in clean and not clean & {m["id"] for m in copies}
    bad = api.get("/api/mentions", params={"duplicate": "maybe"})
    assert bad.status_code == 422 and "duplicate" in bad.text
    page = client.get("/mentions", params={"duplicate": "true", "q": "charged"}).text
    assert '<option value="true" selected>Only copies</option>' in page
    assert len(re.findall(r'class="chip chip-cluster"[^>]*>Copy<', page)) == 7
    assert "duplicate=true" in re.search(r'id="api-link" href="([^"]+)"', page).group(1)
    flagged = client.get("/mentions", params={"spam": "true"}).text
    assert 'class="chip chip-spam"' in flagged
    export = api.get("/api/mentions/export", params={"format": "jsonl", "spam": "true"})
    assert export.status_code == 200 and len(export.text.splitlines()) == 1
