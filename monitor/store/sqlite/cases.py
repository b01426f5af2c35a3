"""The inbox's cases in SQL: grouped, filtered, ordered, counted and paged by SQLite.

`CaseQuery` (monitor/store/base.py) defines a case, its primary alert and its state. The inbox
(open and acknowledged cases) is read on every page, so its cases are kept as rows of their
own: `inbox_cases` holds each case's primary (its most severe active alert, else its most severe
one) and whether any of its alerts is open, refreshed by triggers on `alerts` whenever an alert
is stored, changed or removed, by this store or any other writer of the file. A page is then a
keyset range of one index, and the totals a count over that index: what a request costs no
longer grows with the number of alerts. Before, the inbox loaded 500 alerts as objects and
grouped them in Python (and could show no other 500).

Other candidate states (the closed cases: `states=(resolved,)`) are computed from `alerts` with
window functions instead, which reads every alert of those states: rare lists, not the inbox.

Filters compare case-insensitively like the inbox always has, through the connection's
`casefold` function (Python's, so "GARCÍA" equals "García", which SQLite's NOCASE does not).
"""

from __future__ import annotations

import sqlite3

from monitor.models import AlertState
from monitor.store.base import INBOX_STATES, CaseQuery, InvalidQuery
from monitor.store.cases import CaseKey, after_cursor, case_cursor

ACTIVE = "('open', 'acknowledged')"
RANK = "CASE {a}.severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END"
STATE_TOTALS = ", ".join(f"SUM(case_state = '{s.value}') OVER () AS n_{s.value}" for s in AlertState)
CASE_COLUMNS = ("case_key, alert_id, mention_id, active, any_open, rank, created_at, brand, severity, state, assignee,"
                " topic, team")


def _refresh(row: str) -> str:
    """Statements that recompute the case of alert `row` (NEW or OLD, in a trigger) from `alerts`."""
    members = "{a}.mention_id IS " + row + ".mention_id AND (" + row + ".mention_id IS NOT NULL OR {a}.id = " + row + ".id)"
    key = f"COALESCE('post:' || {row}.mention_id, 'alert:' || {row}.id)"
    return f"""
    DELETE FROM inbox_cases WHERE case_key = {key};
    INSERT INTO inbox_cases ({CASE_COLUMNS})
    SELECT {key}, a.id, a.mention_id, a.state IN {ACTIVE},
           EXISTS (SELECT 1 FROM alerts o WHERE {members.format(a="o")} AND o.state = 'open'),
           {RANK.format(a="a")}, a.created_at, a.brand, a.severity, a.state, a.assignee, a.topic, a.team
    FROM alerts a WHERE {members.format(a="a")}
    ORDER BY a.state IN {ACTIVE} DESC, {RANK.format(a="a")} DESC, a.created_at DESC, a.id DESC LIMIT 1;"""


