"""Judging a run's posts, specified by brute force: a post is a copy of the cluster of the earliest
post (stored, or judged before it in the run) of its brand, within the window, that shares an
LSH band key with it and whose signature is similar enough. The judge compares the candidate
pairs of a whole chunk at once; this checks that it finds exactly what comparing every pair finds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np

from monitor.models import Engagement, Mention
from monitor.noise.duplicates import Posts, earliest_matches, fingerprints, key_id, similarity
from monitor.noise.marking import NoiseJudge
from monitor.noise.marks import NoiseMark, NoisePost
from monitor.noise.settings import NoiseConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASES = [
    "Brisa charged me twice this month and support hung up on me three times never again",
    "the brisa app keeps crashing every time I open the billing page since the update",
    "Telefónica me cobró dos veces la factura y nadie contesta, qué vergüenza",
    "GIVEAWAY RT & follow and tag 3 friends to win a free iPhone https://bit.ly/x",
    "ok", "love it",
]


def stream(rng: random.Random, n: int, first_id: int, start: int = 0) -> list[Mention]:
    posts = []
    for i in range(n):
        words = rng.choice(BASES).split()
        for _ in range(rng.randrange(4)):  # the edits reposts make
            if rng.random() < 0.4 and words:
                words.pop(rng.randrange(len(words)))
            else:
                words.insert(rng.randrange(len(words) + 1), rng.choice(["lol", "#fail", "@x", "wtf", "https://t.co/a"]))
        native = str(first_id + i)
        posts.append(Mention(id=f"x:{native}", source="x", native_id=native, url="https://example.com",
                             author_handle=f"u{rng.randrange(30)}", author_followers=rng.choice([0, 500]),
                             text=" ".join(words), created_at=T0 + timedelta(minutes=start + rng.randrange(0, 600, 7)),
                             brand=rng.choice(["Brisa", "Other"]), query="brisa", engagement=Engagement()))
    return posts


def brute_force(posts: list[Mention], cfg: NoiseConfig) -> dict[str, str | None]:
    """Every pair compared, in posting order."""
    ordered = sorted(posts, key=lambda m: (m.created_at, m.id))
    prints = fingerprints([(m.text, m.brand) for m in ordered], cfg)
    root: dict[str, str] = {}
    out: dict[str, str | None] = {}
    for i, (m, fp) in enumerate(zip(ordered, prints, strict=True)):
        match = None
        for other, ofp in zip(ordered[:i], prints[:i], strict=True):  # earliest first
            if (set(fp.bands) & set(ofp.bands) and other.created_at >= m.created_at - timedelta(hours=cfg.window_hours)
                    and similarity(fp.signature, ofp.signature) >= cfg.similarity):
                match = other
                break
        out[m.id] = root[match.id] if match else None
        root[m.id] = out[m.id] or m.id
    return out


def test_copies_found_in_a_run_and_against_stored_posts_are_those_every_pair_finds():
    for seed in range(40):
        rng = random.Random(seed)
        cfg = NoiseConfig(window_hours=rng.choice([1, 3, 72]), similarity=rng.choice([0.5, 0.6, 0.8]))
        earlier, later = stream(rng, 40, 0), stream(rng, 40, 1000, start=600)  # a later run's posts
        judge = NoiseJudge(cfg)
        first, _ = judge.judge(earlier, lambda bands: [])
        stored = {m.mention_id: m for m in first}

        def prior(bands: set[str]):
            return [m.__class__(**{**m.__dict__, "bands": tuple(b for b in m.bands if b in bands)})
                    for m in stored.values() if bands & set(m.bands)]

        second, _ = judge.judge(later, prior)
        expected = brute_force([*earlier, *later], cfg)
        assert {m.mention_id: m.duplicate_of for m in [*first, *second]} == expected, seed
        assert any(m.duplicate_of for m in second) and not all(m.duplicate_of for m in second)


def pairwise_earliest(posts: Posts, window_us: int, threshold: float) -> list[int]:
    """`earliest_matches` by comparing every pair, one at a time."""
    out = []
    for b in range(posts.first_new, len(posts.times)):
        keys_b = set(posts.keys[posts.owners == b].tolist())
        best = -1
        for a in range(b):
            if (a >= posts.first_new or posts.times[a] <= posts.times[b]) \
                    and posts.ids[a] != posts.ids[b] and posts.times[a] >= posts.times[b] - window_us \
                    and posts.comparable[a] and posts.comparable[b] \
                    and keys_b & set(posts.keys[posts.owners == a].tolist()) \
                    and similarity(posts.signatures[a], posts.signatures[b]) >= threshold \
                    and (best < 0 or posts.ranks[a] < posts.ranks[best]):
                best = a
        out.append(best)
    return out


def test_each_posts_earliest_match_is_what_comparing_every_pair_finds_however_many_pairs_a_step_holds(monkeypatch):
    """Stored posts (any time order, later ones included), new posts in judging order, repeated
    ids and times, posts without a signature, keys shared by many: the candidate pairs the judge
    compares in numpy steps, a post's earliest few first, give each new post the match a
    pair-by-pair search gives, whatever the step and however many are looked at first."""
    from monitor.noise import duplicates

    matched = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n, first_new = int(rng.integers(2, 40)), int(rng.integers(0, 10))
        n_keys = int(rng.integers(0, 6 * n))
        stored_times = rng.integers(0, 50, first_new)
        new_times = np.sort(rng.integers(0, 60, n - first_new)) if n > first_new else np.zeros(0, dtype=np.int64)
        times = np.concatenate([stored_times, new_times]).astype(np.int64)
        ids = rng.integers(0, n + 3, n)
        ranks = np.empty(n, dtype=np.int64)
        ranks[sorted(range(n), key=lambda i: (int(times[i]), int(ids[i]), i))] = np.arange(n)
        posts = Posts(keys=rng.integers(0, 12, n_keys).astype(np.uint64), owners=rng.integers(0, n, n_keys),
                      times=times, ranks=ranks, ids=ids, signatures=rng.integers(0, 3, (n, 8)).astype(np.uint32),
                      comparable=rng.random(n) < 0.9, first_new=first_new)
        window, threshold = int(rng.integers(5, 60)), float(rng.choice([0.25, 0.5, 0.625]))
        expected = pairwise_earliest(posts, window, threshold)
        for step, first_look in ((1, 1), (3, 4), (64, 2), (1 << 20, 4), (1 << 20, 1000)):
            monkeypatch.setattr(duplicates, "PAIRS_PER_STEP", step)
            monkeypatch.setattr(duplicates, "FIRST_LOOK", first_look)
            assert earliest_matches(posts, window, threshold).tolist() == expected, (seed, step, first_look)
        matched += sum(e >= 0 for e in expected)
    assert matched > 100  # the cases are not all "no match"


def test_a_key_is_its_band_and_hash_as_a_number():
    cfg = NoiseConfig()
    (fp,) = fingerprints([(BASES[0], "Brisa")], cfg)
    assert key_id("07deadbeef") == (7 << 32) | 0xDEADBEEF
    assert np.array_equal(fp.band_ids, [key_id(k) for k in fp.bands])


def test_the_cycle_collector_is_left_as_it_was_even_when_the_store_fails(tmp_path):
    import gc

    import pytest

    from monitor.config import Config
    from monitor.noise.marking import mark_noise
    from monitor.store import SQLiteStore

    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}])
    store = SQLiteStore(tmp_path / "noise.db")
    store.ingest(stream(random.Random(1), 5, 0), [])
    assert gc.isenabled()
    assert mark_noise(config, store).judged == 5 and gc.isenabled()
    gc.disable()
    try:
        store.ingest(stream(random.Random(2), 5, 100), [])
        assert mark_noise(config, store).judged == 5 and not gc.isenabled()
    finally:
        gc.enable()

    class Failing:
        def unjudged_posts(self, limit: int, since=None, brand=None):
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        mark_noise(config, Failing())  # type: ignore[arg-type]
    assert gc.isenabled()
    store.close()


class CountingStore:
    """A real SQLite store that counts the candidate look-ups a noise run asks of it."""

    def __init__(self, path) -> None:
        from monitor.store import SQLiteStore

        self.inner = SQLiteStore(path)
        self.asked = 0

    def noise_candidates(self, bands, since, until=None):
        self.asked += 1
        return self.inner.noise_candidates(bands, since, until)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_what_a_run_keeps_in_memory_changes_no_mark_however_little_it_keeps(tmp_path):
    """A run keeps the marks it judged for its later chunks (monitor.noise.marking.RunMarks) and asks
    the store only for what memory may lack: posts judged before the run, and those it let go of.
    With no memory at all every candidate comes from the store, as before memory existed; with some,
    or plenty, the marks are the same, including a late post (created before the earlier run's
    newest) and copies across the two runs. (A chunk's spam rings count the accounts among its
    candidates, so chunk sizes are compared with themselves.)"""
    from monitor.config import Config
    from monitor.noise.marking import mark_noise

    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}, {"name": "Other", "queries": ["other"]}],
                    noise={"window_hours": 5})
    for seed in range(6):
        rng = random.Random(seed)
        earlier = stream(rng, 30, 0)
        later = [*stream(rng, 60, 1000, start=300), *stream(rng, 5, 2000)]  # the last five arrive late
        for chunk in (10**6, 7, 1):
            results = []
            for memory in (0, 3, 12, 10**6):
                store = CountingStore(tmp_path / f"{seed}-{chunk}-{memory}.db")
                store.ingest(earlier, [])
                mark_noise(config, store, chunk=chunk, memory=memory)
                store.ingest(later, [])
                mark_noise(config, store, chunk=chunk, memory=memory)
                marks = store.noise_of([m.id for m in [*earlier, *later]])
                results.append({mid: (m.duplicate_of, m.spam, m.spam_reasons) for mid, m in marks.items()})
                store.close()
            assert len(results[0]) == 95 and any(d for d, _, _ in results[0].values()), seed
            assert all(r == results[0] for r in results[1:]), (seed, chunk)


def test_judging_one_brand_at_a_time_gives_the_marks_of_one_run_over_every_brand(tmp_path):
    """The Airflow DAG judges each brand in a task instance of its own (monitor.partitions.judge_brand),
    in any order. The two brands here post the same texts, so a copy across brands would show: a
    post is only ever the copy of its own brand's. Over one chunk the marks are those of one run
    over every brand, spam rings included; over small chunks the copies are (a chunk's spam rings
    count the accounts among its candidates, so chunk sizes are compared with themselves), also
    after a second batch that finds earlier ones in the store."""
    from monitor.config import Config
    from monitor.noise.marking import mark_noise

    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}, {"name": "Other", "queries": ["other"]}],
                    noise={"window_hours": 5})
    for seed in range(4):
        rng = random.Random(seed)
        earlier, later = stream(rng, 40, 0), stream(rng, 40, 1000, start=200)
        for chunk in (10**6, 7):
            results = []
            for order in ((None,), ("Brisa", "Other"), ("Other", "Brisa")):
                store = CountingStore(tmp_path / f"{seed}-{chunk}-{'-'.join(map(str, order))}.db")
                for batch in (earlier, later):
                    store.ingest(batch, [])
                    judged = sum(mark_noise(config, store, chunk=chunk, brand=brand).judged for brand in order)
                    assert judged == len(batch)
                marks = store.noise_of([m.id for m in [*earlier, *later]])
                results.append({mid: (m.duplicate_of, m.spam, m.spam_reasons) if chunk == 10**6 else m.duplicate_of
                                for mid, m in marks.items()})
                store.close()
            brand = {m.id: m.brand for m in [*earlier, *later]}
            copies = [(mid, v if chunk != 10**6 else v[0]) for mid, v in results[0].items()]
            assert len(results[0]) == 80 and sum(1 for _, root in copies if root) > 5, seed
            assert all(brand[root] == brand[mid] for mid, root in copies if root)
            assert results[1] == results[0] and results[2] == results[0], (seed, chunk)


def test_the_pipelines_noise_step_judges_brand_by_brand_then_what_no_brand_config_covers(tmp_path):
    """`pipeline.judge_noise` judges each configured brand on its own, then the rest (here the posts
    of "Other", whose config was removed): every post is judged once, the counts add up, the
    marks are those of one pass over every post, and only one read walks from the first post."""
    from monitor.config import Config
    from monitor.noise.marking import mark_noise
    from monitor.pipeline import judge_noise

    class Reads(CountingStore):
        def __init__(self, path) -> None:
            super().__init__(path)
            self.since: list[datetime | None] = []

        def unjudged_posts(self, limit: int = 1000, since: datetime | None = None, brand: str | None = None):
            self.since.append(since)
            return self.inner.unjudged_posts(limit, since, brand)

    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}], noise={"window_hours": 5})
    posts = stream(random.Random(5), 60, 0)
    assert {p.brand for p in posts} == {"Brisa", "Other"}
    results = []
    for how in ("one pass", "pipeline"):
        store = Reads(tmp_path / f"{how}.db")
        store.ingest(posts, [])
        stats = mark_noise(config, store) if how == "one pass" else judge_noise(config, store)
        # The walk from the first stored post to the first one not judged is made once, not per brand.
        assert store.since.count(None) == 1 and len(store.since) >= (1 if how == "one pass" else 3)
        assert stats.judged == len(posts) and store.unjudged_posts(limit=100) == []
        marks = store.noise_of(p.id for p in posts)
        results.append(({mid: (m.duplicate_of, m.spam, m.spam_reasons) for mid, m in marks.items()},
                        (stats.duplicates, stats.spam, stats.reflagged)))
        store.close()
    assert results[1] == results[0]
    assert results[0][1][0] == sum(1 for copy_of, _, _ in results[0][0].values() if copy_of) > 5


def test_a_first_run_finds_its_candidates_in_memory_and_a_later_run_asks_the_store(tmp_path):
    from monitor.config import Config
    from monitor.noise.marking import mark_noise

    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}, {"name": "Other", "queries": ["other"]}])
    store = CountingStore(tmp_path / "noise.db")
    rng = random.Random(3)
    store.ingest(stream(rng, 50, 0), [])
    first = mark_noise(config, store, chunk=10)
    assert first.judged == 50 and first.duplicates > 0
    assert store.asked == 0  # nothing was judged before: no stored mark can be a candidate
    store.ingest(stream(rng, 20, 1000, start=600), [])
    second = mark_noise(config, store, chunk=10)
    assert second.judged == 20 and second.duplicates > 0
    assert store.asked == 2  # the earlier run's posts are in the window of each of its two chunks
    store.close()


def test_each_read_of_a_run_starts_at_the_newest_post_it_judged(tmp_path):
    """A big run's reads of unjudged posts start where the last chunk ended, instead of walking
    past every post the run has judged (quadratic over a big run); posts sharing
    that time are read again, and the marks are those of one read of everything."""
    from monitor.config import Config
    from monitor.noise.marking import mark_noise

    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}, {"name": "Other", "queries": ["other"]}])
    rng = random.Random(4)
    posts = stream(rng, 40, 0)
    posts += [p.model_copy(update={"id": f"{p.id}-again", "native_id": f"{p.native_id}-again"}) for p in posts[::4]]

    class Reads(CountingStore):
        def __init__(self, path) -> None:
            super().__init__(path)
            self.reads: list[tuple[datetime | None, list[NoisePost]]] = []

        def unjudged_posts(self, limit: int = 1000, since: datetime | None = None, brand: str | None = None):
            found = self.inner.unjudged_posts(limit, since, brand)
            self.reads.append((since, found))
            return found

    marks = []
    for chunk in (7, 10**6):
        store = Reads(tmp_path / f"{chunk}.db")
        store.ingest(posts, [])
        assert mark_noise(config, store, chunk=chunk).judged == len(posts)
        assert store.reads[0][0] is None
        for (_, before), (since, _) in zip(store.reads, store.reads[1:]):
            assert since == before[-1].created_at
        marks.append({mid: (m.duplicate_of, m.spam) for mid, m in store.noise_of(p.id for p in posts).items()})
        store.close()
    assert len(store.reads) == 1 and len(marks[0]) == len(posts) and marks[0] == marks[1]


def test_band_keys_that_are_not_keys_are_refused_by_name():
    import pytest

    from monitor.noise.marks import key_ids

    assert key_ids(["07deadbeef", "15000000ff"]).tolist() == [key_id("07deadbeef"), key_id("15000000ff")]
    for bad in ("07deadbee", "07deadbeef0", "07dé0dbeef"):
        with pytest.raises(ValueError, match="not a band key"):
            key_ids(["00aaaaaaaa", bad])


def test_a_flood_of_one_text_costs_each_copy_a_few_comparisons_not_one_per_earlier_copy(monkeypatch):
    """Three thousand posts of one giveaway in a chunk, within the window or spread over eight times
    its length: each is a copy of the first, found among the earliest candidates of its keys inside
    its window, so the pairs compared grow with the flood, not with its square."""
    from monitor.noise import duplicates

    compared = []
    keep_best = duplicates._keep_best
    monkeypatch.setattr(duplicates, "_keep_best", lambda posts, a, b, *rest: (compared.append(len(a)),
                                                                              keep_best(posts, a, b, *rest)))
    for cfg, every in ((NoiseConfig(), timedelta(seconds=1)), (NoiseConfig(window_hours=1), timedelta(seconds=10))):
        flood = [Mention(id=f"x:{i}", source="x", native_id=str(i), url="https://example.com", author_handle=f"u{i}",
                         author_followers=500, text=BASES[3] if i % 2 else f"{BASES[3]} {i % 7}",
                         created_at=T0 + every * i, brand="Brisa", query="brisa", engagement=Engagement())
                 for i in range(3000)]
        compared.clear()
        marks, _ = NoiseJudge(cfg).judge(flood, lambda bands: [])
        assert [m.duplicate_of for m in marks] == [None] + ["x:0"] * 2999  # each joins the cluster of its match
        assert sum(compared) <= 3000 * cfg.bands * duplicates.FIRST_LOOK  # every pair would be 72 million


def test_a_stored_signature_of_another_size_matches_nothing():
    """Marks judged under other MinHash settings (another number of permutations) share no
    comparable signature with today's posts: never a match, never an error. The same mark with
    today's signature is a match."""
    cfg = NoiseConfig()
    (fp,) = fingerprints([(BASES[0], "Brisa")], cfg)
    new = Mention(id="x:new", source="x", native_id="new", url="https://example.com", author_handle="b",
                  author_followers=500, text=BASES[0], created_at=T0 + timedelta(minutes=5), brand="Brisa",
                  query="brisa", engagement=Engagement())
    for signature, expected in ((fp.signature.tobytes(), "x:old"), (b"", None), (bytes(4 * cfg.num_perm - 4), None),
                                (bytes(4 * cfg.num_perm + 4), None), (bytes(255), None)):
        stored = NoiseMark(mention_id="x:old", brand="Brisa", author_handle="a", author_followers=500,
                           created_at=T0, duplicate_of=None, bands=fp.bands, signature=signature, spam_score=0.0,
                           spam_reasons=(), spam=False)
        marks, _ = NoiseJudge(cfg).judge([new], lambda bands, stored=stored: [stored])
        assert marks[0].duplicate_of == expected, len(signature)
