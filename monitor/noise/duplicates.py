"""Near-duplicate detection: MinHash signatures of normalised text, banded for LSH.

A post's signature (datasketch's MinHash over the character shingles of its normalised text,
monitor/noise/text.py) estimates its Jaccard similarity with any other post's. Cutting the
signature into bands and hashing each band gives keys that two similar posts share with high
probability and two different posts rarely do (LSH); only posts sharing a key are compared,
on their whole signature, so finding a post's copies costs a lookup, not a scan.

datasketch's own `MinHashLSH` keeps its index in memory (or Redis/Cassandra). Here the band
keys are stored with each mention by the store (SQLite or Elasticsearch, behind the store
protocol), so the index survives restarts and a copy posted hours later, or fetched by another
source in another run, still finds its first post.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from monitor.noise.marks import key_id
from monitor.noise.settings import NoiseConfig
from monitor.noise.text import normalise, shingles

_NO_IDS = np.zeros(0, dtype=np.uint64)
SEED = 1  # fixed forever: stored signatures and band keys must stay comparable across versions


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, str]:
    """datasketch's "affine32" permutations for `SEED` (MinHash._init_permutations: odd `a`, any
    `b`, from numpy's RandomState), drawn here so a run does not import datasketch, which loads
    scipy (half a second of every run); a test checks they equal datasketch's."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.array([a, b]), "affine32"


@dataclass(frozen=True)
class Fingerprint:
    """A post's normalised text, its MinHash signature and its LSH band keys (empty when too short)."""

    text: str
    signature: np.ndarray  # uint32, num_perm values; empty when the text is too short to compare
    bands: tuple[str, ...]
    band_ids: np.ndarray  # the same keys as uint64 numbers (`key_id`), for finding shared ones in numpy

    @property
    def comparable(self) -> bool:
        return len(self.signature) > 0


def fingerprint(text: str, brand: str, cfg: NoiseConfig) -> Fingerprint:
    """Normalise, sign and band one post. Band keys carry the brand: copies are found per brand.

    datasketch's own MinHash, one post at a time; `fingerprints` gives the same signatures for
    many posts at once, several times faster (what the pipeline uses)."""
    norm = normalise(text)
    if len(norm) < max(cfg.min_chars, cfg.shingle_chars + 1):
        return Fingerprint(norm, np.zeros(0, dtype=np.uint32), (), _NO_IDS)
    from datasketch import MinHash  # the reference implementation, for one post; loads scipy

    permutations, scheme = _permutations(cfg.num_perm)
    sketch = MinHash(num_perm=cfg.num_perm, seed=SEED, hashfunc=shingle_hash, permutations=permutations,
                     scheme=scheme)
    sketch.update_batch(shingles(norm, cfg.shingle_chars))
    signature = sketch.hashvalues.astype(np.uint32)
    bands = band_keys(signature, brand, cfg)
    return Fingerprint(norm, signature, bands, np.fromiter(map(key_id, bands), dtype=np.uint64, count=len(bands)))


# MurmurHash3's 32-bit finalizer, which datasketch's "affine32" scheme applies to each input hash
# before its permutations (datasketch.minhash._fmix); tests check the batch signatures against
# datasketch's MinHash, so a change there cannot go unnoticed.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
BATCH = 256  # posts signed per numpy step: bounds the (shingles x permutations) matrix to a few MB


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


def shingle_hash(piece: bytes) -> int:
    """A shingle (at most 8 bytes) as a 32-bit value: its bytes as a little-endian integer, the
    high half folded onto the low. No mixing needed: datasketch's scheme mixes every input
    (MurmurHash3's finalizer) before permuting, and this is what numpy computes for a whole
    batch of posts at once in `fingerprints`."""
    value = int.from_bytes(piece, "little")
    return (value ^ (value >> 32)) & 0xFFFFFFFF


