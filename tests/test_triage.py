"""Triage: the state machine, dismissal reasons, assignment, notes, the audit trail and the metrics.

The store-level behaviour every backend shares is in tests/test_store_conformance.py;
here are the rules (monitor/triage.py) and what the UI and the API make of them, on a
real SQLite store filled by the real pipeline (tests/test_web.py's fixtures).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from monitor import triage
from monitor.models import Alert, AlertEvent, AlertEventKind, AlertState, Severity
from monitor.store import SQLiteStore
from monitor.web import create_app
from monitor.web.metrics import compute_metrics, duration
from monitor.web.templating import url_id
from tests.test_web import (  # noqa: F401 - fixtures, used by name
    CRITICAL, INFO, NOW, TOKEN, WARNING, Clock, api, app, client, clock, config, post_form, store,
)

A = AlertState


def _alert(native_id: str, created: datetime, severity: Severity = Severity.warning) -> Alert:
    return Alert(id=f"x:{native_id}:{severity.value}", mention_id=f"x:{native_id}", brand="Acme", severity=severity,
                 created_at=created, reason="because")


@pytest.fixture
def bare(tmp_path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "triage.db")
    yield s
    s.close()


# -- the state machine -----------------------------------------------------------------

ALLOWED = {
    (A.open, A.acknowledged), (A.open, A.resolved), (A.open, A.dismissed),
    (A.acknowledged, A.resolved), (A.acknowledged, A.dismissed),
    (A.resolved, A.open), (A.dismissed, A.open),
}
PATHS = {A.open: [], A.acknowledged: [A.acknowledged], A.resolved: [A.resolved], A.dismissed: [A.dismissed]}


@pytest.mark.parametrize("start", list(AlertState))
@pytest.mark.parametrize("target", list(AlertState))
def test_only_the_documented_moves_are_allowed(bare, start, target):
    bare.add_alert(_alert("1", NOW))
    at = NOW + timedelta(minutes=1)
    for step in PATHS[start]:
        triage.change_state(bare, "x:1:warning", step, "ana", at, reason="setup")
    assert triage.can_move(start, target) == ((start, target) in ALLOWED)
    if (start, target) in ALLOWED:
        assert triage.change_state(bare, "x:1:warning", target, "ana", at, reason="r").state == target
    else:
        with pytest.raises(triage.InvalidTransition, match=f"is {start.value}: it cannot become {target.value}"):
            triage.change_state(bare, "x:1:warning", target, "ana", at, reason="r")
        assert bare.get_alert("x:1:warning").state == start
        assert len(bare.alert_events(["x:1:warning"])) == len(PATHS[start])


def test_dismissing_needs_a_reason_everywhere(bare, client, api, store):
    bare.add_alert(_alert("1", NOW))
    for reason in (None, "", "   "):
        with pytest.raises(triage.MissingReason):
            triage.change_state(bare, "x:1:warning", A.dismissed, "ana", NOW, reason)
    with pytest.raises(ValueError, match="needs a reason"):
        AlertEvent(alert_id="x", at=NOW, actor="ana", kind=AlertEventKind.state, from_state=A.open,
                   to_state=A.dismissed)
    assert api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "dismissed"}).status_code == 422
    assert api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "dismissed", "reason": " "}).status_code == 422
    page = post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="dismissed", reason="  ")
    assert page.status_code == 422 and "needs a reason" in page.text
    assert store.get_alert(CRITICAL).state == A.open

    ok = post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="dismissed", reason="Not about us")
    assert ok.status_code == 303
    assert {store.get_alert(i).state for i in (CRITICAL, WARNING)} == {A.dismissed}
    assert [e.text for e in store.alert_events([CRITICAL])] == ["Not about us"]


def test_a_stale_page_cannot_overwrite_another_agents_action(api, store, clock):
    assert api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "resolved"}).status_code == 200
    # Someone else's page still showed it open and offered "Acknowledge".
    stale = AlertEvent(alert_id=CRITICAL, at=clock(), actor="luis", kind=AlertEventKind.state,
                       from_state=A.open, to_state=A.acknowledged)
    with pytest.raises(triage.StateConflict, match="someone else changed it"):
        triage.record(store, stale)
    response = api.post(f"/api/alerts/{CRITICAL}/state", json={"state": "acknowledged"})
    assert response.status_code == 409 and "resolved" in response.json()["detail"]
    assert store.get_alert(CRITICAL).state == A.resolved


def test_the_audit_trail_is_append_only_in_the_database(store, api):
    api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": "called back"})
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._db.execute("UPDATE alert_events SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._db.execute("DELETE FROM alert_events")
    assert [e.actor for e in store.alert_events([CRITICAL])] == ["token"]


# -- a post's alerts as one case ----------------------------------------------------------


def test_case_actions_apply_to_the_alerts_of_the_post_they_make_sense_for(store):
    at = NOW
    # The warning was acknowledged before the post escalated to critical.
    triage.change_state(store, WARNING, A.acknowledged, "ana", at)
    moved = triage.change_case_state(store, CRITICAL, A.acknowledged, "luis", at)
    assert sorted(a.id for a in moved) == sorted([INFO, CRITICAL])  # only the open ones move
    assert {a.id: a.state for a in triage.case_alerts(store, store.get_alert(CRITICAL))} == {
        INFO: A.acknowledged, WARNING: A.acknowledged, CRITICAL: A.acknowledged}
    with pytest.raises(triage.InvalidTransition):
        triage.change_case_state(store, CRITICAL, A.acknowledged, "luis", at)
    assert len(triage.change_case_state(store, WARNING, A.resolved, "luis", at)) == 3
    assert len(triage.change_case_state(store, CRITICAL, A.open, "luis", at)) == 3  # reopen the post
    assert {a.assignee for a in triage.assign_case(store, CRITICAL, "Billing care", "luis", at)} == {"Billing care"}
    assert store.get_alert(WARNING).assignee == "Billing care"


def test_api_can_act_on_the_whole_post(api, store):
    response = api.post(f"/api/alerts/{WARNING}/state", json={"state": "resolved", "apply_to": "post",
                                                              "reason": "refund issued"})
    assert response.status_code == 200 and response.json()["id"] == WARNING
    assert {store.get_alert(i).state for i in (CRITICAL, WARNING)} == {A.resolved}
    assigned = api.post(f"/api/alerts/{CRITICAL}/assignee", json={"assignee": "Ana", "apply_to": "post"})
    assert assigned.status_code == 200
    # Both closed: a post-wide assignment falls back to the alert asked for.
    assert store.get_alert(CRITICAL).assignee == "Ana" and store.get_alert(WARNING).assignee is None


# -- assignment and notes --------------------------------------------------------------------


def test_assignment_through_the_api(api, store):
    response = api.post(f"/api/alerts/{CRITICAL}/assignee", json={"assignee": "  Billing care "})
    assert response.status_code == 200 and response.json()["assignee"] == "Billing care"
    assert store.get_alert(WARNING).assignee is None
    again = api.post(f"/api/alerts/{CRITICAL}/assignee", json={"assignee": "Billing care"})
    assert again.status_code == 200
    assert len(store.alert_events([CRITICAL])) == 1  # nothing changed, nothing recorded
    assert api.post(f"/api/alerts/{CRITICAL}/assignee", json={"assignee": None}).json()["assignee"] is None
    assert api.post(f"/api/alerts/{CRITICAL}/assignee", json={}).status_code == 422
    assert api.post("/api/alerts/x:nope:info/assignee", json={"assignee": "a"}).status_code == 404
    assert [e.assignee for e in store.alert_events([CRITICAL])] == ["Billing care", None]
    # Assigning is a response: the first one is stamped.
    assert store.get_alert(CRITICAL).first_response_at == NOW


def test_assignment_and_notes_from_the_page(client, store):
    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/assign", assignee="Billing care").status_code == 303
    assert {store.get_alert(i).assignee for i in (CRITICAL, WARNING)} == {"Billing care"}
    card = client.get("/").text
    assert 'title="Assignee">' in card and "Billing care</span>" in card
    assert 'value="Dana">\n    <button class="btn btn-small" type="submit">Assign to me</button>' in card
    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/assign", assignee="Dana").status_code == 303
    assert store.get_alert(WARNING).assignee == "Dana"

    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/notes", text="  ").status_code == 409
    assert post_form(client, f"/alerts/{url_id(CRITICAL)}/notes", text="Called her back; refund on its way.",
                     next=f"/alerts/{url_id(CRITICAL)}").headers["location"] == f"/alerts/{url_id(CRITICAL)}"
    notes = [e for e in store.alert_events([CRITICAL, WARNING]) if e.kind == AlertEventKind.note]
    assert [(n.alert_id, n.text) for n in notes] == [(CRITICAL, "Called her back; refund on its way.")]


def test_notes_through_the_api(api):
    response = api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": "Escalated to the billing lead"})
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "note" and body["actor"] == "token" and body["at"] == "2026-11-20T15:00:00Z"
    assert api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": ""}).status_code == 422
    assert api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": "x", "extra": 1}).status_code == 422
    assert api.get(f"/api/alerts/{CRITICAL}/events").json() == [body]


# -- the audit trail ----------------------------------------------------------------------


def test_the_audit_trail_records_who_did_what_and_when(client, api, store, clock):
    post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="acknowledged")
    clock.advance(minutes=2)
    post_form(client, f"/alerts/{url_id(CRITICAL)}/assign", assignee="Billing care")
    clock.advance(minutes=3)
    api.post(f"/api/alerts/{CRITICAL}/notes", json={"text": "Refund approved <b>today</b>"})
    clock.advance(minutes=25)
    post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="resolved", reason="Refunded both charges")

    events = api.get(f"/api/alerts/{CRITICAL}/events").json()
    assert [(e["actor"], e["kind"], e["from_state"], e["to_state"], e["assignee"], e["text"], e["at"])
            for e in events] == [
        ("Dana (via token)", "state", "open", "acknowledged", None, None, "2026-11-20T15:00:00Z"),
        ("Dana (via token)", "assignment", None, None, "Billing care", None, "2026-11-20T15:02:00Z"),
        ("token", "note", None, None, None, "Refund approved <b>today</b>", "2026-11-20T15:05:00Z"),
        ("Dana (via token)", "state", "acknowledged", "resolved", None, "Refunded both charges",
         "2026-11-20T15:30:00Z"),
    ]
    detail = api.get(f"/api/alerts/{CRITICAL}").json()
    assert detail["events"] == events
    assert detail["acknowledged_at"] == "2026-11-20T15:00:00Z" and detail["resolved_at"] == "2026-11-20T15:30:00Z"
    assert detail["first_response_at"] == "2026-11-20T15:00:00Z"
    # The warning alert of the same post went through the same card actions (not the API note).
    assert [e.kind for e in store.alert_events([WARNING])] == ["state", "assignment", "state"]

    page = client.get(f"/alerts/{url_id(CRITICAL)}").text
    trail = page[page.index('id="audit-trail"'):page.index("</ol>", page.index('id="audit-trail"'))]
    items = re.findall(r'<li class="tl-item[^"]*"', trail)
    assert len(items) == 3 + 4  # three alerts raised by Earshot + four actions, each shown once for the post
    raised = store.get_alert(WARNING).created_at.strftime("%b %d, %H:%M UTC")
    assert "<strong>Earshot</strong> raised a" in trail and raised in trail
    for text in ("Dana (via token)</strong> <span class=\"tl-what\">acknowledged</span>",
                 "<span class=\"tl-what\">assigned to Billing care</span>",
                 "token</strong> <span class=\"tl-what\">added a note</span>",
                 "<span class=\"tl-what\">resolved</span>",
                 "Refund approved &lt;b&gt;today&lt;/b&gt;",  # escaped, never markup
                 "Refunded both charges", "Nov 20, 15:30 UTC"):
        assert text in trail, text
    assert trail.index("acknowledged") < trail.index("assigned to") < trail.index("added a note") < trail.index(
        "Refunded both charges")
    assert "(critical alert)" in trail  # the API note concerned the critical alert only
    assert 'id="fact-resolved">Nov 20, 15:30 UTC <span class="muted">after' in page


def test_alert_page_offers_the_moves_the_state_allows(client, store):
    page = client.get(f"/alerts/{url_id(CRITICAL)}").text
    actions = page[page.index('id="actions"'):]
    assert 'value="acknowledged">Acknowledge<' in actions and 'value="resolved">Resolve<' in actions
    assert ">Reopen<" not in actions and "Dismiss as noise" in actions
    assert "Actions apply to every alert of this post (info, warning, critical)." in actions
    assert 'id="escalation"' in page
    post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="resolved")
    actions = client.get(f"/alerts/{url_id(CRITICAL)}").text.split('id="actions"')[1]
    assert ">Reopen<" in actions and ">Acknowledge<" not in actions and "Dismiss as noise" not in actions
    post_form(client, f"/alerts/{url_id(CRITICAL)}/state", state="open")
    assert {store.get_alert(i).state for i in (CRITICAL, WARNING)} == {A.open}
    assert client.get("/alerts/x%3Anope%3Ainfo", headers={"accept": "text/html"}).status_code == 404


# -- metrics ----------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _scenario(store: SQLiteStore) -> None:
    """Seven alerts in the week from T0 (and one before it), handled at known times."""
    def at(alert: Alert, minutes: float) -> datetime:
        return alert.created_at + timedelta(minutes=minutes)

    a = {n: _alert(str(n), T0 + offset) for n, offset in {
        1: timedelta(hours=1), 2: timedelta(days=1), 3: timedelta(days=2), 4: timedelta(days=3),
        5: timedelta(days=3, hours=1), 6: timedelta(days=4), 7: timedelta(days=-1), 8: timedelta(days=6),
    }.items()}
    for alert in a.values():
        store.add_alert(alert)
    s = triage
    s.change_state(store, a[1].id, A.acknowledged, "ana", at(a[1], 10))
    s.change_state(store, a[1].id, A.resolved, "ana", at(a[1], 70))
    s.assign(store, a[2].id, "Billing care", "luis", at(a[2], 30))
    s.change_state(store, a[2].id, A.resolved, "luis", at(a[2], 150))
    s.change_state(store, a[3].id, A.dismissed, "ana", at(a[3], 5), reason="spam")
    s.add_note(store, a[4].id, "looking into it", "ana", at(a[4], 60))
    s.change_state(store, a[6].id, A.acknowledged, "ana", at(a[6], 20))
    s.change_state(store, a[6].id, A.resolved, "ana", at(a[6], 40))
    s.change_state(store, a[6].id, A.open, "ana", at(a[6], 100))  # reopened: not resolved any more
    s.change_state(store, a[7].id, A.acknowledged, "ana", at(a[7], 1))  # before the window
    s.change_state(store, a[8].id, A.acknowledged, "ana", at(a[8], 15))


def test_metrics_on_a_hand_made_week(bare):
    _scenario(bare)
    until = T0 + timedelta(days=7)
    m = compute_metrics(bare.alerts_created(T0, until), T0, until)
    assert (m.alerts, m.open, m.acknowledged, m.resolved, m.dismissed, m.responded) == (7, 3, 1, 2, 1, 6)
    assert m.alerts_per_day == 1.0
    # First responses 10, 30, 5, 60, 20, 15 minutes (alert 5 never got one).
    assert (m.median_first_response_minutes, m.mean_first_response_minutes) == (17.5, 23.3)
    # Resolved now: alerts 1 (70 min) and 2 (150 min); 6 was reopened.
    assert (m.median_resolve_minutes, m.mean_resolve_minutes) == (110.0, 110.0)
    assert m.resolution_rate == round(2 / 6, 4)  # the dismissed alert is noise, not a problem left unsolved
    assert m.dismissed_share == round(1 / 7, 4)
    assert [(d.day.day, d.alerts) for d in m.per_day] == [(2, 1), (3, 1), (4, 1), (5, 2), (6, 1), (7, 0), (8, 1)]


def test_metrics_in_the_api_and_on_the_page(config, bare):
    _scenario(bare)
    app = create_app(config, bare, clock=lambda: T0 + timedelta(days=7), environ={"EARSHOT_WEB_TOKEN": TOKEN})
    api = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    body = api.get("/api/metrics", params={"days": 7}).json()
    assert body["since"] == "2026-03-02T00:00:00Z" and body["until"] == "2026-03-09T00:00:00Z"
    assert (body["alerts"], body["median_first_response_minutes"], body["median_resolve_minutes"]) == (7, 17.5, 110)
    assert (body["resolution_rate"], body["dismissed_share"], body["alerts_per_day"]) == (0.3333, 0.1429, 1.0)
    assert api.get("/api/metrics", params={"days": 1}).json()["alerts"] == 1  # alert 8, created T0 + 6 days
    assert api.get("/api/metrics", params={"days": 30}).json()["alerts"] == 8
    assert api.get("/api/metrics", params={"days": 0}).status_code == 422

    page = api.get("/").text
    panel = page[page.index('id="metrics"'):page.index('id="trends"')]
    for kpi, value in (("first-response", "18 min"), ("resolve", "1 h 50 min"), ("resolution-rate", "33%"),
                       ("per-day", "1.0"), ("dismissed", "14%"), ("alerts", "7")):
        assert re.search(rf'id="kpi-{kpi}">\s*<span class="kpi-value">{re.escape(value)}</span>', panel), kpi


def test_metrics_follow_a_replay_that_runs_ahead_of_the_clock(api):
    body = api.get("/api/metrics").json()  # the demo's alerts; the app clock is just after its data
    # The complaint's three alerts are open; the scam's three were set aside (dismissed) by the fixture.
    assert body["alerts"] == 6 and body["open"] == 3 and body["responded"] == 3
    assert body["resolution_rate"] == 0.0 and body["dismissed_share"] == 0.5


@pytest.mark.parametrize(("minutes", "text"), [
    (None, "—"), (0.4, "< 1 min"), (42, "42 min"), (60, "1 h"), (185, "3 h 5 min"), (60 * 24 * 2 + 240, "2 d 4 h"),
    (60 * 24, "1 d"),
])
def test_durations_read_naturally(minutes, text):
    assert duration(minutes) == text
