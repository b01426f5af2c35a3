"""The inbox on a store with more cases than one page: keyset pages, filters in the store, totals
counted by the store, and one read per kind of data per page, whatever the page's size.

The real app on a real SQLite file: the demo morning (its escalated billing complaint), plus
sixty posts with alerts a test adds, some escalated, some acknowledged, assigned or closed.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from monitor.models import Alert, AlertState, Engagement, EngagementSnapshot, Mention, Severity
from monitor.triage import set_state
from monitor.web import create_app
from monitor.web.pages import INBOX_PAGE
from tests.test_web import TOKEN, Clock, app, client, clock, config, login, store  # noqa: F401 - fixtures

DEMO_CASE = "x:1991500000000000001:critical"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SEVERITIES = (Severity.info, Severity.warning, Severity.critical)


def add_cases(store, count: int = 60) -> None:
    """`count` posts, each with an alert (every fifth escalated to a second one); every fourth
    acknowledged, every seventh resolved; every sixth assigned to Luis Ortega."""
    store.ingest([Mention(id=f"x:p{i:02d}", source="x", native_id=f"p{i:02d}", url=f"https://x.com/a/status/{i}",
                          author_handle=f"a{i}", text=f"post {i}", created_at=T0 + timedelta(minutes=i),
                          brand="Brisa Mobile", query="brisa mobile", lang="en", topic="outage")
                  for i in range(count)],
                 [EngagementSnapshot(mention_id=f"x:p{i:02d}", observed_at=T0 + timedelta(minutes=i + k),
                                     engagement=Engagement(likes=k * i)) for i in range(count) for k in range(3)])
    for i in range(count):
        severity = SEVERITIES[i % 3]
        store.add_alert(Alert(id=f"x:p{i:02d}:{severity.value}", mention_id=f"x:p{i:02d}", brand="Brisa Mobile",
                              severity=severity, created_at=T0 + timedelta(minutes=i, seconds=30), reason=f"case {i}",
                              topic="outage", team="Network operations"))
        if i % 5 == 0 and severity != Severity.critical:
            store.add_alert(Alert(id=f"x:p{i:02d}:critical", mention_id=f"x:p{i:02d}", brand="Brisa Mobile",
                                  severity=Severity.critical, created_at=T0 + timedelta(minutes=i, seconds=40),
                                  reason=f"case {i} escalated", topic="outage", team="Network operations"))
        for alert in store.alerts_for([f"x:p{i:02d}"]):
            if i % 4 == 0:
                set_state(store, alert.id, AlertState.acknowledged, T0 + timedelta(hours=2))
            if i % 7 == 0:
                set_state(store, alert.id, AlertState.resolved, T0 + timedelta(hours=3))
            if i % 6 == 0:
                store.update_alert(alert.id, lambda a: a.model_copy(update={"assignee": "Luis Ortega"}))


def inbox(store) -> list[tuple[str, bool]]:
    """Every open or acknowledged case as (primary, needs attention), in inbox order, computed here
    from the alerts: the most severe active alert of each post; open cases first, then severity, time."""
    cases: dict[str, list[Alert]] = {}
    for alert in store.alerts([AlertState.open, AlertState.acknowledged], limit=10_000):
        cases.setdefault(alert.mention_id, []).append(alert)
    keyed = []
    for members in cases.values():
        primary = max(members, key=lambda a: (a.severity.rank, a.created_at, a.id))
        is_open = any(a.state == AlertState.open for a in members)
        keyed.append(((is_open, primary.severity.rank, primary.created_at, primary.id), is_open))
    return [(key[3], is_open) for key, is_open in sorted(keyed, reverse=True)]


def expected_order(store) -> list[str]:
    return [primary for primary, _ in inbox(store)]


def cards(page: str) -> list[str]:
    return re.findall(r'<article class="alert-card[^>]*data-alert-id="([^"]+)"', page)


def next_link(page: str) -> str | None:
    found = re.search(r'id="next-page" rel="next" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def every_page(client: TestClient, first: str) -> list[str]:
    shown, target = [], first
    while target:
        page = client.get(target)
        assert page.status_code == 200, page.text
        shown += cards(page.text)
        target = next_link(page.text)
    return shown


def test_every_case_is_reachable_page_by_page_once_in_inbox_order(client, store):
    add_cases(store)
    order = expected_order(store)
    assert len(order) > 2 * INBOX_PAGE and DEMO_CASE in order
    first = client.get("/").text
    assert cards(first) == order[:INBOX_PAGE]
    assert every_page(client, "/") == order
    opened = sum(1 for _, is_open in inbox(store) if is_open)
    assert opened > INBOX_PAGE
    assert f'id="stat-open">{opened}<' in first  # the total, not this page's count
    assert f"({opened}) Inbox" in first
    assert f'id="stat-acknowledged">{len(order) - opened}<' in first


def test_next_pages_keep_the_filters_and_windows_and_the_page_links_keep_the_page(client, store):
    add_cases(store)
    page = client.get("/?topic=outage&assignee=unassigned&hours=6").text
    following = next_link(page)
    query = parse_qs(urlsplit(following).query)
    assert query["topic"] == ["outage"] and query["assignee"] == ["unassigned"] and query["hours"] == ["6"]
    second = client.get(following).text
    assert 'id="first-page" href="/?hours=6&amp;topic=outage&amp;assignee=unassigned"' in second
    cursor = query["cursor"][0]
    assert f'cursor={cursor}#trends"' in second.replace("&amp;", "&")  # a trend window link stays on this page
    assert f'name="next" value="/?hours=6&amp;topic=outage&amp;assignee=unassigned&amp;cursor={cursor}"' in second
    shown = every_page(client, "/?topic=outage&assignee=unassigned&hours=6")
    assert shown == [a for a in expected_order(store) if a != DEMO_CASE and store.get_alert(a).assignee is None]


def test_the_state_filter_picks_a_group_or_lists_closed_cases(client, store):
    add_cases(store)
    acknowledged = every_page(client, "/?state=acknowledged")
    assert acknowledged and all(store.get_alert(a).state == AlertState.acknowledged for a in acknowledged)
    page = client.get("/?state=acknowledged").text
    assert 'id="open-alerts"' not in page and 'id="acknowledged-alerts"' in page
    assert '<option value="acknowledged" selected>' in page
    needs_attention = every_page(client, "/?state=open")
    assert set(needs_attention) | set(acknowledged) == set(expected_order(store))
    resolved = every_page(client, "/?state=resolved")
    assert resolved and all(store.get_alert(a).state == AlertState.resolved for a in resolved)
    assert f'id="closed-alerts"' in client.get("/?state=resolved").text
    assert client.get("/?state=snoozed").status_code == 422
    assert client.get("/?severity=loud").status_code == 422
    assert client.get("/?cursor=garbage").status_code == 422


def test_filters_apply_to_the_case_not_to_its_other_alerts(client, store):
    add_cases(store)
    critical = every_page(client, "/?severity=critical")
    assert critical and all(a.endswith(":critical") for a in critical)
    # Posts 0, 5, 10, ... escalated to critical: their lower alert is never a case of its own.
    warnings = every_page(client, "/?severity=warning")
    assert "x:p10:warning" not in warnings and "x:p01:warning" in warnings
    mine = every_page(client, "/?assignee=luis+ortega")
    assert mine and all(store.get_alert(a).assignee == "Luis Ortega" for a in mine)
    note = client.get("/?severity=critical").text
    total = len(expected_order(store))
    assert f'id="filter-note">Showing {len(critical)} of {total} cases.' in note


class Counting:
    """The store, counting the calls the app makes to it."""

    def __init__(self, store: Any) -> None:
        self.store, self.calls = store, Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.store, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return counted


@pytest.mark.parametrize("target", ["/", "/?topic=outage&severity=warning"])
def test_a_page_of_the_inbox_is_a_few_reads_whatever_its_size(config, store, target):
    """No per-card query (sparklines come from one read of the page's snapshots) and no read of
    every alert (totals are counted by the store): what made the inbox take seconds."""
    add_cases(store)
    counting = Counting(store)
    app = create_app(config, counting, clock=Clock(), environ={"EARSHOT_WEB_TOKEN": TOKEN})  # type: ignore[arg-type]
    browser = TestClient(app)
    login(browser)
    counting.calls.clear()
    page = browser.get(target)
    assert page.status_code == 200 and len(cards(page.text)) > 1
    calls = counting.calls
    assert calls["snapshots_of"] == 1 and calls["snapshots_for"] == 0
    assert calls["get_mentions"] == 1 and calls["alerts_for"] == 1
    assert calls["alerts"] == 0 and calls["alerts_created"] == 0
    assert calls["count_alerts_by_state"] == 1 and calls["alert_handling"] == 1
    assert calls["alert_cases"] == (2 if "?" in target else 1)  # and the unfiltered total when filtering
    assert 'class="spark"' in page.text


def test_the_inbox_api_gives_the_same_pages_as_the_inbox_page(app, client, store):
    add_cases(store)
    api = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    seen: list[str] = []
    body = api.get("/api/inbox", params={"limit": 20}).json()
    assert body["counts"]["open"] + body["counts"]["acknowledged"] == len(expected_order(store))
    while True:
        seen += [case["id"] for case in body["cases"]]
        assert all(case["mention"]["id"] == case["mention_id"] for case in body["cases"])
        if body["next_cursor"] is None:
            break
        body = api.get("/api/inbox", params={"limit": 20, "cursor": body["next_cursor"]}).json()
    assert seen == expected_order(store) == every_page(client, "/")
    assert [c["id"] for c in api.get("/api/inbox", params={"state": "resolved", "limit": 200}).json()["cases"]] == \
        every_page(client, "/?state=resolved")
    assert api.get("/api/inbox", params={"cursor": "W10"}).status_code == 422
