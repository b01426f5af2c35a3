"""The Reddit cursor: per listing, a watermark and where a fetch that stopped early left off
(see source.py's docstring)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from monitor.sources.base import Problem


@dataclass
class Mark:
    """The newest creation time stored, and the fullnames created in exactly that second."""

    ts: float
    ids: list[str] = field(default_factory=list)

    def covers(self, created: float, fullname: str) -> bool:
        return created < self.ts or (created == self.ts and fullname in self.ids)

    def merged(self, created: float, fullname: str) -> Mark:
        if created > self.ts:
            return Mark(created, [fullname])
        if created == self.ts and fullname not in self.ids:
            return Mark(self.ts, [*self.ids, fullname])
        return self


def newer(a: Mark | None, b: Mark | None) -> Mark | None:
    if a is None or b is None:
        return a or b
    if a.ts != b.ts:
        return a if a.ts > b.ts else b
    return Mark(a.ts, list(dict.fromkeys([*a.ids, *b.ids])))


@dataclass
class ListingState:
    """What one listing has stored: everything up to `mark`; while draining, also down to `after`."""

    mark: Mark
    after: str | None = None  # a fetch stopped here; older items down to `mark` are still to fetch
    drained: Mark | None = None  # the newest item stored since the drain began


def load_cursor(cursor: str | None, keys: Sequence[str], start: float) -> tuple[dict[str, ListingState], list[Problem]]:
    fresh = lambda: ListingState(Mark(start))  # noqa: E731
    if not cursor:
        return {k: fresh() for k in keys}, []
    try:
        raw = json.loads(cursor)["listings"]
        known = {}
        for key, value in raw.items():
            drained = value.get("drained")
            known[key] = ListingState(
                mark=Mark(float(value["mark"]["ts"]), [str(i) for i in value["mark"]["ids"]]),
                after=str(value["after"]) if value.get("after") else None,
                drained=Mark(float(drained["ts"]), [str(i) for i in drained["ids"]]) if drained else None,
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = Problem("reddit cursor", f"unreadable cursor ({exc!r}); starting from the lookback window")
        return {k: fresh() for k in keys}, [problem]
    return {k: known.get(k) or fresh() for k in keys}, []


def dump_cursor(states: dict[str, ListingState]) -> str:
    return json.dumps({"v": 1, "listings": {k: asdict(s) for k, s in states.items()}}, sort_keys=True)
