"""What a cluster of copies adds to its first post, for spread detection.

A copy raises no alert of its own; instead its engagement, and the copy itself (as
`copy_as_reposts` reposts), count towards the first post's: fifty people posting the same
complaint is that complaint spreading, and the first post's alert is where the care team
should see it. Each merged reading at time t uses only what was known at t (each member's
latest snapshot by then, and the copies posted by then), so the merge keeps spread detection
independent of how runs are batched.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from monitor.models import Engagement, EngagementSnapshot
from monitor.noise.marks import NoiseMark

FIELDS = ("likes", "reposts", "replies", "quotes", "score")


@dataclass(frozen=True)
class Merged:
    snapshots: list[EngagementSnapshot]  # copies' own left out; each first post's carries its cluster's
    copies: dict[str, list[NoiseMark]]  # first post id -> its copies among the mentions given, oldest first


def merge_copies(mentions: Container[str], snapshots: Iterable[EngagementSnapshot],
                 marks: Mapping[str, NoiseMark], copy_as_reposts: int = 1) -> Merged:
    """Snapshots with every copy's engagement folded into its first post's series.

    `mentions`: the ids of the posts that exist (a mapping of them will do). `marks` are the noise
    marks of (at least) the copies among them; a first post must be among them for its copies to
    be folded in (the caller loads it), else they are dropped."""
    series: dict[str, list[EngagementSnapshot]] = defaultdict(list)
    for snap in snapshots:
        series[snap.mention_id].append(snap)
    copies: dict[str, list[NoiseMark]] = defaultdict(list)
    for mid, mark in marks.items():
        if mark.duplicate_of and mid in mentions:
            copies[mark.duplicate_of].append(mark)
    out: list[EngagementSnapshot] = []
    for mid, snaps in series.items():
        mark = marks.get(mid)
        if mark is not None and mark.duplicate_of:
            continue  # a copy: its engagement goes to its first post
        if mid not in copies:
            out += snaps
    for root, members in copies.items():
        members.sort(key=lambda m: (m.created_at, m.mention_id))
        if root not in mentions:
            continue
        out += _merged_series(root, [root, *(m.mention_id for m in members)], series,
                              [m.created_at for m in members], copy_as_reposts)
    out.sort(key=lambda s: (s.observed_at, s.mention_id))
    return Merged(out, dict(copies))


def _merged_series(root: str, ids: list[str], series: Mapping[str, list[EngagementSnapshot]],
                   copy_times: list[datetime], copy_as_reposts: int) -> list[EngagementSnapshot]:
    """The cluster's engagement at each time any member was read or a copy was posted: the sum of
    every member's latest reading by then, plus the copies posted by then as reposts.

    Kept as running totals, each reading replacing its member's previous one: summing every
    member at every time was quadratic in the cluster (a copypasta of a thousand posts was
    most of a big run's detection)."""
    events: list[tuple[datetime, int, int, str, Engagement]] = []
    for k, mid in enumerate(dict.fromkeys(ids)):
        for j, snap in enumerate(sorted(series.get(mid, []), key=lambda s: s.observed_at)):
            events.append((snap.observed_at, k, j, mid, snap.engagement))
    events.sort(key=lambda e: e[:3])  # a member's readings at one time: the last one given wins
    times = sorted({e[0] for e in events} | set(copy_times))
    latest: dict[str, Engagement] = {}
    totals = dict.fromkeys(FIELDS, 0)
    merged = []
    i = 0
    for t in times:
        while i < len(events) and events[i][0] <= t:
            mid, engagement = events[i][3], events[i][4]
            before = latest.get(mid)
            for f in FIELDS:
                totals[f] += getattr(engagement, f) - (getattr(before, f) if before is not None else 0)
            latest[mid] = engagement
            i += 1
        total = dict(totals)
        total["reposts"] += copy_as_reposts * bisect.bisect_right(copy_times, t)
        merged.append(EngagementSnapshot(mention_id=root, observed_at=t, engagement=Engagement(**total)))
    return merged


def copies_by(copies: list[NoiseMark], at: datetime, root_author: str) -> tuple[int, int]:
    """(copies posted by `at`, distinct accounts that had posted the text by then, first post's included)."""
    posted = [c for c in copies if c.created_at <= at]
    return len(posted), len({root_author, *(c.author_handle for c in posted)})
