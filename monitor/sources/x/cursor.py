"""The X cursor: JSON, one `QueryState` per query (see source.py's docstring for the hole it records)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from monitor.sources.base import Problem


@dataclass
class QueryState:
    """How far one query has been stored.

    Every post up to `since_id` is stored (before the first post: from `start_time`).
    While `until_id` is set, a fetch stopped early: posts from `until_id` up to
    `newest_id` are stored too, and those older than `until_id` are still to fetch.
    """

    since_id: str | None = None
    start_time: str | None = None
    until_id: str | None = None
    newest_id: str | None = None


def max_id(*ids: str | None) -> str | None:
    present = [i for i in ids if i]
    return max(present, key=int) if present else None


def min_id(*ids: str | None) -> str | None:
    present = [i for i in ids if i]
    return min(present, key=int) if present else None


def is_id(value: object) -> bool:
    return isinstance(value, str) and value.isdigit()


def load_cursor(
    cursor: str | None, queries: Sequence[str], start: datetime
) -> tuple[dict[str, QueryState], list[Problem]]:
    """Each query's state; a query the cursor does not know starts at `start`.

    A bare post id (an older cursor format, or one set by hand) applies to every query.
    An unreadable cursor is reported and the lookback window used instead.
    """
    fresh = lambda: QueryState(start_time=iso(start))  # noqa: E731
    if not cursor:
        return {q: fresh() for q in queries}, []
    if cursor.isdigit():
        return {q: QueryState(since_id=cursor) for q in queries}, []
    try:
        raw = json.loads(cursor)["queries"]
        known = {q: QueryState(**{k: v for k, v in s.items() if k in QueryState.__dataclass_fields__})
                 for q, s in raw.items()}
        for state in known.values():
            for value in (state.since_id, state.until_id, state.newest_id):
                if value is not None and not is_id(value):
                    raise ValueError(f"not a post id: {value!r}")
            if state.start_time is not None:
                parse_iso(state.start_time)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = Problem("x cursor", f"unreadable cursor ({exc}); starting from the lookback window")
        return {q: fresh() for q in queries}, [problem]
    return {q: known.get(q) or fresh() for q in queries}, []


def dump_cursor(states: dict[str, QueryState]) -> str:
    return json.dumps({"v": 1, "queries": {q: asdict(s) for q, s in states.items()}}, sort_keys=True)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
