"""Server-side chart geometry, rendered as inline SVG by the templates.

Computing rectangles in Python keeps the page free of any JavaScript charting
library (nothing to download, works offline, readable without scripts) and makes
the numbers testable. Every bar segment carries a tooltip text for a <title>.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.store import TrendPoint

SENTIMENT_ORDER = ["negative", "neutral", "positive", "unscored"]
SENTIMENT_COLORS = {"negative": "#e03131", "neutral": "#94a3b8", "positive": "#2b8a3e", "unscored": "#d0d7de"}
SOURCE_COLORS = {
    "x": "#1f2937",
    "reddit": "#f76707",
    "appstore": "#1c7ed6",
    "googleplay": "#37b24d",
    "bluesky": "#15aabf",
    "mastodon": "#7048e8",
    "replay": "#868e96",
}
FALLBACK_COLORS = ["#f59f00", "#d6336c", "#495057", "#0ca678", "#4263eb"]
SOURCE_NAMES = {
    "x": "X",
    "reddit": "Reddit",
    "appstore": "App Store",
    "googleplay": "Google Play",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "replay": "Replay",
}

WIDTH, HEIGHT = 440, 210
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 10, 28  # plot margins inside the viewBox


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source.replace("_", " ").title())


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class LegendItem:
    key: str
    label: str
    color: str
    total: int


@dataclass(frozen=True)
class BarChart:
    """A stacked bar chart in a WIDTH x HEIGHT viewBox; empty when there is nothing to plot."""

    chart_id: str
    title: str
    description: str
    segments: list[Segment]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[LegendItem]
    axis_caption: str
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return self.total == 0


def nice_ceiling(value: int) -> tuple[int, int]:
    """An axis maximum at or above `value` and a round step dividing it into at most 5 parts."""
    if value <= 0:
        return 1, 1
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return step * math.ceil(value / step), step


def hour_range(first: datetime, last: datetime) -> list[datetime]:
    hours = []
    current = first
    while current <= last:
        hours.append(current)
        current += timedelta(hours=1)
    return hours


def _date_caption(hours: Sequence[datetime]) -> str:
    first, last = hours[0].strftime("%b %d"), hours[-1].strftime("%b %d")
    return f"Hour (UTC), {first}" if first == last else f"Hour (UTC), {first} – {last}"


def stacked_hourly(
    chart_id: str,
    title: str,
    points: Sequence[TrendPoint],
    key: Callable[[TrendPoint], str],
    order: Sequence[str],
    colors: dict[str, str],
    names: Callable[[str], str],
    until: datetime,
) -> BarChart:
    """Mentions per hour stacked by `key` (sentiment label or source), from the first hour with data to `until`.

    Leading empty hours are trimmed so a short recording fills the chart; empty hours
    after the first mention stay, because a silent hour is information too.
    """
    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in points:
        counts[p.bucket][key(p)] += p.count
    series = list(order) + sorted({k for c in counts.values() for k in c} - set(order))
    palette = dict(colors)
    for i, name in enumerate(s for s in series if s not in palette):
        palette[name] = FALLBACK_COLORS[i % len(FALLBACK_COLORS)]
    totals = {s: sum(c.get(s, 0) for c in counts.values()) for s in series}
    legend = [LegendItem(s, names(s), palette[s], totals[s]) for s in series if totals[s] or s in order[:3]]
    total = sum(totals.values())
    description = f"{total} mentions" + "".join(f", {names(s)} {totals[s]}" for s in series if totals[s])
    if not counts:
        return BarChart(chart_id, title, "No mentions in this window.", [], [], [], legend, "", 0)

    end_hour = max(until.replace(minute=0, second=0, microsecond=0), max(counts))
    hours = hour_range(min(counts), end_hour)
    peak = max(sum(counts[h].values()) for h in hours)
    y_max, step = nice_ceiling(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(hours)
    bar_w = max(slot * 0.72, 1.5)
    scale = plot_h / y_max

    segments: list[Segment] = []
    for i, hour in enumerate(hours):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = float(HEIGHT - BOTTOM)
        label = f"{hour:%b %d %H:00}–{hour + timedelta(hours=1):%H:00} UTC"
        for s in series:
            n = counts[hour].get(s, 0) if hour in counts else 0
            if not n:
                continue
            h = n * scale
            y -= h
            segments.append(Segment(round(x, 2), round(y, 2), round(bar_w, 2), round(h, 2), palette[s],
                                    f"{label}: {n} {names(s)}"))
    y_ticks = [Tick(round(HEIGHT - BOTTOM - v * scale, 2), str(v)) for v in range(0, y_max + 1, step)]
    every = max(1, math.ceil(len(hours) / 8))
    x_ticks = [
        Tick(round(LEFT + i * slot + slot / 2, 2), f"{hour:%H}:00")
        for i, hour in enumerate(hours)
        if i % every == 0
    ]
    return BarChart(chart_id, title, description, segments, y_ticks, x_ticks, legend, _date_caption(hours), total)


def sentiment_chart(points: Sequence[TrendPoint], until: datetime) -> BarChart:
    return stacked_hourly(
        "chart-sentiment", "Mentions per hour by sentiment", points, lambda p: p.label,
        SENTIMENT_ORDER, SENTIMENT_COLORS, lambda s: s.capitalize(), until,
    )


def source_chart(points: Sequence[TrendPoint], until: datetime) -> BarChart:
    present = {p.source for p in points}
    order = [s for s in SOURCE_COLORS if s in present]
    return stacked_hourly(
        "chart-sources", "Volume by source", points, lambda p: p.source, order, SOURCE_COLORS, source_name, until,
    )


@dataclass(frozen=True)
class Sparkline:
    """Engagement over time for one post: the shape that made the alert fire."""

    points: str  # SVG polyline points
    last_x: float
    last_y: float
    title: str
    width: int
    height: int


def sparkline(series: Sequence[tuple[datetime, int]], width: int = 132, height: int = 34) -> Sparkline | None:
    if len(series) < 2:
        return None
    t0, t1 = series[0][0], series[-1][0]
    span = (t1 - t0).total_seconds() or 1.0
    top = max(v for _, v in series) or 1
    pad = 3
    coords = [
        (pad + (t - t0).total_seconds() / span * (width - 2 * pad), height - pad - v / top * (height - 2 * pad))
        for t, v in series
    ]
    minutes = round(span / 60)
    title = f"Engagement {series[0][1]:,} → {series[-1][1]:,} over {minutes} min ({len(series)} observations)"
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return Sparkline(text, round(coords[-1][0], 1), round(coords[-1][1], 1), title, width, height)
