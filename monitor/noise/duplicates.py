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

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from monitor.noise.settings import NoiseConfig
from monitor.noise.text import normalise, shingles

SEED = 1  # fixed forever: stored signatures and band keys must stay comparable across versions


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    base = MinHash(num_perm=num_perm, seed=SEED, scheme="affine32")
    return base.permutations, base.scheme


@dataclass(frozen=True)
class Fingerprint:
    """A post's normalised text, its MinHash signature and its LSH band keys (empty when too short)."""

    text: str
    signature: np.ndarray  # uint32, num_perm values; empty when the text is too short to compare
    bands: tuple[str, ...]

    @property
    def comparable(self) -> bool:
        return len(self.signature) > 0


def fingerprint(text: str, brand: str, cfg: NoiseConfig) -> Fingerprint:
    """Normalise, sign and band one post. Band keys carry the brand: copies are found per brand."""
    norm = normalise(text)
    if len(norm) < cfg.min_chars:
        return Fingerprint(norm, np.zeros(0, dtype=np.uint32), ())
    permutations, scheme = _permutations(cfg.num_perm)
    sketch = MinHash(num_perm=cfg.num_perm, seed=SEED, hashfunc=zlib.crc32, permutations=permutations,
                     scheme=scheme)
    sketch.update_batch(shingles(norm, cfg.shingle_chars))
    signature = sketch.hashvalues.astype(np.uint32)
    return Fingerprint(norm, signature, band_keys(signature, brand, cfg))


def band_keys(signature: np.ndarray, brand: str, cfg: NoiseConfig) -> tuple[str, ...]:
    raw = signature.tobytes()
    width = cfg.rows * 4
    return tuple(
        f"{i:02d}{hashlib.blake2b(brand.encode() + raw[i * width:(i + 1) * width], digest_size=8).hexdigest()}"
        for i in range(cfg.bands)
    )


def similarity(a: np.ndarray | bytes, b: np.ndarray | bytes) -> float:
    """Estimated Jaccard similarity of two signatures (the share of equal MinHash values)."""
    x = np.frombuffer(a, dtype=np.uint32) if isinstance(a, bytes) else a
    y = np.frombuffer(b, dtype=np.uint32) if isinstance(b, bytes) else b
    if len(x) == 0 or len(x) != len(y):
        return 0.0
    return float(np.count_nonzero(x == y)) / len(x)


class BandIndex:
    """An in-memory LSH table for one run: band key -> ids of the posts that have it.

    Filled with the stored posts that share a key with the run's new posts, then with each new
    post as it is judged, so a copy is found whether its first post arrived in an earlier run or
    earlier in this one.
    """

    def __init__(self) -> None:
        self._table: dict[str, list[str]] = {}

    def add(self, mention_id: str, bands: Iterable[str]) -> None:
        for key in bands:
            self._table.setdefault(key, []).append(mention_id)

    def candidates(self, bands: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for key in bands:
            found.update(self._table.get(key, ()))
        return found
