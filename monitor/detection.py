"""Detectors are plugins: each turns what the store holds into alerts, and `pipeline.detect` runs them in turn.

Earshot has two, found like any other through the `earshot.detectors` entry points:

* `spread` (monitor/spread.py): a negative post forecast to travel further than the brand's
  own top posts;
* `storm` (monitor/storm.py): a brand's volume, complaints or negative share spiking.

A team adds its own by registering a `monitor.plugins.Plugin` in that group: its settings
model (pydantic only; its settings are `detection.<name>` in the config) and a factory
`(settings, DetectorContext) -> Detector`, and by listing its name in `detection.detectors`.
Descriptors are cheap to load: the factories import numpy and the forecast model only
when a detect run builds the detectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from monitor.config import DetectionConfig, SpreadSettings, StormConfig
from monitor.plugins import DETECTORS_GROUP, Plugin, installed, lazy, load_plugin

if TYPE_CHECKING:
    from monitor.models import Alert
    from monitor.store import Store

__all__ = ["SPREAD", "STORM", "Detector", "DetectorContext", "available_detectors", "build_detectors",
           "find_detector"]


class Detector(Protocol):
    """One way of noticing what deserves an alert, from the store alone.

    `detect` must give the same alerts whether runs are frequent or rare: it judges only
    what completed after `since` (the previous run's watermark; None on the first run) and
    by `now` (the newest observation stored), and reads `history_needed` before `since` to
    judge it exactly as one run over everything would. It returns new alert candidates; the
    pipeline stores them, and an alert already stored (same id) is not raised twice.
    """

    name: str

    def history_needed(self) -> timedelta:
        """How far before `since` this detector reads (stores must keep at least this much)."""

    def detect(self, store: Store, since: datetime | None, now: datetime) -> list[Alert]:
        """Alerts for what happened after `since` and by `now`, oldest first."""


@dataclass(frozen=True)
class DetectorContext:
    """What a detector needs from the config besides its own settings."""

    brands: tuple[str, ...] = ()  # the configured brands' names
    copy_as_reposts: int = 1  # what a copy of a post adds to its engagement (`noise.copy_as_reposts`)
    # A partition of the work (monitor/partitions.py): judge only these brands' posts; empty: every post.
    only_brands: tuple[str, ...] = ()


def available_detectors() -> list[str]:
    return installed(DETECTORS_GROUP)


def find_detector(name: str) -> Plugin[Any, Detector]:
    """The detector plugin `name`; UnknownPlugin (listing the installed ones) if there is none."""
    return load_plugin(DETECTORS_GROUP, name)


def settings_for(plugin: Plugin[Any, Detector], detection: DetectionConfig) -> BaseModel:
    """A detector's settings out of the `detection` section.

    Its own sub-section where the section has one (`detection.storm`) or a plugin's
    (`detection.<name>`); else the section itself when it is of the detector's settings
    model (the spread detector's keys are the section's own); else the model's defaults.
    """
    own = dict(detection).get(plugin.name) or detection.plugin_settings.get(plugin.name)
    if own is None and isinstance(detection, plugin.settings_model):
        own = detection
    return plugin.settings(own)


def build_detectors(detection: DetectionConfig, brands: Sequence[str], copy_as_reposts: int = 1,
                    only_brands: Sequence[str] = ()) -> list[Detector]:
    """The detectors `detection.detectors` lists, in that order, each with its own settings;
    `only_brands` restricts them to those brands' posts (one partition of the work)."""
    context = DetectorContext(tuple(brands), copy_as_reposts, tuple(only_brands))
    detectors = []
    for name in detection.detectors:
        plugin = find_detector(name)
        detectors.append(plugin.build(settings_for(plugin, detection), context))
    return detectors


SPREAD = Plugin("spread", SpreadSettings, lazy("monitor.spread:SpreadDetector.from_settings"))
STORM = Plugin("storm", StormConfig, lazy("monitor.storm:StormDetector.from_settings"))
