"""Noise: copies of one post and spam, judged per mention so they do not reach the care team as alerts.

* `duplicates.py`: MinHash/LSH near-duplicate detection on normalised text (`text.py`);
* `spam.py`: readable, per-brand spam rules;
* `marking.py`: the pipeline step that judges new mentions and stores the marks (`marks.py`);
* `clusters.py`: what a cluster of copies adds to its first post (engagement, "posted 37 times").

The heavy parts (numpy, datasketch) load only when a run judges mentions.
"""

from monitor.noise.marks import ClusterStats, NoiseMark
from monitor.noise.settings import NoiseConfig, SpamSettings

__all__ = ["ClusterStats", "NoiseConfig", "NoiseMark", "SpamSettings"]
