"""The `Store` protocol: what the pipeline and the web UI need from persistence.

SQLite implements it for the embedded default, Elasticsearch for scale, and one
conformance suite (tests/test_store_conformance.py) holds both to it. Stores are found
by name through the `earshot.stores` entry points (monitor/store/registry.py).

A store persists; it knows no rules. Triage decides what an action does to an alert
(monitor/triage.py) and hands the store that decision as a function, which the store
applies inside its own atomic step (see `Store.record_alert_event` for why).
"""

from __future__ import annotations


from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from monitor.models import (
    Alert, AlertEvent, AlertState, EngagementSnapshot, Mention, Reading, Sentiment, Severity, UnscoredPost,
)
from monitor.noise.marks import ClusterStats, NoiseMark, NoisePost
from monitor.quarantine import Quarantined, model_head, quarantine_digest, record_head  # noqa: F401 - re-exported
from monitor.store.records import ImportResult, Record, RecordExport, RecordKind


@dataclass(frozen=True)
class IngestResult:
    new_mentions: int
    updated_mentions: int
    new_snapshots: int
    quarantined: int = 0  # records set aside this call (bad input, or a mention the backend could not store)


REMOVED_AUTHOR = "[removed]"  # a tombstone's author: the handle is purged with the text and URL


@dataclass(frozen=True)
class Erasure:
    """One entry of the erasure audit log: what was purged, why, by whom, and how much.

    The log records the fact of an erasure, never the erased data (no text, and for a
    right-to-erasure request the subject is the author's handle, which the requester gave)."""

    id: str
    at: datetime
    actor: str
    action: str  # removed (the platform said so) / retention / forget
    subject: str  # the source, the cutoff, or `source:handle`
    reason: str
    mentions: int
    snapshots: int = 0


TREND_BUCKETS = (1, 5, 10, 15, 30, 60)  # minutes; each divides an hour, so buckets align on the clock


def check_bucket(minutes: int) -> None:
    if minutes not in TREND_BUCKETS:
        raise ValueError(f"trend buckets are {', '.join(map(str, TREND_BUCKETS))} minutes, not {minutes}")


@dataclass(frozen=True)
class TrendPoint:
    bucket: datetime  # start of the bucket (the hour, by default)
    source: str
    label: str  # negative / neutral / positive / unscored
    count: int
    brand: str = ""


@dataclass(frozen=True, slots=True)
class PostFacts:
    """What spread detection needs of each post of a brand's week: not the whole mention."""

    brand: str
    created_at: datetime
    negative: bool  # Mention.is_negative: negative text, or a 1-2 star review


# What an action does to an alert: the alert as it is stored now -> the alert after it.
# Raising refuses the action; the store then writes nothing.
ApplyEvent = Callable[[Alert, AlertEvent], Alert]
AlertChange = Callable[[Alert], Alert]


class InvalidQuery(ValueError):
    """A search the store cannot run as asked (a cursor that is not one of its own, a text with
    nothing to look for); the message says what to change. The client's mistake, not the store's."""


# -- finding mentions --------------------------------------------------------------------

UNSCORED = "unscored"  # the sentiment "label" of a mention the model has not scored yet
INBOX_STATES: tuple[AlertState, ...] = (AlertState.open, AlertState.acknowledged)  # what still needs handling


class MentionSort(StrEnum):
    newest = "newest"
    oldest = "oldest"
    engagement = "engagement"  # most interaction first (`Engagement.total`), then newest


