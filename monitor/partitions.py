"""The pipeline's work cut into bounded chunks, by brand and time partition, so it can scale out.

Scoring and detection are the steps whose cost grows with the input. Here each is split into
chunks a worker can do on its own, in bounded memory, against the shared store:

* a `ScoreChunk` is one brand's unscored posts created in one span of hours, at most about
  `scale.score_chunk_posts` of them when planned (`plan_scoring`); `score_chunk` scores it page
  by page, so even a chunk that grew meanwhile is read in bounded pages;
* noise (copies and spam, monitor/noise) is judged one brand at a time (`plan_noise`,
  `judge_brand`): a post is only compared with its own brand's, so the brands' task instances
  run side by side, and beside scoring, which they do not read;
* a `DetectChunk` is one brand judged over one time partition of the detection window
  (`plan_detection`): the detectors restricted to that brand (`DetectorContext.only_brands`),
  judging what was observed after `since` and by `until`, each reading its own history before
  `since` as it always does (`Detector.history_needed`).

`detect_chunk` returns candidate alerts without storing them, and `commit_alerts` stores
them, all chunks' together, in time order. That is what makes N chunks raise exactly the
alerts one process does, whatever order the chunks ran in: a post is alerted again only
when it climbs to a higher severity, and which severities are "climbs" depends on the
alerts before it. Each chunk decides that from the alerts of earlier runs, and keeps its
own climbs; the climbs of the whole sequence are exactly the climbs of each chunk that
still climb past everything before them, which is what `commit_alerts` keeps. Storm alerts
depend on nothing stored (their cool-down is recomputed from the counts), so they pass.

The Airflow DAG (`monitor.orchestration`) maps one task instance over each chunk, so a
CeleryExecutor or KubernetesExecutor deployment spreads them over its workers; `earshot
run` (`monitor.pipeline`) goes through the same functions one chunk at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.collector import fewer_collections
from monitor.config import Config
from monitor.models import Alert, AlertKind, Severity
from monitor.noise.marks import NoiseStats
from monitor.store import Store
from monitor.store.base import UNSCORED

DETECT_WATERMARK = "detect:watermark"
PLAN_BUCKET_MINUTES = 5  # scoring chunks are cut on these buckets of posting time


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class ScoreChunk:
    """One brand's unscored posts created in [start, end) (None: unbounded on that side)."""


    brand: str
    start: datetime | None
    end: datetime | None
    planned: int  # how many were pending when it was planned

    def to_json(self) -> dict[str, Any]:
        return {"brand": self.brand, "start": _iso(self.start), "end": _iso(self.end), "planned": self.planned}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreChunk:
        return cls(data["brand"], _parse(data["start"]), _parse(data["end"]), int(data["planned"]))


