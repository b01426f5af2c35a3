"""One pass of the embedded `earshot run`, supervised: each source on its own, then the health checks.

`pipeline.run_once` stops at the first source that fails; a terminal that watches for
hours needs more: one source's outage must not hold back the others, a failure retrying
cannot fix must stop that source at once (and say what to fix), and the pipeline's own
health (failures, silence, error rates, outboxes) is judged after every pass and
alerted through the same channels, exactly as the Airflow deployment does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor import pipeline
from monitor.health.monitor import HealthMonitor
from monitor.models import Alert
from monitor.sources import PermanentSourceError, SourceError

if TYPE_CHECKING:
    from monitor.alerts import AlertChannel
    from monitor.config import Config
    from monitor.store import Store
    from monitor.workers import LocalPool

__all__ = ["SupervisedPass", "supervised_pass"]


@dataclass
class SupervisedPass:
    summary: pipeline.RunSummary
    failed: dict[str, str] = field(default_factory=dict)  # source -> error; retried next pass
    stopped: dict[str, str] = field(default_factory=dict)  # source -> error retrying cannot fix
    health: list[Alert] = field(default_factory=list)  # pipeline-health alerts raised by this pass


def supervised_pass(
    config: Config,
    store: Store,
    sources: Sequence[str],
    channels: list[AlertChannel],
    monitor: HealthMonitor | None = None,
    progress: Callable[[str], pipeline.Progress] | None = None,
    scorer=None,
    pool: LocalPool | None = None,
) -> SupervisedPass:
    """Ingest each source (a failure is recorded, not fatal), process, deliver, check health, deliver again.

    Health alerts raised in this pass go out in this pass: the second delivery sends only
    them (every other alert was delivered just before).
    """
    monitor = monitor or HealthMonitor(config, store)
    ingested: list[pipeline.IngestStats] = []
    result = SupervisedPass(pipeline.RunSummary([], 0, [], pipeline.DeliveryReport()))
    for name in sources:
        try:
            ingested.append(pipeline.ingest(config, store, name,
                                            progress=progress(f"ingest {name}") if progress else None))
        except PermanentSourceError as exc:
            result.stopped[name] = str(exc)
            result.health += monitor.record_run(name, False, str(exc))
            result.health += monitor.source_failed(name, str(exc))
        except SourceError as exc:
            result.failed[name] = str(exc)
            result.health += monitor.record_run(name, False, str(exc))
        else:
            result.health += monitor.record_run(name, True)
    # Score, detect and deliver: the same step functions, without a second ingest.
    summary = pipeline.run_once(config, store, sources=[], scorer=scorer, channels=channels, progress=progress,
                                pool=pool)
    summary.ingested = ingested + summary.ingested
    result.health += monitor.check(channels, [s for s in sources if s not in result.stopped])
    if result.health:
        again = pipeline.notify(config, store, channels)
        for name, sent in again.sent.items():
            summary.delivery.sent[name] = summary.delivery.sent.get(name, 0) + sent
        summary.delivery.failed.update(again.failed)
    result.summary = summary
    return result