@dataclass(frozen=True)
class MentionQuery:
    """Which mentions to find, and which page of them: every filter given must hold; the values
    of one filter are alternatives (`brands=("A", "B")`: either brand).

    `text` is what a person types: words (all must appear, in any case, with or without accents
    where the store folds them), "quoted phrases", `prefix*` and `-excluded` words. Pages are
    keyset pages: `cursor` is the `next_cursor` of the previous page of the same query, opaque
    and only meaningful to the store that made it, so a page never repeats or skips a mention
    because others were stored meanwhile (OFFSET would).
    """

    text: str = ""
    brands: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()  # negative / neutral / positive, or UNSCORED
    topics: tuple[str, ...] = ()
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    min_engagement: int | None = None  # `Engagement.total` at least this
    duplicate: bool | None = None  # True: only copies of an earlier post (monitor/noise); False: no copies
    spam: bool | None = None  # True: only posts flagged as spam (and not overturned); False: none of them
    sort: MentionSort = MentionSort.newest
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class MentionPage:
    mentions: list[Mention]
    next_cursor: str | None  # None: there is no page after this one


# -- the inbox: alerts as cases ----------------------------------------------------------


@dataclass(frozen=True)
class CaseQuery:
    """Which cases to list, and which page: what the inbox shows.

    A case is a post's alerts together (one per severity it escalated through), or a storm
    alert on its own (`monitor.triage.case_key`). Only alerts in `states` count; a case's
    *primary* is its most severe such alert (then the newest, then the highest id), and the
    filters apply to the primary: its brand, severity, assignee, and topic and team (the
    alert's own, else its post's). A case is `open` while any of its alerts is open, else in
    its primary's state; `case_state` keeps only cases in that state. Text filters compare
    case-insensitively. Cases come open first, then most severe, newest, highest id.
    """

    states: tuple[AlertState, ...] = INBOX_STATES
    case_state: AlertState | None = None
    brand: str = ""
    severity: Severity | None = None
    topic: str = ""
    team: str = ""
    assignee: str = ""  # a person or team
    unassigned: bool = False  # only cases nobody has
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class CasePage:
    primaries: list[Alert]  # each case's primary alert, in inbox order
    next_cursor: str | None  # None: there is no page after this one
    # Cases matching every filter except `case_state` and the cursor, per case state: the
    # inbox's "needs attention" and "acknowledged" totals.
    counts: dict[AlertState, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertHandling:
    """What the care-team metrics read of an alert: its state and when it was handled."""

    state: AlertState
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


class AlertContention(RuntimeError):
    """An alert kept changing under an action (others acting on it at that moment); nothing
    was written. A conflict to report ("reload and try again"), not a failure of the store."""


class Store(Protocol):
    def ingest(
        self,
        mentions: Sequence[Mention],
        snapshots: Sequence[EngagementSnapshot],
        cursor_key: str | None = None,
        cursor: str | None = None,
        quarantine: Sequence[Quarantined] = (),
    ) -> IngestResult:
        """Upsert mentions, append snapshots, quarantine bad records and advance the cursor, all or nothing.

        Advancing the cursor in the same transaction is what makes a crash safe: either
        the batch and its cursor are stored, or neither is and the batch is fetched again.
        A mention the backend cannot store is quarantined instead (reported in
        `IngestResult.quarantined`) and the rest of the batch commits.
        """

    def quarantined(self, limit: int = 100) -> list[Quarantined]:
        """Quarantined records, newest first."""

    def count_quarantined(self) -> int: ...

    def get_cursor(self, key: str) -> str | None: ...

    def set_cursor(self, key: str, value: str) -> None: ...

    def get_mention(self, mention_id: str) -> Mention | None: ...

    def get_mentions(self, mention_ids: Iterable[str]) -> dict[str, Mention]: ...

    def count_mentions(self) -> int: ...

    def search_mentions(self, query: MentionQuery) -> MentionPage:
        """One page of the mentions `query` finds, in its order; InvalidQuery for a cursor that is
        not this store's or a text with nothing to look for.

        The store does the finding, filtering, ordering and paging (a full-text index and
        keyset pages), so a page costs about the same on the first page and the thousandth,
        however many mentions are stored.
        """

    def recent_mentions(self, source: str, since: datetime, limit: int = 1000) -> list[Mention]:
        """Mentions from `source` created at or after `since`, newest first: the ones whose spread to follow."""

    def count_snapshots(self) -> int: ...

    def unscored_mentions(self, limit: int = 1000) -> list[Mention]: ...

    def unscored_posts(self, limit: int = 1000, brand: str | None = None, since: datetime | None = None,
                       until: datetime | None = None) -> list[UnscoredPost]:
        """The same mentions as `unscored_mentions`, in the same order, as the few fields scoring
        reads (what the scoring step reads: every post of a run, page by page). `brand`, `since`
        (created at or after) and `until` (created before): only those, a scoring chunk's posts."""

    def set_sentiments(self, results: Sequence[tuple[str, Sentiment]]) -> None: ...

    def set_languages(self, results: Sequence[tuple[str, str]]) -> None:
        """Store the detected language of mentions whose source did not say."""

    def set_topics(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        """Tag mentions with (mention_id, topic, team); like sentiment, a re-fetch keeps the tag."""

    def snapshots_since(self, since: datetime, until: datetime | None = None,
                        brand: str | None = None) -> list[EngagementSnapshot]:
        """Snapshots observed at or after `since` (and at or before `until`, of `brand`'s mentions, when
        given), oldest first: a detector judging one brand's time partition reads only that."""

    def engagement_points(self, since: datetime, until: datetime | None = None,
                          brand: str | None = None) -> list[tuple[str, datetime, int]]:
        """(mention id, observed at, engagement total) of the snapshots `snapshots_since` gives, in
        its order: what spread detection reads of a week of snapshots, without building each one."""

    def post_facts(self, mention_ids: Iterable[str]) -> dict[str, PostFacts]:
        """Brand, creation time and sign of each of these mentions (absent ones left out): what
        spread detection reads of every post in its window, without building whole mentions."""

    def snapshots_for(self, mention_id: str) -> list[EngagementSnapshot]: ...

    def snapshots_of(self, mention_ids: Iterable[str]) -> dict[str, list[EngagementSnapshot]]:
        """The snapshots of each of these mentions, oldest first, in one read: a page of inbox
        cards draws its sparklines from one query, not one per card. A mention without
        snapshots is absent."""

    def readings_of(self, mention_ids: Iterable[str]) -> dict[str, list[Reading]]:
        """`snapshots_of`, each snapshot as a `Reading` (its time and counts): what spread detection
        reads of every copy cluster in its window, to sum them field by field."""

    def latest_observation(self) -> datetime | None:
        """The newest snapshot time: the pipeline's notion of "now", which replays move forward."""

    def add_alert(self, alert: Alert) -> bool:
        """Store a new alert; False (and no change) if an alert with that id already exists."""

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def alerts_for(self, mention_ids: Iterable[str]) -> list[Alert]: ...

    def alerts(self, states: Sequence[AlertState] | None = None, limit: int = 200) -> list[Alert]:
        """Newest first."""

    def count_alerts_by_state(self) -> dict[AlertState, int]:
        """How many alerts are in each state (every state present, 0 if none), counted by the
        store: the totals every page shows, which must not load the alerts to count them."""

    def alert_cases(self, query: CaseQuery) -> CasePage:
        """One page of the cases `query` selects (see `CaseQuery`), with the totals per case state;
        InvalidQuery for a cursor that is not this store's.

        The store groups, filters, orders and pages, so the inbox reads one page of cases, not
        every alert; `limit=0` answers only the totals.
        """

    def update_alert(self, alert_id: str, change: AlertChange) -> Alert:
        """Apply `change` to the stored alert and persist its handling (state, assignee, handling
        times) in one atomic step, without an audit entry; KeyError for an unknown alert.

        `change` runs inside that step, on the alert as stored at that moment (and again if
        another writer got in between), so no concurrent change is lost. What a change does is
        the caller's: `monitor.triage.set_state` moves an alert and stamps its handling times.
        """

    def record_alert_event(self, event: AlertEvent, apply: ApplyEvent) -> Alert:
        """Append `event` to its alert's audit trail and persist `apply(alert, event)`, in one
        atomic step; returns the alert as stored.

        The rules are the caller's (`monitor.triage.apply_event`); the store calls `apply`
        inside its transaction on the alert as stored at that moment, and if another writer
        changed the alert in between, calls it again on the new state. So when two agents act
        at once, only one state change wins: `apply` refuses the other (`triage.StateConflict`,
        a state event whose `from_state` is no longer the alert's state) and nothing of it is
        stored. If the alert keeps changing under the action, `AlertContention`.

        Why the store takes the rule rather than triage applying it first and asking the store
        to write the result: applying and writing must be one atomic step, and only the store
        can make them one (a SQLite transaction; a single Elasticsearch write guarded by
        `if_seq_no`, retried on a conflict). Triage applying first would need a version token in
        the protocol and its own re-read-and-retry loop: the same loop, kept apart from the
        write it guards.

        KeyError for an unknown alert. An event whose id is already stored changes nothing (a
        retry is safe) and the alert as stored is returned, while a call that writes the event
        returns `apply`'s own result: which of the two came back tells a caller whether it was
        the one to record the event (monitor/replies/desk.py posts a reply only then). The
        trail is append-only: no method edits or deletes an event.
        """

    def alert_events(self, alert_ids: Iterable[str]) -> list[AlertEvent]:
        """The audit trail of these alerts, oldest first (same time: in the order recorded)."""

    def alerts_created(self, since: datetime, until: datetime) -> list[Alert]:
        """Alerts created in [since, until), oldest first: what handling metrics are computed over."""

    def alert_handling(self, since: datetime, until: datetime) -> list[AlertHandling]:
        """The handling of the alerts created in [since, until), in no particular order: what the
        metrics beside the inbox need, on every page, without reading whole alerts (a third of
        the inbox's time on a large store went to reading a week of alerts for four fields)."""

    def undelivered_alerts(self, channel: str) -> list[Alert]:
        """Alerts not yet delivered to `channel`, oldest first: the outbox."""

    def claim_delivery(self, alert_id: str, channel: str, owner: str, until: datetime, now: datetime) -> bool:
        """Claim the right to send `alert_id` to `channel` until `until`; False if it is delivered,
        or claimed by another sender whose claim has not expired by `now`.

        This is what makes concurrent runs send each alert to each channel once: a sender
        sends only what it has claimed, and a crashed sender's claim lapses for a successor.
        """

    def release_delivery(self, alert_id: str, channel: str, owner: str) -> None:
        """Give up a claim (the send failed), so the next run can try at once."""

    def mark_delivered(self, alert_id: str, channel: str) -> None:
        """Record the delivery (and drop its claim): the alert leaves this channel's outbox."""

    def trend(self, since: datetime | None = None, brand: str | None = None,
              bucket_minutes: int = 60) -> list[TrendPoint]:
        """Mentions per bucket (an hour, or `TREND_BUCKETS` minutes) by brand, source and sentiment label,
        for trend charts and storm detection."""

    def export_records(self, kind: RecordKind, page_size: int = 1000) -> RecordExport:
        """Every record of `kind` this store holds, page by page, for another store's `import_records`.

        Only reads, whatever the store (`SQLiteStore.read_only` copies a file it must not change).
        """

    def import_records(self, kind: RecordKind, records: Iterable[Record]) -> ImportResult:
        """Store records another store exported, as they are: what is there with the same id is
        replaced, so importing twice changes nothing, except the audit trail, which is
        append-only: an event already there is left as it is (and counts as stored).

        A record that cannot be stored is reported in `ImportResult.failures`, not raised; the
        rest are stored. Readable when this returns; a store may make them readable only at the
        end (Elasticsearch refreshes once per call, never per page).
        """

    # -- noise: copies and spam (monitor/noise) -------------------------------------------

    def unmarked_mentions(self, limit: int = 1000) -> list[Mention]:
        """Mentions noise handling has not judged yet, oldest first."""

    def unjudged_posts(self, limit: int = 1000, since: datetime | None = None,
                       brand: str | None = None) -> list[NoisePost]:
        """The same mentions as `unmarked_mentions`, in the same order, as the few fields judging
        reads (what the noise step reads: thousands a run). `since`: only those created at or
        after it; a run passes its last chunk's newest post, so each read starts where the last
        one stopped instead of walking past every post the run has judged (quadratic in a big run).
        `brand`: only that brand's (copies are found per brand, so each brand can be judged by a
        task of its own)."""

    def noise_candidates(self, bands: Iterable[str], since: datetime, until: datetime | None = None
                         ) -> list[NoiseMark]:
        """The marks of mentions created at or after `since` (and at or before `until`, if given)
        that share any of these LSH band keys: where a new post looks for the post it may copy.
        The store is the LSH index; a big run asks it only for what it does not hold itself."""

    def newest_judged(self, brand: str | None = None) -> datetime | None:
        """When the newest judged mention (of `brand`, if given) was created; None if none is. A
        noise run reads it once: if it is older than a chunk's window, no stored mark can be that
        chunk's candidate, and the run finds the ones it judged itself in memory
        (monitor/noise/marking.py)."""

    def set_noise(self, marks: Sequence[NoiseMark]) -> None:
        """Store these marks (a mention's earlier mark is replaced, but a person's `not_spam` is
        kept: a re-run of the scorer never overturns what the care team decided)."""

    def noise_of(self, mention_ids: Iterable[str], copies_only: bool = False) -> dict[str, NoiseMark]:
        """The marks of these mentions; a mention not judged yet is absent. `copies_only`: only the
        marks of copies (spread detection asks which of a week's posts are copies: a fifth, say)."""

    def clusters(self, root_ids: Iterable[str]) -> dict[str, ClusterStats]:
        """What the copies of each of these first posts add up to; a post without copies is absent."""

    def set_not_spam(self, mention_id: str, not_spam: bool) -> NoiseMark:
        """Record a person's verdict on a mention's spam flag (True: not spam); KeyError if the
        mention has not been judged. The audit entry is triage's (`monitor.triage.mark_not_spam`)."""

    def duplicate_trend(self, since: datetime | None = None, brand: str | None = None,
                        bucket_minutes: int = 60) -> list[TrendPoint]:
        """Like `trend`, counting only the copies of earlier posts: what storm detection takes
        out of the volume so that one text posted by a bot ring is not a storm of voices."""

    # -- removals, retention and erasure (monitor/removals.py decides; the store purges) --------

    def tombstone(self, removals: Sequence[tuple[str, str]], at: datetime) -> int:
        """Turn these mentions (id, reason) into tombstones: text, title, author and URL purged,
        `removed`/`removed_at` set, out of the text search; id, source, brand, times, engagement,
        snapshots and alerts stay, so counts and the triage history stay whole. A re-fetch never
        brings a tombstone back. Unknown ids and mentions already removed are skipped; returns
        how many became tombstones."""

    def mention_ids_by_author(self, handle: str, source: str | None = None) -> list[str]:
        """Every stored mention by this author (case-insensitive), from one source or all: what a
        right-to-erasure request covers."""

    def purge_older_than(self, cutoff: datetime) -> tuple[int, int]:
        """Retention: mentions created and snapshots observed before `cutoff` are deleted; a mention an
        alert refers to becomes a tombstone instead (reason `retention`), so the alert keeps its
        post. Returns (mentions purged, snapshots deleted)."""

    def add_erasure(self, entry: Erasure) -> None:
        """Append an entry to the erasure audit log."""

    def erasures(self, limit: int = 100) -> list[Erasure]:
        """The erasure audit log, newest first."""

    def close(self) -> None:
        """Release the connection; the store is not used afterwards."""
