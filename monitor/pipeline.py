"""The pipeline's steps as plain functions: ingest -> score -> detect -> deliver.

The CLI's `earshot run` and the Airflow DAGs call exactly these, so what runs in a
terminal is what runs in production. Each step reads its input from the store and
writes its output back, which is what makes every step safe to repeat or resume.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.alerts import AlertChannel, DeliveryReport, build_channels, deliver
from monitor.collector import fewer_collections
from monitor.config import Config
from monitor.detection import Detector
from monitor.fetch_ahead import FetchAhead
from monitor.models import Alert, UnscoredPost, counts_as_negative
from monitor.noise.marks import NoiseStats
from monitor.partitions import DETECT_WATERMARK
from monitor.removals import apply_removals
from monitor.sources import Problem, Source, create_source
from monitor.sources.base import removals_of
from monitor.store import Quarantined, Store, batch_packer
from monitor.workers import LocalPool, can_use_processes, process_on_pool

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (done, total or None when unknown)


def cursor_key(source_name: str) -> str:
    return f"source:{source_name}"


@dataclass
class IngestStats:
    source: str
    new_mentions: int = 0
    updated_mentions: int = 0
    new_snapshots: int = 0
    problems: list[Problem] = field(default_factory=list)
    quarantined: int = 0  # records newly set aside (bad input, or rows the store could not hold)
    exhausted: bool = True
    removed: int = 0  # stored posts the platform no longer shows, now tombstones (monitor/removals.py)


@fewer_collections()
def ingest(
    config: Config,
    store: Store,
    source_name: str,
    source: Source | None = None,
    max_batches: int | None = None,
    progress: Progress | None = None,
) -> IngestStats:
    """Fetch everything a source has ready and store it batch by batch, cursor included.

    Each batch is stored together with its cursor, so a run killed at any point
    resumes at the first batch that was not stored: nothing lost, nothing twice. A batch
    reporting removals moves the cursor once they are applied too: killed in between, the
    next run fetches that batch again (the same rows; tombstones made are skipped).
    With `scale.workers` above 1, a backlog (a batch that says more is ready) is read on by
    the source in a process of its own, one batch ahead of the store (monitor/fetch_ahead.py);
    a `source` given here is read in this process.
    """
    given = source is not None
    source = source or create_source(source_name, config)
    key = cursor_key(source_name)
    stats = IngestStats(source_name)
    batches = 0
    with contextlib.ExitStack() as stack:
        ahead: FetchAhead | None = None
        cursor = store.get_cursor(key)
        batch = source.fetch(config.brands, cursor) if max_batches is None or max_batches > 0 else None
        while batch is not None:
            cursor = batch.cursor if batch.cursor is not None else cursor  # what the store holds once it is stored
            more = not batch.exhausted and (max_batches is None or batches + 1 < max_batches)
            if more and ahead is None and not given and config.scale.workers > 1 and can_use_processes():
                # A backlog: read on beside the store, packed there as the store writes it.
                ahead = stack.enter_context(FetchAhead(config, source_name, pack=batch_packer(config)))
            if more and ahead is not None:
                ahead.ask(cursor)
            quarantine = [Quarantined(source_name, p.where, p.message, p.head)
                          for p in batch.problems if not p.transient]
            removals = batch.removals
            result = store.ingest(batch.mentions, batch.snapshots, key, None if removals else batch.cursor,
                                  quarantine=quarantine)
            if removals:
                stats.removed += apply_removals(store, removals, datetime.now(UTC))
                if batch.cursor is not None:
                    store.set_cursor(key, batch.cursor)
            stats.new_mentions += result.new_mentions
            stats.updated_mentions += result.updated_mentions
            stats.new_snapshots += result.new_snapshots
            stats.problems += batch.problems
            stats.quarantined += result.quarantined
            stats.exhausted = batch.exhausted
            batches += 1
            if progress:
                progress(stats.new_mentions + stats.updated_mentions, None)
            if not more:
                break
            batch = ahead.take() if ahead is not None else source.fetch(config.brands, store.get_cursor(key))
    stats.new_snapshots += refresh(config, store, source_name, source)
    return stats


def refresh(config: Config, store: Store, source_name: str, source: Source) -> int:
    """Re-read the engagement of the source's recent mentions, so their spread can be followed.

    Returns how many new snapshots were stored. A failure here raises like a failed fetch:
    everything fetched before it is already stored.
    """
    settings = config.sources.get(source_name)
    if settings is None or settings.follow_hours == 0:
        return 0
    since = datetime.now(UTC) - timedelta(hours=settings.follow_hours)
    recent = store.recent_mentions(source_name, since)
    if not recent:
        return 0
    snapshots = source.refresh(recent)
    apply_removals(store, removals_of(source), datetime.now(UTC))  # posts found gone: tombstones
    return store.ingest([], snapshots).new_snapshots if snapshots else 0


@fewer_collections()
def score(config: Config, store: Store, scorer=None, progress: Progress | None = None, classifier=None) -> int:
    """Score every mention that has no sentiment yet, then tag the negative ones with a topic.

    Returns how many were scored. The topic (and its owning team) is set here, right
    after sentiment, so `detect` finds it on the mention when it raises an alert;
    `classifier` (a `monitor.topics.TopicClassifier`) overrides the configured one.
    The model is loaded here, on first need, never at import: DAG files import this
    module and must stay fast.
    """
    from monitor.topics import build_classifier

    classifier = classifier or build_classifier(config.topics)
    step = config.sentiment.batch_size * 8
    done = 0
    seen: set[str] = set()
    # Bounded chunks, oldest first: memory stays flat however many are pending, and a crash
    # loses at most the chunk in hand (scored chunks are stored as they are done).
    while chunk := store.unscored_posts(limit=step):
        if seen.issuperset(m.id for m in chunk):
            raise RuntimeError(f"the store keeps returning {len(chunk)} mention(s) as unscored after scoring "
                               "them; refusing to loop (is the store read-only?)")
        seen = {m.id for m in chunk}
        if scorer is None:
            from sentiment.backends import build_backend

            scorer = build_backend(config.sentiment)
        score_chunk(store, chunk, scorer, classifier)
        done += len(chunk)
        if progress:
            progress(done, None)
    return done


@fewer_collections()
def judge_noise(config: Config, store: Store, brand: str | None = None) -> NoiseStats:
    """Mark every mention not judged yet (of `brand`, if given) as a copy of an earlier post or not,
    and as spam or not (monitor/noise). `detect` runs it first, so a copy never raises an alert of
    its own.

    One configured brand after another, then whatever is left (posts of a brand no longer
    configured), as the Airflow DAG's noise tasks do. A post is only compared with its own
    brand's, so the copies are those of one pass over every brand, while the run's memory of
    recent marks (`RUN_MEMORY`) holds one brand's window: at 300,000 posts of three brands that
    window fits, and the step took 43.5 s instead of 65.1 s with a peak of 319 MB instead of 455.
    """
    from monitor.noise.marking import mark_noise  # numpy and datasketch: only when a run judges

    if brand is not None:
        return mark_noise(config, store, brand=brand)
    # Every pass starts at the oldest post not judged yet: finding it walks the store's posts
    # from the first (a run's new posts are the newest), which is then done once, not per brand.
    oldest = store.unjudged_posts(limit=1)
    if not oldest:
        return NoiseStats()
    since = oldest[0].created_at
    by_brand = [mark_noise(config, store, brand=b.name, since=since) for b in config.brands]
    rest = mark_noise(config, store, since=since)  # after every brand: the posts no brand's config covers
    return sum(by_brand, rest)


def score_chunk(store: Store, chunk: Sequence[UnscoredPost], scorer, classifier) -> None:
    """Score one bounded chunk of mentions, detect missing languages, tag the negative ones, store it all."""
    texts = [f"{m.title}. {m.text}" if m.title else m.text for m in chunk]
    results = scorer.score(texts)
    unlabelled = [(m, t) for m, t in zip(chunk, texts, strict=True) if not m.lang]
    if unlabelled:
        from sentiment.langid import detect_languages

        found = detect_languages([t for _, t in unlabelled])
        store.set_languages([(m.id, lang) for (m, _), lang in zip(unlabelled, found, strict=True) if lang])
    if classifier is not None:
        from monitor.topics import tag

        # Topics first: a crash before the sentiments are stored leaves the chunk unscored,
        # so it is scored and tagged again; the other order could leave it never tagged.
        # Only the negative posts (negative now, or a 1-2 star review whatever its text says).
        store.set_topics(tag(classifier, [m for m, s in zip(chunk, results, strict=True)
                                          if counts_as_negative(m.rating, s.label)]))
    store.set_sentiments([(m.id, s) for m, s in zip(chunk, results, strict=True)])


@fewer_collections()
def detect(config: Config, store: Store, detectors: Sequence[Detector] | None = None) -> list[Alert]:
    """Run each configured detector over what arrived since the last run; store and return the new alerts.

    Noise is judged first (`judge_noise`): detectors read copies and spam from the store.

    Every detector judges the same window, from the watermark to the newest observation,
    and reads its own history before it (`Detector.history_needed`), so incremental runs
    and a single run raise the same alerts. An alert already stored is not returned again.
    The detectors come from `detection.detectors` (spread, then storm), unless given.
    Configured detectors run one brand at a time (`monitor.partitions`, the chunks the
    Airflow DAG maps over), so what is held at once is one brand's window, not every brand's.
    """
    from monitor.partitions import commit_alerts, detect_chunk, finish_detection, plan_detection

    if detectors is None:
        plan = plan_detection(config, store, partition_hours=0)  # judges noise first
        new: list[Alert] = []
        for chunk in plan.chunks:
            new += commit_alerts(store, detect_chunk(config, store, chunk))
        finish_detection(store, plan)
        return new
    judge_noise(config, store)
    latest = store.latest_observation()
    if latest is None:
        return []
    raw = store.get_cursor(DETECT_WATERMARK)
    since = datetime.fromisoformat(raw) if raw else None
    if since is not None and latest <= since:
        return []  # nothing observed since the last run: every detector judges only what is newer
    new = []
    for detector in detectors:
        new += [alert for alert in detector.detect(store, since, latest) if store.add_alert(alert)]
    store.set_cursor(DETECT_WATERMARK, latest.isoformat())
    return new


def alert_channels(config: Config, *, sleep: Callable[[float], None] = time.sleep) -> list[AlertChannel]:
    """The configured alert channels: the `alerts` section, built knowing the brands' names and the config's folder."""
    return build_channels(config.alerts, [brand.name for brand in config.brands], config.base_dir, sleep=sleep)


def notify(config: Config, store: Store, channels: list[AlertChannel] | None = None) -> DeliveryReport:
    return deliver(store, channels if channels is not None else alert_channels(config),
                   lease=timedelta(seconds=config.alerts.delivery_lease_seconds))


@dataclass
class RunSummary:
    ingested: list[IngestStats]
    scored: int
    alerts: list[Alert]
    delivery: DeliveryReport
    noise: NoiseStats | None = None  # copies and spam found among the new mentions (monitor/noise)

    @property
    def problems(self) -> list[Problem]:
        return [p for stats in self.ingested for p in stats.problems]


def active_sources(config: Config) -> list[str]:
    """The sources a run should read: live ones whose credentials are set, else the replay.

    A live source enabled without its credentials is an error to report, not a reason
    to silently fall back: the caller (CLI, DAG) decides how to surface it.
    """
    live = [name for name, cfg in config.live_sources().items() if not cfg.missing_credentials()]
    if live:
        return live
    return [name for name, cfg in config.enabled_sources().items() if not cfg.live]


def run_once(
    config: Config,
    store: Store,
    sources: list[str] | None = None,
    scorer=None,
    channels: list[AlertChannel] | None = None,
    progress: Callable[[str], Progress] | None = None,
    pool: LocalPool | None = None,
) -> RunSummary:
    """One full pass: every active source, then scoring, noise, detection and delivery.

    With `scale.workers` above 1 (or a `pool` given, which a watching terminal keeps from pass
    to pass), noise and detection run on a local pool of processes beside scoring
    (monitor/workers.py), and raise the same alerts."""
    ingested = [
        ingest(config, store, name, progress=progress(f"ingest {name}") if progress else None)
        for name in (sources if sources is not None else active_sources(config))
    ]
    scored, noise, alerts = process(config, store, scorer, progress("score sentiment") if progress else None, pool)
    delivery = notify(config, store, channels)
    return RunSummary(ingested, scored, alerts, delivery, noise)


def process(config: Config, store: Store, scorer=None, progress: Progress | None = None,
            pool: LocalPool | None = None) -> tuple[int, NoiseStats, list[Alert]]:
    """Score, judge noise and detect what ingest stored: (how many scored, the noise found, the new
    alerts). In this process, or beside scoring on `pool` (one is started for the call when
    `scale.workers` is above 1 and none is given)."""
    def score_all() -> int:
        return score(config, store, scorer=scorer, progress=progress)

    if pool is None and config.scale.workers > 1 and can_use_processes():
        with LocalPool(config, config.scale.workers) as own:
            done = process_on_pool(config, store, own, score_all)
    elif pool is not None:
        done = process_on_pool(config, store, pool, score_all)
    else:
        scored = score_all()
        noise = judge_noise(config, store)
        return scored, noise, detect(config, store)
    return done.scored, done.noise, done.alerts