@dataclass(frozen=True)
class DetectChunk:
    """One brand judged over (since, until]: `since` None is the first run, which judges everything before."""

    brand: str
    since: datetime | None
    until: datetime

    def to_json(self) -> dict[str, Any]:
        return {"brand": self.brand, "since": _iso(self.since), "until": self.until.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectChunk:
        until = _parse(data["until"])
        assert until is not None
        return cls(data["brand"], _parse(data["since"]), until)


@dataclass(frozen=True)
class DetectionPlan:
    chunks: list[DetectChunk]
    watermark: datetime | None  # what to record once every chunk is committed (None: nothing to do)


# -- scoring ---------------------------------------------------------------------------------


def plan_scoring(config: Config, store: Store) -> list[ScoreChunk]:
    """Chunks of at most about `scale.score_chunk_posts` pending posts: each brand's pending posts by
    5 minutes of posting, consecutive buckets together (a bucket is never split). Read from the store's
    counts, never the posts."""
    limit = config.scale.score_chunk_posts
    pending: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for point in store.trend(None, bucket_minutes=PLAN_BUCKET_MINUTES):
        if point.label == UNSCORED:
            pending[point.brand][point.bucket] += point.count
    chunks: list[ScoreChunk] = []
    for brand in sorted(pending):
        hours = sorted(pending[brand].items())
        start: datetime | None = None  # the first chunk also takes anything older
        count = 0
        for i, (hour, n) in enumerate(hours):
            if count and count + n > limit:
                chunks.append(ScoreChunk(brand, start, hour, count))
                start, count = hour, 0
            count += n
            if i == len(hours) - 1:
                chunks.append(ScoreChunk(brand, start, None, count))  # the last also takes anything newer
    return chunks


@fewer_collections()
def score_chunk(config: Config, store: Store, chunk: ScoreChunk, scorer=None, classifier=None) -> int:
    """Score one chunk page by page (a page is what one `score()` step holds); returns how many."""
    from monitor import pipeline
    from monitor.topics import build_classifier

    classifier = classifier or build_classifier(config.topics)
    step = config.sentiment.batch_size * 8
    done = 0
    previous: set[str] = set()
    while page := store.unscored_posts(limit=step, brand=chunk.brand, since=chunk.start, until=chunk.end):
        ids = {m.id for m in page}
        if ids <= previous:
            raise RuntimeError(f"the store keeps returning {len(page)} scored mention(s) as unscored; "
                               "refusing to loop")
        previous = ids
        if scorer is None:
            from sentiment.backends import build_backend

            scorer = build_backend(config.sentiment)
        pipeline.score_chunk(store, page, scorer, classifier)
        done += len(page)
    return done


# -- noise -----------------------------------------------------------------------------------


def plan_noise(config: Config) -> list[str]:
    """The brands whose new posts are judged for copies and spam, one task instance each.

    The configured brands, not a read of the store: posts of a brand no longer configured are
    judged by `plan_detection`'s pass over whatever is left."""
    return [brand.name for brand in config.brands]


@fewer_collections()
def judge_brand(config: Config, store: Store, brand: str) -> NoiseStats:
    """Judge one brand's posts not judged yet (`pipeline.judge_noise` restricted to the brand)."""
    from monitor.pipeline import judge_noise

    return judge_noise(config, store, brand)


# -- detection -------------------------------------------------------------------------------


@fewer_collections()
def plan_detection(config: Config, store: Store, partition_hours: int | None = None,
                   max_partitions: int | None = None, judge_noise_first: bool = True) -> DetectionPlan:
    """Each brand times each time partition of (watermark, newest observation]; none when nothing is new.

    Partitions end on multiples of `partition_hours` (default `scale.detect_partition_hours`), at
    most `max_partitions` per brand (`scale.max_detect_partitions`; the first takes everything
    older, which on a first run is all history). `partition_hours=0`: one partition.
    Noise (copies and spam, monitor/noise) is judged first, once for every chunk: the detectors
    read the marks, so a copy raises no alert of its own. After `judge_brand` has run for each
    brand, that pass only judges what is left: posts stored meanwhile, and brands no longer
    configured (each brand's read of its unjudged posts then finds none, in a few milliseconds).
    """
    from monitor.pipeline import judge_noise

    if judge_noise_first:  # False: the caller has just judged it (`earshot run` on its pool)
        judge_noise(config, store)
    latest = store.latest_observation()
    raw = store.get_cursor(DETECT_WATERMARK)
    since = datetime.fromisoformat(raw) if raw else None
    if latest is None or (since is not None and latest <= since):
        return DetectionPlan([], None)
    hours = config.scale.detect_partition_hours if partition_hours is None else partition_hours
    most = max_partitions or config.scale.max_detect_partitions
    bounds: list[datetime] = []
    if hours > 0:
        width = timedelta(hours=hours)
        epoch = datetime(1970, 1, 1, tzinfo=latest.tzinfo)
        edge = epoch + (latest - epoch) // width * width  # the last boundary at or before latest
        floor = since
        if floor is None:  # a first run: no partitions before the first post (hourly counts, not posts)
            floor = min((p.bucket for p in store.trend(None, bucket_minutes=60)),
                        default=datetime.min.replace(tzinfo=latest.tzinfo))
        while edge > floor and len(bounds) < most - 1:
            if edge < latest:
                bounds.append(edge)
            edge -= width
        bounds.reverse()
    edges = [since, *bounds, latest]
    windows = list(zip(edges[:-1], edges[1:], strict=True))
    chunks = [DetectChunk(brand.name, start, end) for brand in config.brands for start, end in windows]
    return DetectionPlan(chunks, latest)


@fewer_collections()
def detect_chunk(config: Config, store: Store, chunk: DetectChunk) -> list[Alert]:
    """Candidate alerts for one brand over one partition, stored by `commit_alerts`, not here."""
    from monitor.detection import build_detectors

    detectors = build_detectors(config.detection, [chunk.brand], config.noise.copy_as_reposts,
                                only_brands=(chunk.brand,))
    found: list[Alert] = []
    for detector in detectors:
        found += [a for a in detector.detect(store, chunk.since, chunk.until) if a.brand == chunk.brand]
    return found


def commit_alerts(store: Store, candidates: Iterable[Alert]) -> list[Alert]:
    """Store the chunks' candidates in time order; return the ones that were new.

    A post's spread alert is kept only when it climbs above every severity the post reached
    before it (stored, or kept earlier in this call), as one process would have raised them.
    """
    ordered = sorted(candidates, key=lambda a: (a.created_at, a.id))
    posts = {a.mention_id for a in ordered if a.kind == AlertKind.spread and a.mention_id}
    highest: dict[str, Severity] = {}
    for stored in store.alerts_for(posts) if posts else []:
        if stored.mention_id and (stored.mention_id not in highest
                                  or stored.severity.rank > highest[stored.mention_id].rank):
            highest[stored.mention_id] = stored.severity
    new: list[Alert] = []
    for alert in ordered:
        if alert.kind == AlertKind.spread and alert.mention_id:
            before = highest.get(alert.mention_id)
            if before is not None and before.rank >= alert.severity.rank:
                continue
            highest[alert.mention_id] = alert.severity
        if store.add_alert(alert):
            new.append(alert)
    return new


def finish_detection(store: Store, plan: DetectionPlan) -> None:
    """Record the plan's end as the watermark, once its chunks are committed."""
    if plan.watermark is not None:
        store.set_cursor(DETECT_WATERMARK, plan.watermark.isoformat())


def alerts_from_json(rows: Sequence[dict[str, Any]]) -> list[Alert]:
    return [Alert.model_validate(row) for row in rows]


def alerts_to_json(alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in alerts]


__all__ = ["DETECT_WATERMARK", "DetectChunk", "DetectionPlan", "ScoreChunk", "alerts_from_json", "alerts_to_json",
           "commit_alerts", "detect_chunk", "finish_detection", "plan_detection", "plan_scoring", "score_chunk"]
