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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.collector import collector_paused
from monitor.noise.duplicates import Fingerprint, Posts, earliest_matches, fingerprints
from monitor.noise.marks import RUN_MEMORY, NoiseMark, NoisePostLike, NoiseStats, key_ids, to_us
from monitor.noise.settings import NoiseConfig, SpamSettings
from monitor.noise.spam import SpamScorer

if TYPE_CHECKING:
    from datetime import datetime

    from monitor.config import Config
    from monitor.store.base import Store

CHUNK = 20_000  # mentions judged per store round trip (20,000 vs 10,000: 3.1 vs 3.5 s a brand at 100,000 posts)


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
        stored = list(prior(wanted)) if wanted else []
        for mark in stored:
            known[mark.mention_id] = mark
            members.setdefault(mark.root, []).append(mark.mention_id)
        # A stored mark of a post judged again here is no one's candidate: its new mark takes its place.
        chunk_ids = {m.id for m in ordered}
        candidates = [mark for mid, mark in known.items() if mid not in chunk_ids]
        best = earliest_matches(_posts(candidates, ordered, prints, self.cfg.num_perm),
                                window // timedelta(microseconds=1), self.cfg.similarity)
        roots = [mark.root for mark in candidates]  # by post, as `best` numbers them; the new ones' appended as judged
        ring: dict[str, set[str]] = {}  # cluster root -> hardly-followed accounts seen posting it
        new: list[NoiseMark] = []
        position: dict[str, int] = {}  # index in `new` of each mark judged in this call
        changed: dict[str, NoiseMark] = {}
        for m, fp, match in zip(ordered, prints, best.tolist(), strict=True):
            scorer = self.scorer(m.brand)
            duplicate_of = roots[match] if match >= 0 else None
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
            roots.append(mark.root)
            position[m.id] = len(new)
            new.append(mark)
        return new, list(changed.values())

    @staticmethod
    def _ring_flag(mark: NoiseMark, accounts: int, scorer: SpamScorer) -> NoiseMark:
        reason = f"same text from {accounts} new accounts"
        score = round(mark.spam_score + scorer.weight("new_accounts"), 3)
        return replace(mark, spam_score=score, spam_reasons=(*mark.spam_reasons, reason),
                       spam=score >= scorer.settings.threshold)


def _posts(stored: Sequence[NoiseMark], ordered: Sequence[NoisePostLike], prints: Sequence[Fingerprint | None],
           num_perm: int) -> Posts:
    """The stored candidates and the new posts (in judging order) as `earliest_matches` reads them."""
    times = [to_us(m.created_at) for m in stored] + [to_us(m.created_at) for m in ordered]
    ids = [m.mention_id for m in stored] + [m.id for m in ordered]
    by_order = sorted(range(len(ids)), key=lambda i: (times[i], ids[i]))
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[by_order] = np.arange(len(ids))
    signatures = np.zeros((len(ids), num_perm), dtype=np.uint32)
    comparable = np.zeros(len(ids), dtype=bool)
    for i, mark in enumerate(stored):  # row by row: a joined copy of them all was tens of MB at scale
        if len(mark.signature) == 4 * num_perm:  # a signature of another size (settings changed) matches nothing
            signatures[i] = np.frombuffer(mark.signature, dtype=np.uint32)
            comparable[i] = True
    for i, fp in enumerate(prints, start=len(stored)):
        if fp is not None and fp.comparable:
            signatures[i] = fp.signature
            comparable[i] = True
    keys = np.concatenate([key_ids([b for m in stored for b in m.bands]),
                           *(fp.band_ids for fp in prints if fp is not None)])
    owners = np.repeat(np.arange(len(ids), dtype=np.int64),
                       [len(m.bands) for m in stored] + [len(fp.band_ids) if fp is not None else 0 for fp in prints])
    numbers: dict[str, int] = {}
    return Posts(keys=keys, owners=owners, times=np.array(times, dtype=np.int64), ranks=ranks,
                 ids=np.array([numbers.setdefault(i, len(numbers)) for i in ids], dtype=np.int64),
                 signatures=signatures, comparable=comparable, first_new=len(stored))


def judge_for(config: Config) -> NoiseJudge:
    return NoiseJudge(config.noise, {b.name: b.spam for b in config.brands})


def mark_noise(config: Config, store: Store, judge: NoiseJudge | None = None, chunk: int = CHUNK,
               memory: int = RUN_MEMORY, brand: str | None = None, since: datetime | None = None) -> NoiseStats:
    """Judge every mention not judged yet (of `brand`, if given; created at or after `since`, if
    given); store the marks chunk by chunk (a crash loses nothing: the unjudged rest is picked up
    by the next run).

    A post is only ever compared with posts of its own brand (band keys carry the brand, and spam
    rings are clusters), so judging each brand on its own finds the copies one run over all finds
    (a ring counts the accounts among a chunk's candidates, so only where chunks are cut may
    differ): the pipeline judges brand by brand (`pipeline.judge_noise`), and the Airflow DAG in a
    task instance per brand.

    A chunk's candidates judged earlier in the same run come from memory (`RunMarks`); the store
    is asked only for what memory may lack: marks stored before the run, and marks this run judged
    and let go of (the oldest), so only up to the newest of those, within the chunk's window."""
    judge = judge or judge_for(config)
    window = timedelta(hours=config.noise.window_hours)
    stats = NoiseStats()
    run = RunMarks(memory)
    stored_until: datetime | None = None  # the newest post judged before this run (read with the first chunk)
    first = True
    # Where the next read starts: the newest post of the chunk just judged (the posts left at its
    # time are still unjudged, so they are read again). A post stored meanwhile with an older time
    # waits for the next run, like one stored after the run.
    resume = since
    while True:
        with collector_paused():
            pending = store.unjudged_posts(limit=chunk, since=resume, brand=brand)
            if not pending:
                return stats
            if first:
                stored_until, first = store.newest_judged(brand), False
            since = min(m.created_at for m in pending) - window
            older = max((t for t in (stored_until, run.dropped_until) if t is not None), default=None)

            def prior(bands: set[str], since: datetime = since, older: datetime | None = older) -> list[NoiseMark]:
                found = run.candidates(bands, since)
                if older is not None and older >= since:
                    known = {m.mention_id for m in found}
                    found += [m for m in store.noise_candidates(bands, since, older) if m.mention_id not in known]
                return found

            marks, changed = judge.judge(pending, prior)
            store.set_noise([*marks, *changed])
            run.add(marks, changed)
            run.forget_before(since)
            resume = pending[-1].created_at
        stats.judged += len(marks)
        stats.duplicates += sum(1 for m in marks if m.duplicate_of)
        stats.spam += sum(1 for m in marks if m.spam)
        stats.reflagged += len(changed)
        if len(pending) < chunk:
            return stats


class RunMarks:
    """The marks a run has judged and stored, kept so its later chunks find their candidates here.

    A big run (a backfill, a day replayed) judges tens of thousands of posts; each chunk used to
    read the earlier chunks' marks back from the store (a query per 500 band keys, a mark built
    per row: a quarter of the noise step). The marks are the ones `set_noise` just stored, so
    what `candidates` returns is what the store's `noise_candidates` would: the marks created at
    or after `since` sharing a key, with only the shared keys as their bands. Bounded: past
    `limit` marks the oldest are let go of, and `dropped_until` tells the caller to ask the
    store again for the window they covered."""

    def __init__(self, limit: int = RUN_MEMORY) -> None:
        self.limit = limit
        self._marks: dict[int, NoiseMark] = {}  # serial (order added) -> mark, without its band keys
        self._serials: dict[str, int] = {}  # mention id -> serial
        self._keys = np.zeros(0, dtype=np.uint64)  # every kept mark's band keys as numbers, sorted
        self._owners = np.zeros(0, dtype=np.int64)  # the serial of each key's mark
        self._next = 0
        self.dropped_until: datetime | None = None  # the newest creation time among marks let go of

    def __len__(self) -> int:
        return len(self._marks)

    def add(self, marks: Sequence[NoiseMark], changed: Sequence[NoiseMark] = ()) -> None:
        """Keep `marks` (judged with all their band keys); `changed`: stored marks re-flagged, kept
        up to date here if they are kept (the others are in the store, and found there)."""
        for mark in changed:
            serial = self._serials.get(mark.mention_id)
            if serial is not None:
                self._marks[serial] = _with_bands(mark, ())
        keyed = [m for m in marks if m.bands]  # a post without keys is no one's candidate
        if not keyed:
            return
        serials = np.arange(self._next, self._next + len(keyed), dtype=np.int64)
        self._next += len(keyed)
        for serial, mark in zip(serials.tolist(), keyed, strict=True):
            old = self._serials.get(mark.mention_id)
            if old is not None:  # judged again: the newer mark replaces it (its old keys lead nowhere)
                self._marks.pop(old)
            self._serials[mark.mention_id] = serial
            self._marks[serial] = _with_bands(mark, ())
        keys = key_ids([b for m in keyed for b in m.bands])
        owners = np.repeat(serials, [len(m.bands) for m in keyed])
        order = np.argsort(keys, kind="stable")
        keys, owners = keys[order], owners[order]
        at = np.searchsorted(self._keys, keys, side="right")  # a merge of two sorted runs, not a new sort
        self._keys = np.insert(self._keys, at, keys)
        self._owners = np.insert(self._owners, at, owners)
        self._trim()

    def forget_before(self, since: datetime) -> None:
        """Let go of the oldest marks created before `since` (no later chunk's window reaches them:
        chunks come oldest first), and of the oldest beyond `limit`."""
        self._trim(since)

    def _trim(self, since: datetime | None = None) -> None:
        drop: list[int] = []
        excess = len(self._marks) - self.limit
        for serial, mark in self._marks.items():  # oldest added first
            if len(drop) < excess or (since is not None and mark.created_at < since):
                drop.append(serial)
            else:
                break
        if not drop:
            return
        for serial in drop:
            mark = self._marks.pop(serial)
            del self._serials[mark.mention_id]
            if since is None or mark.created_at >= since:  # let go of while still in a window: the store has it
                if self.dropped_until is None or mark.created_at > self.dropped_until:
                    self.dropped_until = mark.created_at
        # Serials grow in the order marks are added, so what is left is every serial from the first kept.
        first = next(iter(self._marks), self._next)
        keep = self._owners >= first
        self._keys, self._owners = self._keys[keep], self._owners[keep]

    def candidates(self, bands: Iterable[str], since: datetime) -> list[NoiseMark]:
        """The kept marks created at or after `since` that share any of these band keys, each with
        the keys it shares as its bands."""
        wanted = list(set(bands))
        if not wanted or not len(self._keys):
            return []
        ids = key_ids(wanted)
        by_id = np.argsort(ids)  # sorted look-ups walk the index forwards: several times faster
        ids = ids[by_id]
        lo = np.searchsorted(self._keys, ids, side="left")
        hi = np.searchsorted(self._keys, ids, side="right")
        counts = hi - lo
        hit = np.flatnonzero(counts)
        if not len(hit):
            return []
        counts = counts[hit]
        starts = np.repeat(lo[hit] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
        owners = self._owners[starts]
        by_owner = np.argsort(owners, kind="stable")  # each mark's keys together, still in key order
        owners = owners[by_owner]
        names = np.array(wanted, dtype=object)[by_id[np.repeat(hit, counts)][by_owner]].tolist()
        serials, firsts = np.unique(owners, return_index=True)
        bounds = [*firsts.tolist(), len(names)]
        found = []
        for serial, start, stop in zip(serials.tolist(), bounds, bounds[1:]):
            mark = self._marks.get(serial)
            if mark is not None and mark.created_at >= since:
                found.append(_with_bands(mark, tuple(names[start:stop])))
        return found


def _with_bands(mark: NoiseMark, bands: tuple[str, ...]) -> NoiseMark:
    """`dataclasses.replace(mark, bands=bands)` without its field-by-field rebuild: a big run makes
    a few hundred thousand of these, and replace cost more than the look-ups that need them."""
    copy = object.__new__(NoiseMark)
    copy.__dict__.update(mark.__dict__)
    copy.__dict__["bands"] = bands
    return copy
