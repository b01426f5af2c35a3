"""The noise step of the pipeline: judge every new mention once, as a copy or not and as spam or not.

Runs before detection (`monitor.pipeline.detect` calls it first), so a copy never raises an
alert of its own and storm detection can tell voices from copies. Mentions are judged in the
order they were posted; each is compared with the stored posts of its brand from the
`window_hours` before it that share an LSH band key, and with the new posts judged before it
in the same run. A copy is linked to the first post of the cluster it joins.

Spam rules that need the cluster ("the same text from several new accounts") are applied as
the cluster grows: when a text reaches `same_text_accounts` hardly-followed accounts, its
earlier posts by such accounts are flagged too.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.noise.duplicates import BandIndex, Fingerprint, fingerprints, shared_keys, similarity
from monitor.noise.marks import NoiseMark, NoisePostLike, NoiseStats
from monitor.noise.settings import NoiseConfig, SpamSettings
from monitor.noise.spam import SpamScorer

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.store.base import Store

CHUNK = 10_000  # mentions judged per store round trip


class NoiseJudge:
    """Judges mentions against what it has seen (stored marks it is given, and its own verdicts)."""

    def __init__(self, cfg: NoiseConfig, spam: Mapping[str, SpamSettings] | None = None,
                 default_spam: SpamSettings | None = None) -> None:
        self.cfg = cfg
        self.default = SpamScorer(default_spam or SpamSettings())
        self.scorers = {brand: SpamScorer(s) for brand, s in (spam or {}).items()}

    def scorer(self, brand: str) -> SpamScorer:
        return self.scorers.get(brand, self.default)

    def judge(self, mentions: Sequence[NoisePostLike], prior: Callable[[set[str]], Sequence[NoiseMark]]
              ) -> tuple[list[NoiseMark], list[NoiseMark]]:
        """(marks of `mentions`, stored marks whose spam verdict changed). `prior(bands)` gives the
        stored marks sharing any of those band keys (the store's `noise_candidates`)."""
        window = timedelta(hours=self.cfg.window_hours)
        ordered = sorted(mentions, key=lambda m: (m.created_at, m.id))
        prints: list[Fingerprint | None] = [None] * len(ordered)
        if self.cfg.enabled:
            prints = list(fingerprints([(m.text if not m.title else f"{m.title} {m.text}", m.brand) for m in ordered],
                                       self.cfg))
        wanted: set[str] = set()
        for fp in prints:
            if fp is not None:
                wanted.update(fp.bands)
        known: dict[str, NoiseMark] = {}
        members: dict[str, list[str]] = {}  # cluster root -> ids of the posts known in it
        index = BandIndex()
        stored = list(prior(wanted)) if wanted else []
        for mark in stored:
            known[mark.mention_id] = mark
            members.setdefault(mark.root, []).append(mark.mention_id)
            index.add(mark.mention_id, mark.bands)
        # Only keys some other post has too can find a candidate: the run's LSH table holds those.
        lookup = shared_keys([fp for fp in prints if fp is not None], (b for mark in stored for b in mark.bands)) \
            if self.cfg.enabled else [()] * len(ordered)
        signatures: dict[str, np.ndarray] = {}  # of the posts in the LSH table, as arrays
        ring: dict[str, set[str]] = {}  # cluster root -> hardly-followed accounts seen posting it
        new: list[NoiseMark] = []
        position: dict[str, int] = {}  # index in `new` of each mark judged in this call
        changed: dict[str, NoiseMark] = {}
        for m, fp, keys in zip(ordered, prints, lookup, strict=True):
            scorer = self.scorer(m.brand)
            duplicate_of = None
            if keys:
                best = None
                earliest = m.created_at - window
                for cid in index.candidates(keys):
                    other = known[cid]
                    if cid == m.id or other.created_at > m.created_at or other.created_at < earliest:
                        continue
                    theirs = signatures.get(cid)
                    if theirs is None:  # a stored post's, read once however many posts it is compared with
                        theirs = signatures[cid] = np.frombuffer(other.signature, dtype=np.uint32)
                    if similarity(fp.signature, theirs) < self.cfg.similarity:
                        continue
                    if best is None or (other.created_at, other.mention_id) < (best.created_at, best.mention_id):
                        best = other
                if best is not None:
                    duplicate_of = best.root
            new_account = m.author_followers < scorer.settings.new_account_followers
            accounts = 0
            if duplicate_of is not None:
                if duplicate_of not in ring:
                    limit = scorer.settings.new_account_followers
                    ring[duplicate_of] = {known[k].author_handle for k in members.get(duplicate_of, ())
                                          if known[k].author_followers < limit}
                accounts_seen = ring[duplicate_of]
                if new_account:
                    accounts_seen.add(m.author_handle)
                accounts = len(accounts_seen) if new_account else 0
            verdict = scorer.score(m.text if not m.title else f"{m.title}\n{m.text}", ring_accounts=accounts)
            mark = NoiseMark(
                mention_id=m.id, brand=m.brand, author_handle=m.author_handle, author_followers=m.author_followers,
                created_at=m.created_at, duplicate_of=duplicate_of,
                bands=fp.bands if fp is not None else (),
                signature=fp.signature.tobytes() if fp is not None else b"",
                spam_score=verdict.score, spam_reasons=verdict.reasons, spam=verdict.spam,
            )
            if accounts == scorer.settings.same_text_accounts:  # the ring just became one: flag its earlier posts
                for other_id in members.get(duplicate_of or "", ()):
                    other = known[other_id]
                    if other.spam or other.author_followers >= scorer.settings.new_account_followers:
                        continue
                    flagged = self._ring_flag(other, accounts, scorer)
                    known[other_id] = flagged
                    if other_id in position:
                        new[position[other_id]] = flagged
                    else:
                        changed[other_id] = flagged
            known[m.id] = mark
            members.setdefault(mark.root, []).append(m.id)
            if keys:
                index.add(m.id, keys)
                signatures[m.id] = fp.signature
            position[m.id] = len(new)
            new.append(mark)
        return new, list(changed.values())

    @staticmethod
    def _ring_flag(mark: NoiseMark, accounts: int, scorer: SpamScorer) -> NoiseMark:
        reason = f"same text from {accounts} new accounts"
        score = round(mark.spam_score + scorer.weight("new_accounts"), 3)
        return replace(mark, spam_score=score, spam_reasons=(*mark.spam_reasons, reason),
                       spam=score >= scorer.settings.threshold)


def judge_for(config: Config) -> NoiseJudge:
    return NoiseJudge(config.noise, {b.name: b.spam for b in config.brands})


def mark_noise(config: Config, store: Store, judge: NoiseJudge | None = None, chunk: int = CHUNK) -> NoiseStats:
    """Judge every mention not judged yet; store the marks chunk by chunk (a crash loses nothing:
    the unjudged rest is picked up by the next run)."""
    judge = judge or judge_for(config)
    window = timedelta(hours=config.noise.window_hours)
    stats = NoiseStats()
    while True:
        with _collector_paused():
            pending = store.unjudged_posts(limit=chunk)
            if not pending:
                return stats
            since = min(m.created_at for m in pending) - window
            marks, changed = judge.judge(pending, lambda bands: store.noise_candidates(bands, since))
            store.set_noise([*marks, *changed])
        stats.judged += len(marks)
        stats.duplicates += sum(1 for m in marks if m.duplicate_of)
        stats.spam += sum(1 for m in marks if m.spam)
        stats.reflagged += len(changed)
        if len(pending) < chunk:
            return stats


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a chunk is judged. Judging allocates some hundred
    thousand small objects a chunk (tuples, strings, marks) and makes no reference cycles, yet
    each allocation burst sets off collections that walk every object of the process (in the
    pipeline: models, configs, the whole run), which cost a seventh of the step. Freed objects
    are still freed at once (reference counting); the collector runs again as usual after."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
