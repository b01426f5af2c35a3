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
import operator
from collections import defaultdict
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.models import Reading
from monitor.noise.marks import NoiseMark

COUNTS = Reading._fields[1:]  # likes, reposts, replies, quotes, score


@dataclass(frozen=True)
class Merged:
    series: dict[str, list[Reading]]  # first post id -> its cluster's merged readings, oldest first
    copies: dict[str, list[NoiseMark]]  # first post id -> its copies among the mentions given, oldest first


def merge_copies(mentions: Container[str], readings: Mapping[str, Sequence[Reading]],
                 marks: Mapping[str, NoiseMark], copy_as_reposts: int = 1) -> Merged:
    """Each first post's readings with every copy's engagement folded in (its own series replaces
    the post's own readings; a copy's readings count only there).

    `mentions`: the ids of the posts that exist (a mapping of them will do). `readings`: each
    post's snapshots (`Store.readings_of`). `marks` are the noise marks of (at least) the copies
    among them; a first post must be among them for its copies to be folded in (the caller
    loads it), else they are dropped."""
    copies: dict[str, list[NoiseMark]] = defaultdict(list)
    for mid, mark in marks.items():
        if mark.duplicate_of and mid in mentions:
            copies[mark.duplicate_of].append(mark)
    series: dict[str, list[Reading]] = {}
    for root, members in copies.items():
        members.sort(key=lambda m: (m.created_at, m.mention_id))
        if root in mentions:
            series[root] = _merged_series([root, *(m.mention_id for m in members)], readings,
                                          [m.created_at for m in members], copy_as_reposts)
    return Merged(series, dict(copies))


def _merged_series(ids: list[str], readings: Mapping[str, Sequence[Reading]], copy_times: list[datetime],
                   copy_as_reposts: int) -> list[Reading]:
    """The cluster's engagement at each time any member was read or a copy was posted: the sum of
    every member's latest reading by then, plus the copies posted by then as reposts.

    Kept as running totals, each reading replacing its member's previous one: summing every
    member at every time was quadratic in the cluster (a copypasta of a thousand posts was
    most of a big run's detection)."""
    events: list[tuple[datetime, int, int, Reading]] = []
    for k, mid in enumerate(dict.fromkeys(ids)):
        for j, reading in enumerate(sorted(readings.get(mid, ()), key=lambda r: r.observed_at)):
            events.append((reading.observed_at, k, j, reading))
    events.sort(key=lambda e: e[:3])  # a member's readings at one time: the last one given wins
    times = sorted({e[0] for e in events} | set(copy_times))
    latest: dict[int, Reading] = {}  # member -> its latest reading so far
    totals = [0] * len(COUNTS)  # the sum of those, count by count (a total's max(score, 0) is not additive)
    merged = []
    i = 0
    for t in times:
        while i < len(events) and events[i][0] <= t:
            member, reading = events[i][1], events[i][3]
            counts = reading[1:]
            before = latest.get(member)
            if before is not None:  # the member's new reading replaces its previous one in the sums
                counts = tuple(map(operator.sub, counts, before[1:]))
            totals = list(map(operator.add, totals, counts))
            latest[member] = reading
            i += 1
        likes, reposts, *rest = totals
        merged.append(Reading(t, likes, reposts + copy_as_reposts * bisect.bisect_right(copy_times, t), *rest))
    return merged


def copies_by(copies: list[NoiseMark], at: datetime, root_author: str) -> tuple[int, int]:
    """(copies posted by `at`, distinct accounts that had posted the text by then, first post's included)."""
    posted = [c for c in copies if c.created_at <= at]
    return len(posted), len({root_author, *(c.author_handle for c in posted)})