CASES_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS inbox_cases (
    case_key TEXT PRIMARY KEY,  -- monitor.triage.case_key: 'post:<mention id>', or 'alert:<id>' for a storm
    alert_id TEXT NOT NULL,  -- the primary: the most severe active alert (then newest, highest id), else the most severe
    mention_id TEXT,
    active INTEGER NOT NULL,  -- the case has an open or acknowledged alert
    any_open INTEGER NOT NULL,  -- one of its alerts is open: the case needs attention
    rank INTEGER NOT NULL,  -- the primary's severity: 0 info, 1 warning, 2 critical
    created_at TEXT NOT NULL,  -- and the rest, of the primary
    brand TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    assignee TEXT,
    topic TEXT,
    team TEXT
);
CREATE INDEX IF NOT EXISTS inbox_cases_order ON inbox_cases(active, any_open, rank, created_at, alert_id);
CREATE TRIGGER IF NOT EXISTS alerts_case_insert AFTER INSERT ON alerts BEGIN {_refresh("NEW")}
END;
CREATE TRIGGER IF NOT EXISTS alerts_case_update AFTER UPDATE ON alerts BEGIN {_refresh("OLD")} {_refresh("NEW")}
END;
CREATE TRIGGER IF NOT EXISTS alerts_case_delete AFTER DELETE ON alerts BEGIN {_refresh("OLD")}
END;
"""

REBUILD = f"""
INSERT OR REPLACE INTO inbox_cases ({CASE_COLUMNS})
SELECT case_key, id, mention_id, active, any_open, rank, created_at, brand, severity, state, assignee, topic, team
FROM (
    SELECT a.*, {RANK.format(a="a")} AS rank, a.state IN {ACTIVE} AS active,
           COALESCE('post:' || a.mention_id, 'alert:' || a.id) AS case_key,
           ROW_NUMBER() OVER (PARTITION BY COALESCE('post:' || a.mention_id, 'alert:' || a.id)
               ORDER BY a.state IN {ACTIVE} DESC, {RANK.format(a="a")} DESC, a.created_at DESC, a.id DESC) AS nth,
           MAX(a.state = 'open') OVER (PARTITION BY COALESCE('post:' || a.mention_id, 'alert:' || a.id)) AS any_open
    FROM alerts a
) WHERE nth = 1
"""


def create_cases(db: sqlite3.Connection) -> None:
    """The cases table and its triggers; when it is new (a file from before it), filled from the
    alerts in the same transaction, so a file never has the table without its rows."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inbox_cases'").fetchone():
        db.executescript(CASES_SCHEMA)  # triggers a file might lack; nothing if all is there
        return
    db.executescript(f"BEGIN IMMEDIATE; {CASES_SCHEMA} {REBUILD}; COMMIT;")


