"""Explore every mention: the search page, its JSON API and its exports, on the real app and a
real SQLite store filled by the real pipeline (the demo morning), plus posts a test adds.

Pages are keyset pages (a cursor, never an offset), a search is its URL (the page's form uses
GET and every link keeps its parameters), and an export streams every page of a result.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from monitor.models import Engagement, Mention, Sentiment, SentimentLabel
from monitor.store.base import MentionQuery
from monitor.web import exports
from tests.test_web import app, api, client, clock, config, store  # noqa: F401 - fixtures

VIRAL = "x:1991500000000000001"
VIRAL_CRITICAL = f"{VIRAL}:critical"
T0 = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)  # the day before the demo morning


def invoice_posts(count: int, start: datetime = T0) -> list[Mention]:
    """`count` Spanish billing complaints a minute apart, with accents and capitals mixed."""
    spellings = ("Factura duplicada otra vez", "la fáctura llegó mal", "FACTURA sin pagar", "=HYPERLINK(\"x\") factura")
    return [
        Mention(id=f"x:inv{i:03d}", source="x", native_id=f"inv{i:03d}", url=f"https://x.com/a/status/inv{i:03d}",
                author_handle=f"cliente{i}", text=spellings[i % len(spellings)], lang="es",
                created_at=start + timedelta(minutes=i), brand="Brisa Mobile", query="brisa mobile",
                engagement=Engagement(likes=i), topic="billing",
                sentiment=Sentiment(label=SentimentLabel.negative, score=-0.7, model="test"))
        for i in range(count)
    ]


def ids_on(page: str) -> list[str]:
    return re.findall(r'<li class="mention" data-mention-id="([^"]+)"', page)


def next_link(page: str) -> str | None:
    found = re.search(r'id="next-page" rel="next" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


# -- the page ---------------------------------------------------------------------------


def test_searching_factura_finds_every_spelling_newest_first_and_links_each_post_to_its_alert(client, store):
    store.ingest(invoice_posts(4), [])
    page = client.get("/mentions", params={"q": "factura"})
    assert page.status_code == 200 and "Mentions · Earshot" in page.text
    assert ids_on(page.text) == ["x:inv003", "x:inv002", "x:inv001", "x:inv000"]  # fáctura, FACTURA, Factura
    everyone = client.get("/mentions", params={"q": "charged twice"}).text
    assert len(ids_on(everyone)) == 8 and ids_on(everyone)[-1] == VIRAL  # the complaint, and 7 copies of it
    charged = client.get("/mentions", params={"q": "charged twice", "duplicate": "false"}).text
    assert ids_on(charged) == [VIRAL]
    assert f'href="/alerts/{VIRAL_CRITICAL.replace(":", "%3A")}"' in charged  # its case, most severe alert
    assert "10,981 engagement" in charged and "@dana_reyes" in charged
    assert client.get("/mentions", params={"q": "nothing matches this"}).text.count('class="mention"') == 0


def test_a_search_is_its_url_the_form_keeps_its_values_and_every_link_keeps_the_search(client, store):
    store.ingest(invoice_posts(120), [])
    url = "/mentions?q=factura&lang=es&sentiment=negative&topic=billing&since=2026-11-19&until=2026-11-19" \
          "&min_engagement=3&sort=oldest"
    page = client.get(url).text
    assert 'method="get" action="/mentions"' in page  # a GET form: the search lands in the address bar
    assert 'name="q" value="factura"' in page and '<option value="es" selected>' in page
    assert '<option value="negative" selected>' in page and '<option value="billing" selected>' in page
    assert 'name="since" value="2026-11-19"' in page and 'name="min_engagement"' in page
    assert '<option value="oldest" selected>' in page
    first = ids_on(page)
    assert first[0] == "x:inv003" and len(first) == 50  # oldest first, from 3 likes on
    following = next_link(page)
    query = parse_qs(urlsplit(following).query)
    assert {k: v[0] for k, v in query.items() if k != "cursor"} == {
        "q": "factura", "lang": "es", "sentiment": "negative", "topic": "billing", "since": "2026-11-19",
        "until": "2026-11-19", "min_engagement": "3", "sort": "oldest"}
    second = client.get(following).text
    assert ids_on(second)[0] == "x:inv053" and 'id="first-page"' in second
    export = html.unescape(re.search(r'id="export-csv" href="([^"]+)"', page).group(1))
    assert parse_qs(urlsplit(export).query)["q"] == ["factura"] and "format=csv" in export
    assert client.get(url).text == page  # the same address, the same answer: a saved search


def test_the_search_page_needs_a_sign_in_and_refuses_bad_values_without_echoing_them(app, client):
    anonymous = TestClient(app)
    response = anonymous.get("/mentions?q=factura", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    for params in ({"sentiment": "angry<script>"}, {"since": "yesterday<script>"}, {"min_engagement": "lots"},
                   {"sort": "random"}, {"cursor": "not-a-cursor<script>"}, {"q": "-only-excluded"}):
        answer = client.get("/mentions", params=params, headers={"accept": "text/html"})
        assert answer.status_code == 422, params
        assert "<script>" not in answer.text


# -- the JSON API ------------------------------------------------------------------------


def test_the_api_pages_with_a_cursor_until_every_match_is_read_once(api, store):
    store.ingest(invoice_posts(75), [])
    seen: list[str] = []
    body = api.get("/api/mentions", params={"q": "FÁCTURA", "limit": 20}).json()
    while True:
        seen += [m["id"] for m in body["mentions"]]
        if body["next"] is None:
            assert body["next_cursor"] is None
            break
        assert "q=F%C3%81CTURA" in body["next"] and "limit=20" in body["next"]
        body = api.get(body["next"]).json()
    assert seen == [f"x:inv{i:03d}" for i in reversed(range(75))]
    engaged = api.get("/api/mentions", params={"q": "factura", "sort": "engagement", "min_engagement": 70}).json()
    assert [m["id"] for m in engaged["mentions"]] == ["x:inv074", "x:inv073", "x:inv072", "x:inv071", "x:inv070"]


def test_the_api_filters_combine_and_repeat(api, store):
    store.ingest(invoice_posts(3), [])

    def found(**params) -> set[str]:
        return {m["id"] for m in api.get("/api/mentions", params={"limit": 200, **params}).json()["mentions"]}

    assert found(lang=["es", "id"], sentiment="negative", topic="billing", source="googleplay") == {
        "googleplay:gp-20003"}
    assert found(q="sinyal", lang="id") == {"x:1991500000000000004"}  # words, not parts of words ...
    assert found(q="sinyal*", lang="id") == {"x:1991500000000000004", "x:1991500000000000013",  # ... unless asked
                                             "x:1991500000000000010"}
    assert found(since="2026-11-19", until="2026-11-19") == {"x:inv000", "x:inv001", "x:inv002"}
    assert found(since="2026-11-19T08:01:00Z", until="2026-11-19T08:02:00Z") == {"x:inv001"}
    assert found(brand="Other brand") == set()
    assert found(min_engagement=10000) == {VIRAL}


def test_the_api_answers_bad_input_with_422_naming_the_parameter(api):
    for params, name in (({"sentiment": "angry"}, "sentiment"), ({"since": "2026-13-45"}, "since"),
                         ({"cursor": "W10"}, "cursor"), ({"q": "-refund"}, "q"), ({"limit": 0}, "limit"),
                         ({"min_engagement": -1}, "min_engagement"), ({"sort": "best"}, "sort")):
        answer = api.get("/api/mentions", params=params)
        assert answer.status_code == 422, params
        assert name in json.dumps(answer.json()), params
    assert TestClient(api.app).get("/api/mentions").status_code == 401


# -- exports -------------------------------------------------------------------------------


def test_a_csv_export_holds_every_result_of_every_page_safe_for_spreadsheets(api, store, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_PAGE", 7)  # many pages, so the export must follow the cursor
    store.ingest(invoice_posts(30), [])
    response = api.get("/api/mentions/export", params={"q": "factura", "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="earshot-mentions-20261120-1500.csv"'
    assert response.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [f"x:inv{i:03d}" for i in reversed(range(30))]
    assert rows[-2]["text"] == "la fáctura llegó mal" and rows[-1]["sentiment"] == "negative"
    assert rows[2]["id"] == "x:inv027" and rows[2]["text"].startswith("'=HYPERLINK")  # shown, never run
    assert rows[0]["engagement"] == "29" and rows[0]["created_at"] == "2026-11-19T08:29:00Z"


def test_a_jsonl_export_is_one_mention_per_line_as_the_api_gives_them(api, store):
    store.ingest(invoice_posts(3), [])
    response = api.get("/api/mentions/export", params={"format": "jsonl", "since": "2026-11-19",
                                                       "until": "2026-11-19", "sort": "oldest"})
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [Mention.model_validate_json(line) for line in response.text.splitlines()]
    day = datetime(2026, 11, 19, tzinfo=UTC)
    assert lines == store.search_mentions(MentionQuery(since=day, until=day + timedelta(days=1),
                                                       sort="oldest")).mentions
    assert lines[1].text == "la fáctura llegó mal"


def test_an_export_is_streamed_one_page_at_a_time(store):
    """Bounded memory: the file's first bytes are made from the first page alone, before any
    other page is read."""
    store.ingest(invoice_posts(40), [])
    reads: list[str | None] = []

    class Recording:
        def search_mentions(self, query: MentionQuery):
            reads.append(query.cursor)
            return store.search_mentions(query)

    recording = Recording()
    query = MentionQuery(text="factura")
    first = exports.first_page(recording, query)  # type: ignore[arg-type]
    chunks = exports.export_lines(exports.every_mention(recording, query, first),  # type: ignore[arg-type]
                                  exports.ExportFormat.jsonl)
    assert reads == [None]
    assert next(chunks).count(b"\n") == 40 and reads == [None]  # one page (500) holds them all
    assert list(chunks) == []


def test_a_bad_export_is_an_error_answer_not_a_truncated_file(api):
    response = api.get("/api/mentions/export", params={"q": "-only", "format": "csv"})
    assert response.status_code == 422 and "attachment" not in response.headers.get("content-disposition", "")
    assert api.get("/api/mentions/export", params={"format": "xlsx"}).status_code == 422


@pytest.mark.parametrize("path", ["/api/mentions", "/api/mentions/export"])
def test_the_openapi_schema_documents_the_search(api, path):
    spec = api.get("/openapi.json").json()
    operation = spec["paths"][path]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "brand", "source", "lang", "sentiment", "topic", "since", "until", "min_engagement", "sort"} <= names
    assert operation["tags"] == ["mentions"]
