"""Cases (a post's alerts together) as a store lists them: the order, the cursor, and the grouping
in Python for a store that cannot group in its query.

`CaseQuery` (base.py) says what a case, its primary alert and its state are. SQLite computes
all of it in one SQL query (sqlite/cases.py); Elasticsearch has no way to pick a group's most
severe member inside a query, so it reads the alerts of the states asked for, which its query
does narrow, and groups them with `page_of_cases` here. Both order cases by `case_sort_key`
and share the cursor format, so a page boundary means the same thing in both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from monitor.models import Alert, AlertState, Severity
from monitor.store.base import CasePage, CaseQuery
from monitor.store.paging import decode_cursor, encode_cursor

CASES_ORDER = "cases"  # open first, then most severe, newest, highest id: every part descending
SEVERITY_RANK: dict[Severity, int] = {s: s.rank for s in Severity}

CaseKey = tuple[int, int, str, str]  # (any alert open, severity rank, created_at as fixed-width text, id)


def created_text(alert: Alert) -> str:
    """`created_at` as fixed-width UTC text (the stores' own format), so text order is time order."""
    return alert.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def case_sort_key(primary: Alert, any_open: bool) -> CaseKey:
    return (int(any_open), SEVERITY_RANK[primary.severity], created_text(primary), primary.id)


def case_cursor(key: CaseKey) -> str:
    return encode_cursor(CASES_ORDER, list(key))


def after_cursor(cursor: str) -> CaseKey:
    """The key a page starts after; InvalidQuery if `cursor` is not a cases cursor."""
    any_open, rank, created, alert_id = decode_cursor(cursor, CASES_ORDER, (int, int, str, str))
    return int(any_open), int(rank), str(created), str(alert_id)


def case_state(primary: Alert, any_open: bool) -> AlertState:
    return AlertState.open if any_open else primary.state


def same(value: str | None, wanted: str) -> bool:
    """The filters' comparison: empty wants anything; otherwise equal ignoring case."""
    return not wanted or (value or "").casefold() == wanted.casefold()


@dataclass(frozen=True)
class _Case:
    primary: Alert
    any_open: bool

    @property
    def state(self) -> AlertState:
        return case_state(self.primary, self.any_open)

    @property
    def key(self) -> CaseKey:
        return case_sort_key(self.primary, self.any_open)


def page_of_cases(
    alerts: Iterable[Alert],
    query: CaseQuery,
    post_tags: Callable[[list[str]], Mapping[str, tuple[str | None, str | None]]],
) -> CasePage:
    """The page `query` asks for, out of `alerts` (at least every alert in `query.states` that
    the filters could select). `post_tags` gives the (topic, team) of posts, read only when a
    topic or team filter needs them for primaries without their own."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        if alert.state in query.states:
            key = f"post:{alert.mention_id}" if alert.mention_id else f"alert:{alert.id}"
            groups.setdefault(key, []).append(alert)
    cases = [
        _Case(max(members, key=lambda a: (SEVERITY_RANK[a.severity], created_text(a), a.id)),
              any(a.state == AlertState.open for a in members))
        for members in groups.values()
    ]
    tags: Mapping[str, tuple[str | None, str | None]] = {}
    if query.topic or query.team:
        tags = post_tags([c.primary.mention_id for c in cases if c.primary.mention_id])

    def selected(case: _Case) -> bool:
        a = case.primary
        topic, team = tags.get(a.mention_id or "", (None, None))
        if query.unassigned and a.assignee is not None:
            return False
        return (same(a.brand, query.brand) and same(a.assignee, query.assignee)
                and (query.severity is None or a.severity == query.severity)
                and same(a.topic or topic, query.topic) and same(a.team or team, query.team))

    matching = [c for c in cases if selected(c)]
    counts = {state: 0 for state in AlertState}
    for case in matching:
        counts[case.state] += 1
    shown = sorted((c for c in matching if query.case_state in (None, c.state)), key=lambda c: c.key, reverse=True)
    if query.cursor is not None:
        start = after_cursor(query.cursor)
        shown = [c for c in shown if c.key < start]
    page = shown[: query.limit]
    more = len(shown) > query.limit and query.limit > 0
    return CasePage([c.primary for c in page], case_cursor(page[-1].key) if more and page else None, counts)