def _next(rows: list[sqlite3.Row], limit: int) -> tuple[list[sqlite3.Row], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    key: CaseKey = (int(last["any_open"]), int(last["rank"]), last["created_at"], last["id"])
    return rows, case_cursor(key)


def _inbox_rows(db: sqlite3.Connection, query: CaseQuery) -> tuple[list[sqlite3.Row], dict[AlertState, int], str | None]:
    """The inbox from `inbox_cases`: one index range for the page, one count for the totals."""
    where = ["c.active = 1"]
    params: list[object] = []
    if query.brand:
        where.append("casefold(c.brand) = casefold(?)")
        params.append(query.brand)
    if query.severity is not None:
        where.append("c.severity = ?")
        params.append(query.severity.value)
    if query.unassigned:
        where.append("c.assignee IS NULL")
    if query.assignee:
        where.append("casefold(c.assignee) = casefold(?)")
        params.append(query.assignee)
    tagged = bool(query.topic or query.team)
    if query.topic:
        where.append("casefold(COALESCE(c.topic, m.topic)) = casefold(?)")
        params.append(query.topic)
    if query.team:
        where.append("casefold(COALESCE(c.team, m.team)) = casefold(?)")
        params.append(query.team)
    source = "inbox_cases c" + (" LEFT JOIN mentions m ON m.id = c.mention_id" if tagged else "")
    found = dict(db.execute(f"SELECT c.any_open, COUNT(*) FROM {source} WHERE {' AND '.join(where)}"
                            " GROUP BY c.any_open", params).fetchall())
    counts = {s: 0 for s in AlertState}
    counts[AlertState.open], counts[AlertState.acknowledged] = found.get(1, 0), found.get(0, 0)
    if query.limit == 0:
        return [], counts, None
    if query.case_state is not None:
        state = AlertState(query.case_state)
        if state not in INBOX_STATES:
            return [], counts, None
        where.append("c.any_open = ?")
        params.append(int(state == AlertState.open))
    if query.cursor is not None:
        where.append("(c.any_open, c.rank, c.created_at, c.alert_id) < (?, ?, ?, ?)")
        params.extend(after_cursor(query.cursor))
    rows = db.execute(
        f"SELECT a.*, c.any_open, c.rank FROM {source} JOIN alerts a ON a.id = c.alert_id"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY c.any_open DESC, c.rank DESC, c.created_at DESC, c.alert_id DESC LIMIT ?",
        [*params, query.limit + 1],
    ).fetchall()
    page, next_cursor = _next(rows, query.limit)
    return page, counts, next_cursor


def case_rows(db: sqlite3.Connection, query: CaseQuery) -> tuple[list[sqlite3.Row], dict[AlertState, int], str | None]:
    """The primaries of one page of cases, the totals per case state, and the next page's cursor."""
    if query.limit < 0:
        raise InvalidQuery("limit: 0 or more")
    if set(query.states) == set(INBOX_STATES):
        return _inbox_rows(db, query)
    return _window_rows(db, query)


def _window_rows(db: sqlite3.Connection, query: CaseQuery) -> tuple[list[sqlite3.Row], dict[AlertState, int], str | None]:
    """Cases of other candidate states, grouped from `alerts` with window functions."""
    states = [AlertState(s).value for s in query.states] or [s.value for s in AlertState]
    candidates = [f"a.state IN ({','.join('?' * len(states))})"]
    params: list[object] = [*states]
    if query.brand:  # every alert of a post has the post's brand, so this may narrow the candidates
        candidates.append("casefold(a.brand) = casefold(?)")
        params.append(query.brand)
    tagged = bool(query.topic or query.team)
    filters = ["r.nth = 1"]
    if query.severity is not None:
        filters.append("r.severity = ?")
        params.append(query.severity.value)
    if query.unassigned:
        filters.append("r.assignee IS NULL")
    if query.assignee:
        filters.append("casefold(r.assignee) = casefold(?)")
        params.append(query.assignee)
    if query.topic:
        filters.append("casefold(COALESCE(r.topic, m.topic)) = casefold(?)")
        params.append(query.topic)
    if query.team:
        filters.append("casefold(COALESCE(r.team, m.team)) = casefold(?)")
        params.append(query.team)
    cases = f"""
        WITH candidates AS (
            SELECT a.*, {RANK.format(a='a')} AS rank, COALESCE('post:' || a.mention_id, 'alert:' || a.id) AS case_key
            FROM alerts a WHERE {' AND '.join(candidates)}
        ), ranked AS (
            SELECT c.*,
                   ROW_NUMBER() OVER (PARTITION BY case_key ORDER BY rank DESC, created_at DESC, id DESC) AS nth,
                   MAX(state = 'open') OVER (PARTITION BY case_key) AS any_open
            FROM candidates c
        ), cases AS (
            SELECT r.*, CASE WHEN r.any_open THEN 'open' ELSE r.state END AS case_state
            FROM ranked r {'LEFT JOIN mentions m ON m.id = r.mention_id' if tagged else ''}
            WHERE {' AND '.join(filters)}
        ), counted AS (
            SELECT cases.*, {STATE_TOTALS} FROM cases
        )"""
    page_filters: list[str] = []
    page_params: list[object] = []
    if query.case_state is not None:
        page_filters.append("case_state = ?")
        page_params.append(AlertState(query.case_state).value)
    if query.cursor is not None:
        page_filters.append("(any_open, rank, created_at, id) < (?, ?, ?, ?)")
        page_params.extend(after_cursor(query.cursor))
    where = " WHERE " + " AND ".join(page_filters) if page_filters else ""
    rows = db.execute(
        f"{cases} SELECT * FROM counted{where} ORDER BY any_open DESC, rank DESC, created_at DESC, id DESC LIMIT ?",
        [*params, *page_params, max(query.limit, 1) + 1],
    ).fetchall()
    if rows:
        counts = {s: rows[0][f"n_{s.value}"] or 0 for s in AlertState}
    else:  # nothing on this page: the totals from the cases themselves
        found = dict(db.execute(f"{cases} SELECT case_state, COUNT(*) FROM cases GROUP BY case_state",
                                params).fetchall())
        counts = {s: found.get(s.value, 0) for s in AlertState}
    if query.limit == 0:
        return [], counts, None
    page, next_cursor = _next(rows, query.limit)
    return page, counts, next_cursor
