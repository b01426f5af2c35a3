"""Explore every mention: the search page, its JSON API and its CSV / JSON Lines export.

All three take the same query string (`mention_search.Search`), so a search opened in the page
can be fetched as JSON or downloaded by changing only the path. The store finds, filters,
orders and pages (`Store.search_mentions`): a page is one indexed read, however many mentions
there are. The page shows, beside each post, the alert raised on it, if any, linked to its case.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from monitor.models import Alert
from monitor.store import Store
from monitor.store.base import InvalidQuery, MentionPage, MentionQuery, MentionSort
from monitor.web.charts import SOURCE_NAMES
from monitor.web.decoding import StrictRoute
from monitor.web.deps import ConfigDep, NowDep, StoreDep
from monitor.web.exports import MEDIA_TYPES, ExportFormat, every_mention, export_lines, first_page
from monitor.web.mention_search import SENTIMENTS, Bound, Cursor, Flag, Search, Text, Values
from monitor.web.schemas import MentionPageOut
from monitor.web.templating import render

router = APIRouter(route_class=StrictRoute)

PAGE_SIZE = 50  # results per page on the search page
LANGUAGES = ("en", "es", "id", "pt", "fr", "de", "it")  # offered in the menu; any code works in the URL
UNAUTHORIZED = {status.HTTP_401_UNAUTHORIZED: {"description": "Missing or wrong bearer token"}}
BAD_SEARCH = {status.HTTP_422_UNPROCESSABLE_CONTENT: {"description": "A parameter or cursor that cannot be used"}}
MinEngagement = Annotated[int | None, Query(ge=0, le=10**12, description="Engagement total at least this.")]


def _page(store: Store, query: MentionQuery) -> MentionPage:
    try:
        return store.search_mentions(query)
    except InvalidQuery as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _link(path: str, search: Search, **extra: str) -> str:
    params = search.params() + [(k, v) for k, v in extra.items() if v]
    return path + ("?" + urlencode(params) if params else "")


@router.get("/api/mentions", response_model=MentionPageOut, responses={**UNAUTHORIZED, **BAD_SEARCH},
            tags=["mentions"])
def search_mentions(
    store: StoreDep,
    q: Text = "",
    brand: Values = [],  # noqa: B006 - FastAPI copies defaults
    source: Values = [],  # noqa: B006
    lang: Values = [],  # noqa: B006
    sentiment: Annotated[list[str], Query(description=f"One of {', '.join(SENTIMENTS)}; repeat for several.")] = [],  # noqa: B006
    topic: Values = [],  # noqa: B006
    since: Bound = "",
    until: Bound = "",
    min_engagement: MinEngagement = None,
    duplicate: Flag = "",
    spam: Flag = "",
    sort: MentionSort = MentionSort.newest,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    cursor: Cursor = "",
) -> MentionPageOut:
    """Mentions matching a full-text search and filters, one keyset page at a time.

    `q` takes words (all must appear; case and, in the embedded store, accents are ignored),
    "quoted phrases", `prefix*` and `-excluded` words. Filters combine (all must hold); repeat
    one for either of several values. `since`/`until` take a date (the whole day for `until`)
    or an ISO time. Follow `next` (or pass `next_cursor` as `cursor`) for the next page."""
    search = Search.read(q, brand, source, lang, sentiment, topic, since, until, min_engagement, sort, duplicate, spam)
    page = _page(store, search.query(limit, cursor))
    following = None
    if page.next_cursor:
        following = _link("/api/mentions", search, limit=str(limit) if limit != PAGE_SIZE else "",
                          cursor=page.next_cursor)
    return MentionPageOut(mentions=page.mentions, next_cursor=page.next_cursor, next=following)


@router.get("/api/mentions/export", responses={**UNAUTHORIZED, **BAD_SEARCH, status.HTTP_200_OK: {
    "description": "Every result, as CSV or JSON Lines", "content": {"text/csv": {}, "application/x-ndjson": {}}}},
    tags=["mentions"], response_class=StreamingResponse)
def export_mentions(
    store: StoreDep,
    now: NowDep,
    format: ExportFormat = ExportFormat.csv,  # noqa: A002 - the parameter's name in the URL
    q: Text = "",
    brand: Values = [],  # noqa: B006
    source: Values = [],  # noqa: B006
    lang: Values = [],  # noqa: B006
    sentiment: Values = [],  # noqa: B006
    topic: Values = [],  # noqa: B006
    since: Bound = "",
    until: Bound = "",
    min_engagement: MinEngagement = None,
    duplicate: Flag = "",
    spam: Flag = "",
    sort: MentionSort = MentionSort.newest,
) -> StreamingResponse:
    """Every mention the search finds (all pages), streamed as CSV (for spreadsheets) or JSON Lines."""
    search = Search.read(q, brand, source, lang, sentiment, topic, since, until, min_engagement, sort, duplicate, spam)
    query = search.query(limit=1)
    try:
        first = first_page(store, query)
    except InvalidQuery as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    name = f"earshot-mentions-{now:%Y%m%d-%H%M}.{format.value}"
    return StreamingResponse(export_lines(every_mention(store, query, first), format),
                             media_type=MEDIA_TYPES[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _alerts_by_mention(store: Store, mention_ids: list[str]) -> dict[str, Alert]:
    """Each post's most severe alert, for a link to its case."""
    found: dict[str, Alert] = {}
    for alert in store.alerts_for(mention_ids):
        held = found.get(alert.mention_id or "")
        if held is None or (alert.severity.rank, alert.created_at) > (held.severity.rank, held.created_at):
            found[alert.mention_id or ""] = alert
    return found


