"""Posts -> groups by meaning: average-linkage clustering of their sentence vectors.

Why average linkage cut at a cosine distance: the number of themes in a window is not
known in advance (k-means would need it), a group's members are all about as close to one
another as the threshold says (single linkage chains unrelated posts through neighbours),
and the result does not depend on a random seed or on the order posts arrive in, so the
same window always gives the same groups. On 10,000 posts it takes a few seconds (SciPy's
nearest-neighbour chain, O(n^2) memory: 400 MB at 10,000; `ThemeSettings.max_posts` bounds
a window).
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
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    condensed = np.clip(pdist(np.asarray(vectors, dtype=np.float64), "cosine"), 0.0, 2.0)
    raw = fcluster(linkage(condensed, method="average"), t=distance, criterion="distance")
    ids, first, sizes = np.unique(raw, return_index=True, return_counts=True)
    keep = [(-int(size), int(at), int(i)) for i, at, size in zip(ids, first, sizes, strict=True) if size >= min_size]
    for new, (_, _, old) in enumerate(sorted(keep)):
        labels[raw == old] = new
    return labels


def centroid(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of L2-normalised rows: the group's direction."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)
