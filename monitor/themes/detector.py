"""The `themes` detector: a complaint theme that is new, or growing fast, raises an alert.

Every `step_minutes` (aligned on the clock) it takes a brand's negative posts of the last
`window_hours`, groups them by meaning across languages (`encoder`, `grouping`), names each
group by its most telling terms (`naming`) and compares each group with the brand's usual
themes (`state`, kept in the store):

* **new**: no usual theme is like it (cosine of centroids below `match_similarity`), or
  the one it resembles never had `min_posts` posts before;
* **growing**: it is a usual theme, with `growth_factor` times its usual count for the
  window and `growth_z` Poisson standard deviations above it.

A theme alerts once per `cooldown_hours` (again only if it turns critical), and only from
`warmup_hours` after the brand's first step, so a new deployment learns what is usual
before it calls anything new. Steps are judged in order and the state remembers the last
one, so frequent and rare runs (and a retried run) raise the same alerts, with ids made of
the brand, the theme and the step. The alert carries the group's dominant topic and team
(`monitor/topics.py` tags negative posts), so channel routes by topic pick it up.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.models import Alert, AlertKind, Mention, Severity
from monitor.store.base import MentionQuery, MentionSort
from monitor.themes.grouping import NOISE, centroid, group
from monitor.themes.naming import document_terms, name_groups, tokens
from monitor.themes.settings import ThemeSettings
from monitor.themes.state import ThemeState, UsualTheme, state_key

if TYPE_CHECKING:
    from monitor.detection import DetectorContext
    from monitor.store import Store
    from monitor.themes.encoder import Encoder

log = logging.getLogger(__name__)

__all__ = ["ThemeDetector", "ThemeFinding", "floor_step"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_GROUP = 3  # smaller groups are not remembered as themes at all
PAGE = 500


def floor_step(at: datetime, minutes: int) -> datetime:
    seconds = int((at.astimezone(UTC) - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % (minutes * 60))


@dataclass(frozen=True)
class ThemeFinding:
    """One group of one window, as judged (what the alert says, and what tests look at)."""

    at: datetime  # the step: the window is [at - window_hours, at)
    theme_id: str
    name: str
    posts: int
    expected: float  # the usual count for the window (0 for a new theme)
    langs: tuple[str, ...]  # most frequent first
    kind: str | None  # "new", "growing" or None (usual)
    mention_ids: tuple[str, ...]


class ThemeDetector:
    """The `themes` detector (monitor/detection.py)."""

    name = "themes"

    def __init__(self, settings: ThemeSettings, brands: Sequence[str], encoder: Encoder | None = None) -> None:
        self.settings = settings
        self.brands = list(brands)
        self._encoder = encoder
        self._vectors: dict[str, np.ndarray] = {}
        self.findings: list[ThemeFinding] = []  # of the last detect() call

    @classmethod
    def from_settings(cls, settings: ThemeSettings, context: DetectorContext) -> ThemeDetector:
        return cls(settings, context.brands)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            from monitor.themes.encoder import load_encoder

            s = self.settings
            self._encoder = load_encoder(s.model, s.layers, s.max_length)
        return self._encoder

    @property
    def model_id(self) -> str:
        if self._encoder is not None:
            return self._encoder.model_id
        return f"{self.settings.model}@L{self.settings.layers}"

    def history_needed(self) -> timedelta:
        return timedelta(hours=self.settings.window_hours)

    # -- the run ----------------------------------------------------------------------------

    def detect(self, store: Store, since: datetime | None, now: datetime) -> list[Alert]:
        """Alerts for the steps that completed since the brand's last judged step, up to `now`.

        `since` is not needed: each brand's state remembers its last step. A brand seen for
        the first time starts `usual_days` before `now` (or at its first negative post),
        learning silently for `warmup_hours`.
        """
        self.findings = []
        if not self.settings.enabled:
            return []
        alerts: list[Alert] = []
        for brand in self.brands:
            alerts += self._brand(store, brand, now)
        return alerts

    def _load_state(self, store: Store, brand: str) -> ThemeState | None:
        raw = store.get_cursor(state_key(brand))
        if raw is None:
            return None
        try:
            state = ThemeState.from_json(raw)
        except ValueError as exc:
            log.warning("themes: starting %s afresh: %s", brand, exc)
            return None
        if state.model_id != self.model_id:
            log.warning("themes: %s's usual themes come from %s, not %s; learning them again",
                        brand, state.model_id, self.model_id)
            return None
        return state

    def _brand(self, store: Store, brand: str, now: datetime) -> list[Alert]:
        s = self.settings
        step = timedelta(minutes=s.step_minutes)
        last = floor_step(now, s.step_minutes)
        state = self._load_state(store, brand)
        if state is None:
            first = store.search_mentions(MentionQuery(brands=(brand,), sentiments=("negative",),
                                                       sort=MentionSort.oldest, limit=1)).mentions
            if not first:
                return []
            start = max(floor_step(first[0].created_at, s.step_minutes) + step,
                        floor_step(now - timedelta(days=s.usual_days), s.step_minutes))
            state = ThemeState(self.model_id, started=start, last_step=start - step)
        alerts: list[Alert] = []
        at = (state.last_step or state.started - step) + step
        judged = False
        while at <= last:
            alerts += self._step(store, brand, state, at)
            state.last_step = at
            judged = True
            at += step
        if judged:
            store.set_cursor(state_key(brand), state.to_json())
        return alerts

    def _negatives(self, store: Store, brand: str, since: datetime, until: datetime) -> list[Mention]:
        """The brand's negative posts created in [since, until), newest first, at most `max_posts`."""
        found: list[Mention] = []
        cursor = None
        while len(found) < self.settings.max_posts:
            page = store.search_mentions(MentionQuery(brands=(brand,), sentiments=("negative",), since=since,
                                                      until=until, sort=MentionSort.newest,
                                                      limit=min(PAGE, self.settings.max_posts - len(found)),
                                                      cursor=cursor))
            found += page.mentions
            cursor = page.next_cursor
            if cursor is None:
                break
        return found

    def _embed(self, posts: Sequence[Mention]) -> np.ndarray:
        missing = [m for m in posts if m.id not in self._vectors]
        if missing:
            vectors = self.encoder.encode([_text(m) for m in missing])
            for m, v in zip(missing, vectors, strict=True):
                self._vectors[m.id] = v
        return np.stack([self._vectors[m.id] for m in posts])

    def _step(self, store: Store, brand: str, state: ThemeState, at: datetime) -> list[Alert]:
        s = self.settings
        window = timedelta(hours=s.window_hours)
        step_hours = s.step_minutes / 60
        decay = math.exp(-step_hours / (s.usual_days * 24))
        posts = self._negatives(store, brand, at - window, at)
        fresh = [m for m in posts if m.created_at >= at - timedelta(minutes=s.step_minutes)]
        # The brand's background vocabulary, for naming: decayed, plus this step's posts.
        skip = frozenset(tokens(brand))
        for term in list(state.background):
            state.background[term] *= decay
        state.background_docs *= decay
        for m in fresh:
            for term in document_terms(_text(m), skip):
                state.background[term] = state.background.get(term, 0.0) + 1.0
        state.background_docs += len(fresh)

        findings: list[tuple[ThemeFinding, UsualTheme, list[Mention]]] = []
        observed: dict[int, int] = {}  # usual theme index -> this step's new posts in it
        if len(posts) >= MIN_GROUP:
            vectors = self._embed(posts)
            labels = group(vectors, s.distance, MIN_GROUP)
            members = [np.flatnonzero(labels == k) for k in range(int(labels.max()) + 1)] if (labels != NOISE).any() else []
            texts = [[_text(posts[i]) for i in idx] for idx in members]
            names = name_groups(texts, state.background, state.background_docs, exclude=[brand])
            usual = state.centroids()
            for k, idx in enumerate(members):
                c = centroid(vectors[idx])
                group_posts = [posts[i] for i in idx]
                new_in_step = sum(1 for m in group_posts if m.created_at >= at - timedelta(minutes=s.step_minutes))
                match = -1
                if len(usual):
                    sims = usual @ c
                    best = int(np.argmax(sims))
                    if float(sims[best]) >= s.match_similarity:
                        match = best
                if match >= 0:
                    theme = state.themes[match]
                    # Rates start at 0 with the brand's first step; `usual_rate` divides by the weight
                    # gathered since (as Adam's bias correction does), so they are right from day one.
                    expected = state.usual_rate(theme) * s.window_hours
                    known = theme.posts_seen >= s.min_posts
                    blended = 0.9 * theme.centroid + 0.1 * c
                    theme.centroid = (blended / max(float(np.linalg.norm(blended)), 1e-12)).astype(np.float32)
                    theme.last_seen = at
                    if names[k].label:
                        theme.name = names[k].label
                else:
                    theme = UsualTheme(f"{at:%Y%m%dT%H%M}-{k}", names[k].label, c, 0.0, 0.0, at, at)
                    state.themes.append(theme)
                    match = len(state.themes) - 1
                    expected, known = 0.0, False
                observed[match] = observed.get(match, 0) + new_in_step
                kind = None
                count = len(idx)
                if count >= s.min_posts:
                    if not known:
                        kind = "new"
                    elif count >= s.growth_factor * expected and count >= expected + s.growth_z * math.sqrt(
                            max(expected, 1.0)):
                        kind = "growing"
                spoken = Counter(m.lang for m in group_posts if m.lang)
                langs = tuple(sorted(spoken, key=lambda lang: (-spoken[lang], lang)))
                finding = ThemeFinding(at, theme.id, names[k].label, count, round(expected, 3), langs, kind,
                                       tuple(m.id for m in group_posts))
                self.findings.append(finding)
                findings.append((finding, theme, group_posts))
        # Every usual theme's rate moves towards this step's count (0 where it was absent).
        state.weight = decay * state.weight + (1 - decay)
        for i, theme in enumerate(state.themes):
            n = observed.get(i, 0)
            theme.rate_per_hour = decay * theme.rate_per_hour + (1 - decay) * n / step_hours
            theme.posts_seen = decay * theme.posts_seen + n
        self._forget(state, at)

        alerts = []
        if at >= state.started + timedelta(hours=s.warmup_hours):
            for finding, theme, group_posts in findings:
                alert = self._alert(brand, finding, theme, group_posts, vectors_of=self._vectors)
                if alert is not None:
                    alerts.append(alert)
        # Vectors of posts that have left the window are not needed again.
        keep = {m.id for m in posts if m.created_at >= at + timedelta(minutes=s.step_minutes) - window}
        self._vectors = {k: v for k, v in self._vectors.items() if k in keep}
        return alerts

    def _forget(self, state: ThemeState, at: datetime) -> None:
        """Drop themes gone quiet for twice the usual span, and keep the `max_themes` most seen."""
        s = self.settings
        horizon = at - timedelta(days=2 * s.usual_days)
        state.themes = [t for t in state.themes if t.last_seen >= horizon or t.posts_seen >= 1.0]
        if len(state.themes) > s.max_themes:
            state.themes = sorted(state.themes, key=lambda t: (-t.posts_seen, t.id))[: s.max_themes]

    def _alert(self, brand: str, finding: ThemeFinding, theme: UsualTheme, posts: list[Mention],
               vectors_of: dict[str, np.ndarray]) -> Alert | None:
        s = self.settings
        if finding.kind is None:
            return None
        severity = Severity.critical if finding.posts >= s.critical_posts else Severity.warning
        if theme.alerted_at is not None and finding.at - theme.alerted_at < timedelta(hours=s.cooldown_hours):
            if theme.alerted_severity is not None and severity.rank <= Severity(theme.alerted_severity).rank:
                return None
        theme.alerted_at, theme.alerted_severity = finding.at, severity.value
        topic, team = _dominant_topic(posts)
        langs = "/".join(finding.langs) if finding.langs else "language unknown"
        name = finding.name or "(no shared words)"
        example = _example(posts, vectors_of)
        if finding.kind == "new":
            reason = (f"New: '{name}', {finding.posts} negative posts in {s.window_hours} h ({langs}); "
                      f"nothing like it among {brand}'s usual complaints of the last {s.usual_days:g} days.")
        else:
            reason = (f"Growing: '{name}', {finding.posts} negative posts in {s.window_hours} h ({langs}), "
                      f"{finding.posts / max(finding.expected, 1e-9):.1f}x the usual {finding.expected:.1f}.")
        if example:
            reason += f" E.g. “{example}”"
        minutes = s.window_hours * 60
        return Alert(
            id=f"theme:{brand}:{theme.id}:{finding.at:%Y-%m-%dT%H:%M}:{severity.value}", kind=AlertKind.theme,
            mention_id=None, brand=brand, severity=severity, created_at=finding.at, reason=reason,
            velocity_per_min=round(finding.posts / minutes, 3), baseline_per_min=round(finding.expected / minutes, 3),
            topic=topic, team=team,
        )


def _text(m: Mention) -> str:
    return f"{m.title}. {m.text}" if m.title else m.text


def _dominant_topic(posts: Sequence[Mention]) -> tuple[str | None, str | None]:
    """The topic most of the group's tagged posts have (ties: alphabetical), and its team."""
    topics = Counter(m.topic for m in posts if m.topic)
    if not topics:
        return None, None
    topic = sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    teams = Counter(m.team for m in posts if m.topic == topic and m.team)
    return topic, (sorted(teams.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if teams else None)


def _example(posts: Sequence[Mention], vectors: dict[str, np.ndarray], limit: int = 140) -> str:
    """The post nearest the group's centre, shortened: what the theme sounds like."""
    have = [m for m in posts if m.id in vectors]
    if not have:
        return ""
    matrix = np.stack([vectors[m.id] for m in have])
    c = centroid(matrix)
    best = have[int(np.argmax(matrix @ c))]
    text = " ".join(_text(best).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