@router.get("/mentions", response_class=HTMLResponse, include_in_schema=False)
def mentions_page(
    request: Request,
    store: StoreDep,
    config: ConfigDep,
    q: Text = "",
    brand: Values = [],  # noqa: B006
    source: Values = [],  # noqa: B006
    lang: Values = [],  # noqa: B006
    sentiment: Values = [],  # noqa: B006
    topic: Values = [],  # noqa: B006
    since: Bound = "",
    until: Bound = "",
    min_engagement: Annotated[str, Query(max_length=20)] = "",
    duplicate: Flag = "",
    spam: Flag = "",
    sort: Annotated[str, Query(max_length=20)] = "",
    cursor: Cursor = "",
) -> Response:
    """The search page: a GET form, so the address of a search is the search (bookmark it to save it)."""
    search = Search.read(q, brand, source, lang, sentiment, topic, since, until, min_engagement, sort, duplicate, spam)
    page = _page(store, search.query(PAGE_SIZE, cursor))
    ids = [m.id for m in page.mentions]
    sources = list(dict.fromkeys([*config.sources, *SOURCE_NAMES, *search.source]))
    return render(request, "mentions.html", {
        "search": search,
        "page": page,
        "alerts": _alerts_by_mention(store, ids),
        "noise": store.noise_of(ids),
        "first_page": not cursor,
        "next_link": _link("/mentions", search, cursor=page.next_cursor or "") if page.next_cursor else None,
        "first_link": _link("/mentions", search),
        "export_csv": _link("/api/mentions/export", search, format="csv"),
        "export_jsonl": _link("/api/mentions/export", search, format="jsonl"),
        "api_link": _link("/api/mentions", search),
        "options": {
            "brands": list(dict.fromkeys([*(b.name for b in config.brands), *search.brand])),
            "sources": sources,
            "langs": list(dict.fromkeys([*LANGUAGES, *search.lang])),
            "sentiments": SENTIMENTS,
            "topics": list(dict.fromkeys([*(t.name for t in config.topics.taxonomy), *search.topic])),
            "sorts": [s.value for s in MentionSort],
        },
        "stats": {"latest_observation": store.latest_observation()},  # the footer's; no counting here
        "page_size": PAGE_SIZE,
    })