def _window_hashes(norms: list[bytes], size: int) -> tuple[np.ndarray, np.ndarray]:
    """`shingle_hash` of every `size`-byte window of each text (each text's run one after the
    other), and each text's number of windows."""
    lengths = np.fromiter((len(t) for t in norms), dtype=np.int64, count=len(norms))
    buf = np.frombuffer(b"".join(norms), dtype=np.uint8)
    span = len(buf) - size + 1
    value = np.zeros(max(span, 0), dtype=np.uint64)
    for j in range(size):
        value |= buf[j:j + span].astype(np.uint64) << np.uint64(8 * j)
    windows = np.maximum(lengths - size + 1, 1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    first = np.concatenate([[0], np.cumsum(windows)[:-1]])
    index = np.repeat(starts, windows) + (np.arange(int(windows.sum())) - np.repeat(first, windows))
    picked = value[index]
    return ((picked ^ (picked >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32), windows


def fingerprints(items: Sequence[tuple[str, str]], cfg: NoiseConfig) -> list[Fingerprint]:
    """`fingerprint` of each (text, brand), the MinHash computed for many posts in one numpy step:
    the same permutations and scheme as datasketch's MinHash, so the same signatures, and the
    same band keys as `band_keys`, computed for all posts at once."""
    (a, b), _ = _permutations(cfg.num_perm)
    norms = [normalise(text) for text, _ in items]
    shortest = max(cfg.min_chars, cfg.shingle_chars + 1)
    todo = [i for i, norm in enumerate(norms) if len(norm) >= shortest]
    signatures = np.empty((len(todo), cfg.num_perm), dtype=np.uint32)
    a_col, b_col = a[:, None], b[:, None]
    buffer = np.empty((cfg.num_perm, 0), dtype=np.uint32)  # reused: fresh megabytes each step cost page faults
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as the scheme means it to
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            # A text's windows repeat some shingles; a minimum does not mind, so no set is needed.
            hv, lengths = _window_hashes([norms[i].encode("utf-8") for i in chunk], cfg.shingle_chars)
            if buffer.shape[1] < len(hv):
                buffer = np.empty((cfg.num_perm, len(hv) + len(hv) // 4), dtype=np.uint32)
            # permutations x shingles, so each post's minimum is over a contiguous run of each row
            phv = np.multiply(a_col, _fmix32(hv)[None, :], out=buffer[:, :len(hv)])
            phv += b_col
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            signatures[start:start + len(chunk)] = np.minimum.reduceat(phv, offsets, axis=1).T
    keys, ids = _band_keys_batch(signatures, [items[i][1] for i in todo], cfg)
    signed = dict(zip(todo, zip(signatures, keys, ids, strict=True), strict=True))
    empty = (np.zeros(0, dtype=np.uint32), (), _NO_IDS)
    return [Fingerprint(norm, *signed.get(i, empty)) for i, norm in enumerate(norms)]


def band_keys(signature: np.ndarray, brand: str, cfg: NoiseConfig) -> tuple[str, ...]:
    """One key per band: its number and a 32-bit hash of the brand and the band's values. Two
    different bands colliding only make a candidate that the whole-signature check turns away."""
    raw = signature.tobytes()
    width = cfg.rows * 4
    seed = _brand_seed(brand)
    return tuple(f"{i:02d}{zlib.crc32(raw[i * width:(i + 1) * width], seed):08x}" for i in range(cfg.bands))


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> np.uint32(1)) ^ np.uint32(0xEDB88320), table >> np.uint32(1))
    return table.astype(np.uint32)


_CRC_TABLE = _crc_table()  # zlib's CRC-32 (the reflected 0xEDB88320 polynomial), a byte at a time
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).astype(np.uint32)  # as UCS-4 code points


def _band_keys_batch(signatures: np.ndarray, brands: Sequence[str], cfg: NoiseConfig
                     ) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """`band_keys` of each row of `signatures`: zlib.crc32 of each band's bytes, seeded with the
    brand's, computed a byte position at a time over every band of every post, and the keys
    written as one array of UCS-4 text (a crc32 call and an f-string per key cost more than
    the MinHash itself). Also the keys as `key_id` numbers, one row a post."""
    n, bands, width = len(signatures), cfg.bands, cfg.rows * 4
    if n == 0:
        return [], np.zeros((0, bands), dtype=np.uint64)
    data = np.ascontiguousarray(signatures, dtype="<u4").view(np.uint8).reshape(n, bands, width)
    data = np.ascontiguousarray(data.transpose(2, 0, 1), dtype=np.uint32)  # byte position first
    seeds = np.fromiter((_brand_seed(b) for b in brands), dtype=np.uint32, count=n)
    crc = np.repeat((seeds ^ np.uint32(0xFFFFFFFF))[:, None], bands, axis=1)
    index = np.empty((n, bands), dtype=np.uint32)
    for j in range(width):
        np.bitwise_xor(crc, data[j], out=index)
        index &= np.uint32(0xFF)
        crc >>= np.uint32(8)
        crc ^= np.take(_CRC_TABLE, index)
    crc ^= np.uint32(0xFFFFFFFF)
    text = np.empty((n, bands, 10), dtype=np.uint32)
    numbers = np.arange(bands, dtype=np.uint32)
    text[:, :, 0] = np.uint32(ord("0")) + numbers // np.uint32(10)
    text[:, :, 1] = np.uint32(ord("0")) + numbers % np.uint32(10)
    for k in range(8):
        text[:, :, 2 + k] = _HEX[(crc >> np.uint32(28 - 4 * k)) & np.uint32(0xF)]
    keys = text.view("U10").reshape(n * bands).tolist()
    ids = (numbers.astype(np.uint64) << np.uint64(32)) | crc.astype(np.uint64)
    return [tuple(keys[p:p + bands]) for p in range(0, n * bands, bands)], ids


@lru_cache(maxsize=1024)
def _brand_seed(brand: str) -> int:
    return zlib.crc32(brand.encode("utf-8"))


def similarity(a: np.ndarray | bytes, b: np.ndarray | bytes) -> float:
    """Estimated Jaccard similarity of two signatures (the share of equal MinHash values)."""
    x = np.frombuffer(a, dtype=np.uint32) if isinstance(a, bytes) else a
    y = np.frombuffer(b, dtype=np.uint32) if isinstance(b, bytes) else b
    if len(x) == 0 or len(x) != len(y):
        return 0.0
    return float(np.count_nonzero(x == y)) / len(x)


PAIRS_PER_STEP = 1 << 18  # candidate pairs compared per numpy step: bounds its arrays to a few MB each
FIRST_LOOK = 4  # a new post's earliest candidates per key within its window, compared before the rest
_NONE = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Posts:
    """The posts one judging step looks at, as arrays: the stored ones first (`first_new` of them),
    then the new ones in the order they are judged, which must be time order (oldest first).

    `keys`/`owners`: every band key (`key_id`) of every post and the post it belongs to; `times`:
    microseconds since the epoch; `ranks`: each post's place in (created_at, id) order, the order
    in which the earliest match is chosen (so ranks follow times); `ids`: a number per mention id
    (two entries of one mention never match each other); `signatures` one row a post,
    `comparable` where it is one."""

    keys: np.ndarray
    owners: np.ndarray
    times: np.ndarray
    ranks: np.ndarray
    ids: np.ndarray
    signatures: np.ndarray
    comparable: np.ndarray
    first_new: int


def earliest_matches(posts: Posts, window_us: int, threshold: float) -> np.ndarray:
    """For each new post, the earliest (by `ranks`) post that shares a band key with it, came before
    it (a stored post created no later; a new one judged before it), within `window_us` before it,
    and whose signature is at least `threshold` similar; -1 where there is none.

    A whole step's candidate pairs in numpy, not each post's candidates walked in Python. Each
    key's posts are taken in time order, so a post's candidates through a key are the posts of
    that key ahead of it, from the first inside its window. Its first `FIRST_LOOK` of them are
    compared first, then only those of the rest that could still be earlier than the match found:
    a flood of one text costs each copy a few comparisons, not one per earlier copy."""
    n_new = len(posts.times) - posts.first_new
    if n_new <= 0 or not len(posts.keys):
        return np.full(max(n_new, 0), -1, dtype=np.int64)
    newness = posts.owners >= posts.first_new
    # By key, then time, a stored post before a new one of the same time (it may be a candidate),
    # new ones in judging order: the candidates of each entry are the entries of its key ahead of it.
    order = np.lexsort((posts.owners, newness, posts.times[posts.owners], posts.keys))
    keys, owners = posts.keys[order], posts.owners[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    group_start = np.repeat(starts, sizes)
    entries = np.flatnonzero(newness[order] & (np.arange(len(keys)) > group_start))
    # (key, time) as one sorted number, to find where a time falls among a key's entries.
    uniq = np.unique(posts.times)
    group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    ordinal = group * (len(uniq) + 1) + np.searchsorted(uniq, posts.times[owners])

    def at_time(times: np.ndarray, side: str) -> np.ndarray:
        """For each entry, where its `times` value falls among its key's entries ("left": at the
        first entry of that time or later, "right": after the last of that time), at most itself."""
        found = np.searchsorted(ordinal, group[entries] * (len(uniq) + 1) + np.searchsorted(uniq, times, side="left"),
                                side=side)
        return np.minimum(entries, found)

    best = np.full(n_new, _NONE, dtype=np.int64)  # the best candidate's rank so far, by new post
    first = at_time(posts.times[owners[entries]] - window_us, "left")  # older ones are out of the window
    look = np.minimum(entries, first + FIRST_LOOK)
    _compare_ranges(posts, owners, entries, first, look, window_us, threshold, best)
    # The rest, as far as a candidate could still be earlier than the match found: one created
    # after it cannot be (ranks follow times).
    by_rank = np.empty(len(posts.ranks), dtype=np.int64)
    by_rank[posts.ranks] = np.arange(len(posts.ranks))
    mine = best[owners[entries] - posts.first_new]
    matched = mine != _NONE
    limit = np.where(matched, at_time(posts.times[by_rank[np.where(matched, mine, 0)]], "right"), entries)
    _compare_ranges(posts, owners, entries, look, limit, window_us, threshold, best)  # none where limit <= look
    found = best != _NONE
    return np.where(found, by_rank[np.where(found, best, 0)], -1)


def _compare_ranges(posts: Posts, owners: np.ndarray, entries: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    window_us: int, threshold: float, best: np.ndarray) -> None:
    """Compare the owner of each entry with the owners of the entries in [lo, hi) of it, a bounded
    number of pairs at a time."""
    counts = hi - lo
    keep = counts > 0
    entries, lo, counts = entries[keep], lo[keep], counts[keep]
    ends = np.cumsum(counts)
    step_from = 0
    while step_from < len(entries):
        base = ends[step_from - 1] if step_from else 0
        step_to = max(int(np.searchsorted(ends, base + PAIRS_PER_STEP, side="right")), step_from + 1)
        many = counts[step_from:step_to]
        offsets = np.arange(int(many.sum())) - np.repeat(np.cumsum(many) - many, many)
        a = owners[np.repeat(lo[step_from:step_to], many) + offsets]
        b = np.repeat(owners[entries[step_from:step_to]], many)
        _keep_best(posts, a, b, window_us, threshold, best)
        step_from = step_to


def _keep_best(posts: Posts, a: np.ndarray, b: np.ndarray, window_us: int, threshold: float,
               best: np.ndarray) -> None:
    """Lower `best` (by new post) to the rank of each candidate `a` of `b` that qualifies."""
    times = posts.times
    # "Came before b" needs no check here: a stored post later than b sorts after it (earliest_matches).
    ok = (posts.ids[a] != posts.ids[b]) & (times[a] >= times[b] - window_us) & posts.comparable[a] \
        & posts.comparable[b]
    a, b = a[ok], b[ok]
    pair = np.unique(b.astype(np.int64) * len(times) + a)
    a, b = pair % len(times), pair // len(times)
    width = posts.signatures.shape[1]
    rows = max(PAIRS_PER_STEP * 4 // max(width, 1), 1)  # each gathered matrix ~4 MB, whatever the signature size
    for s in range(0, len(pair), rows):
        x, y = a[s:s + rows], b[s:s + rows]
        same = np.count_nonzero(posts.signatures[x] == posts.signatures[y], axis=1)
        hit = same / width >= threshold  # as `similarity` computes it, so the same verdict at the line
        np.minimum.at(best, y[hit] - posts.first_new, posts.ranks[x[hit]])
