"""Alert channels are plugins: found by `type` in the `earshot.channels` group, built from their settings.

A channel plugin is a `monitor.plugins.Plugin` whose settings model subclasses
`monitor.config.ChannelSettings` and whose factory takes `(settings, ChannelContext)` and
returns an `AlertChannel` (monitor/alerts/base.py). Earshot's own channels are declared in
monitor/alerts/builtin.py and registered in pyproject.toml like any other; a third-party
package registers one more entry point in the group. `build_channels` reads the `alerts`
section (its channels already validated by each plugin's settings model) and builds them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.alerts.routing import Route
from monitor.alerts.secret import ChannelConfigError
from monitor.config import ChannelSettings
from monitor.plugins import CHANNELS_GROUP, Plugin, installed, load_plugin

if TYPE_CHECKING:
    from monitor.alerts.base import AlertChannel
    from monitor.config import AlertsConfig

__all__ = ["ChannelContext", "available_channels", "build_channels", "find_channel"]


@dataclass(frozen=True)
class ChannelContext:
    """What a channel needs besides its own settings, so it never sees the whole config."""

    key: str  # where its settings are, e.g. "alerts.channels.2": errors name it
    route: Route
    inbox_url: str | None = None  # the Earshot UI, for "Open in Earshot" links
    base_dir: Path = Path(".")  # relative paths in its settings are relative to the config file
    sleep: Callable[[float], None] = time.sleep  # between retries; tests replace it

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path


def available_channels() -> list[str]:
    return installed(CHANNELS_GROUP)


def find_channel(name: str) -> Plugin[Any, AlertChannel]:
    """The channel plugin `type: name` refers to; UnknownPlugin (listing the installed ones) if none."""
    return load_plugin(CHANNELS_GROUP, name, settings_base=ChannelSettings)


def build_channels(
    alerts: AlertsConfig, brands: Sequence[str], base_dir: Path = Path("."), *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[AlertChannel]:
    """The channels of the `alerts` section, secrets read from the environment.

    Takes its own section, not the whole config: `brands` (the configured brands' names) is
    all it needs besides, to check routes, and `base_dir` resolves relative paths. Raises
    ChannelConfigError naming every missing environment variable (and any route naming an
    unknown brand, or two channels delivering to the same destination).
    """
    built: list[tuple[int, AlertChannel]] = []
    problems: list[str] = []
    known = {name.casefold(): name for name in brands}
    for i, settings in enumerate(alerts.channels):
        key = f"alerts.channels.{i}"
        if unknown := [b for b in settings.route.brands if b.casefold() not in known]:
            problems.append(f"{key}.route.brands: no configured brand named {', '.join(map(repr, unknown))}"
                            f" (brands: {', '.join(known.values())})")
        route = Route.of(settings.route.brands, settings.route.min_severity, settings.route.topics)
        context = ChannelContext(key, route, alerts.inbox_url, base_dir, sleep)
        try:
            built.append((i, find_channel(settings.type).build(settings, context)))
        except ChannelConfigError as exc:
            problems.append(str(exc))
    seen: dict[str, int] = {}
    for i, channel in built:
        if channel.name in seen:
            problems.append(f"alerts.channels.{seen[channel.name]} and alerts.channels.{i} both deliver as"
                            f" {channel.name}: each destination once (routes are per channel)")
        seen.setdefault(channel.name, i)
    if problems:
        raise ChannelConfigError("cannot set up the alert channels:\n  " + "\n  ".join(problems))
    return [channel for _, channel in built]
