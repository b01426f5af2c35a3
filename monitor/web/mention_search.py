"""A mention search as the query string of a URL: read it, check it, and write it back.

The search page's form uses GET, so a search *is* its URL: bookmark it, send it to a
colleague, open it tomorrow (a saved search). The page, the JSON API and the export read the
same parameters through `Search`, so one URL's parameters mean the same thing in all three:

| parameter | meaning |
|---|---|
| `q` | words (all must appear), "a phrase", `prefix*`, `-excluded` |
| `brand`, `source`, `lang`, `sentiment`, `topic` | repeat for either of several; sentiment also `unscored` |
| `since`, `until` | created in [since, until]: a date (`2026-11-20`, the whole day for `until`) or a UTC time |
| `min_engagement` | likes + 2 x (reposts + quotes) + replies (+ net votes) at least this |
| `duplicate` | `true`: only copies of an earlier post; `false`: no copies (monitor/noise) |
| `spam` | `true`: only posts flagged as spam; `false`: none of them |
| `sort` | `newest` (default), `oldest`, `engagement` |
| `cursor` | the page after the one that gave it (`next_cursor`) |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import HTTPException, Query, status

from monitor.models import SentimentLabel
from monitor.store.base import UNSCORED, MentionQuery, MentionSort
from monitor.store.paging import MAX_CURSOR_CHARS

MAX_TEXT_CHARS = 500
SENTIMENTS = (*(label.value for label in SentimentLabel), UNSCORED)

Text = Annotated[str, Query(max_length=MAX_TEXT_CHARS, description="Words, \"phrases\", prefix*, -excluded.")]
Values = Annotated[list[str], Query(description="Repeat for either of several values.")]
Bound = Annotated[str, Query(max_length=40, description="A date (YYYY-MM-DD) or a time (ISO 8601, UTC if no zone).")]
Cursor = Annotated[str, Query(max_length=MAX_CURSOR_CHARS, description="`next_cursor` of the previous page.")]
Flag = Annotated[str, Query(max_length=5, description="`true` (only these), `false` (none of these), or empty (any).")]
FLAGS = {"": None, "true": True, "false": False}


def parse_flag(name: str, value: str) -> bool | None:
    """`true`/`false`/empty as a filter (True/False/None); 422 naming the parameter otherwise."""
    try:
        return FLAGS[value.strip().lower()]
    except KeyError:
        raise _unprocessable(f"{name}: true, false or empty") from None


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def parse_bound(name: str, value: str, end: bool) -> datetime | None:
    """`since` / `until`: a date means its first moment (`since`) or the whole day (`until`, whose
    bound is the next midnight); a time without a zone is UTC. None for an empty value."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    except (ValueError, OverflowError):
        raise _unprocessable(f"{name}: a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class Search:
    """One search, as its URL says it (empty values are "any")."""

    q: str = ""
    brand: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    sentiment: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    min_engagement: int | None = None
    sort: MentionSort = MentionSort.newest
    duplicate: bool | None = None  # copies of an earlier post only (True) or none (False)
    spam: bool | None = None  # posts flagged as spam only (True) or none (False)

    @classmethod
    def read(cls, q: str, brand: Sequence[str], source: Sequence[str], lang: Sequence[str],
             sentiment: Sequence[str], topic: Sequence[str], since: str, until: str,
             min_engagement: int | str | None, sort: str, duplicate: str = "", spam: str = "") -> Search:
        """The search these parameters describe; 422 naming the first parameter that is wrong.

        Empty values are dropped (a form's "any" option sends `brand=`)."""
        def kept(values: Sequence[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(v for v in values if v))

        sentiments = kept(sentiment)
        if unknown := [s for s in sentiments if s not in SENTIMENTS]:
            raise _unprocessable(f"sentiment: one of {', '.join(SENTIMENTS)} ({len(unknown)} other value(s) given)")
        if isinstance(min_engagement, str):
            text = min_engagement.strip()
            if text and not (text.isascii() and text.isdigit() and len(text) <= 12):
                raise _unprocessable("min_engagement: a whole number, 0 or more")
            min_engagement = int(text) if text else None
        try:
            order = MentionSort(sort or MentionSort.newest)
        except ValueError:
            raise _unprocessable("sort: newest, oldest or engagement") from None
        parse_bound("since", since, end=False)
        parse_bound("until", until, end=True)
        return cls(q=q.strip(), brand=kept(brand), source=kept(source), lang=kept(lang), sentiment=sentiments,
                   topic=kept(topic), since=since.strip(), until=until.strip(), min_engagement=min_engagement,
                   sort=order, duplicate=parse_flag("duplicate", duplicate), spam=parse_flag("spam", spam))

    def query(self, limit: int, cursor: str | None = None) -> MentionQuery:
        return MentionQuery(
            text=self.q, brands=self.brand, sources=self.source, langs=self.lang, sentiments=self.sentiment,
            topics=self.topic, since=parse_bound("since", self.since, end=False),
            until=parse_bound("until", self.until, end=True), min_engagement=self.min_engagement,
            duplicate=self.duplicate, spam=self.spam, sort=self.sort, limit=limit, cursor=cursor or None,
        )

    @property
    def active(self) -> bool:
        return bool(self.params())

    def params(self) -> list[tuple[str, str]]:
        """The URL parameters of this search (no cursor): what a link to it, or to its export, carries."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        for name in ("brand", "source", "lang", "sentiment", "topic"):
            out += [(name, value) for value in getattr(self, name)]
        out += [(name, value) for name, value in (("since", self.since), ("until", self.until)) if value]
        if self.min_engagement is not None:
            out.append(("min_engagement", str(self.min_engagement)))
        out += [(name, str(value).lower()) for name, value in (("duplicate", self.duplicate), ("spam", self.spam))
                if value is not None]
        if self.sort != MentionSort.newest:
            out.append(("sort", self.sort.value))
        return out
