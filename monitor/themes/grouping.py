"""Posts -> groups by meaning: average-linkage clustering of their sentence vectors.

Why average linkage cut at a cosine distance: the number of themes in a window is not
known in advance (k-means would need it), a group's members are all about as close to one
another as the threshold says (single linkage chains unrelated posts through neighbours),
and the result does not depend on a random seed or on the order posts arrive in, so the
same window always gives the same groups.

Average linkage costs O(n^2) time and memory: at 10,000 posts, 1.2 GB for a moment and
seconds of CPU (the cosine distances come from one BLAS matrix product in float32, several
times faster than `pdist`; SciPy's nearest-neighbour chain links them). A window is bounded by
`ThemeSettings.max_posts` (5,000). `benchmarks/themes.py` measures it at 10,000.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NOISE", "centroid", "group"]

NOISE = -1  # a post in no group of at least `min_size`


def group(vectors: np.ndarray, distance: float, min_size: int = 2) -> np.ndarray:
    """One label per row: groups of at least `min_size` numbered 0, 1, ... largest first
    (ties: the group whose first row comes first); every other row is NOISE.

    `vectors` are L2-normalised rows; `distance` is the cosine distance (1 - cosine) at
    which the average-linkage merging stops.
    """
    n = len(vectors)
    labels = np.full(n, NOISE, dtype=np.int64)
    if n < max(min_size, 2):
        if n and min_size <= 1:
            labels[:] = np.arange(n)
        return labels
    raw = _linked(np.asarray(vectors, dtype=np.float32), distance)
    ids, first, sizes = np.unique(raw, return_index=True, return_counts=True)
    keep = [(-int(size), int(at), int(i)) for i, at, size in zip(ids, first, sizes, strict=True) if size >= min_size]
    for new, (_, _, old) in enumerate(sorted(keep)):
        labels[raw == old] = new
    return labels


def _linked(vectors: np.ndarray, distance: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    d = vectors @ vectors.T  # cosine similarity of unit rows
    np.subtract(1.0, d, out=d)
    np.fill_diagonal(d, 0.0)
    np.clip(d, 0.0, 2.0, out=d)
    condensed = squareform(d, checks=False).astype(np.float64)
    del d
    return fcluster(linkage(condensed, method="average"), t=distance, criterion="distance")


def centroid(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of L2-normalised rows: the group's direction."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)
