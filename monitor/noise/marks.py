"""What noise handling records about each mention, and what a cluster of copies adds up to.

Plain records with no dependency beyond the standard library, so the store protocol can name
them without importing MinHash or numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np


def key_id(key: str) -> int:
    """A band key ("BBhhhhhhhh": band number, 32-bit hash in hex) as one number: how the SQLite
    store indexes it (a third of the text's bytes) and how a run finds shared keys in numpy."""
    return (int(key[:2]) << 32) | int(key[2:], 16)


# Marks a run keeps for its later chunks (about 1 KB each, most of it the signature): here, not in
# marking.py, so the local workers' memory estimate reads it without loading numpy.
RUN_MEMORY = 100_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    """Microseconds since the epoch: a post's time as an integer, exact and in time order. How the
    SQLite store keys a band row's time, and how a run compares times in numpy."""
    return (at - _EPOCH) // _US


def key_ids(keys: Sequence[str]) -> np.ndarray:
    """`key_id` of many band keys at once, as uint64 (millions a run at scale: a Python call each
    would be seconds). The keys' bytes are read as one array, ten a key, rather than converted
    key by key. numpy only when called: this module's readers need not load it."""
    import numpy as np

    n = len(keys)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    try:
        raw = "".join(keys).encode("ascii")
    except UnicodeEncodeError:
        raw = b""
    if len(raw) != 10 * n:
        bad = next((k for k in keys if len(k) != 10 or not k.isascii()), keys[0])
        raise ValueError(f"not a band key (two digits, eight hex digits): {bad!r}")
    codes = np.frombuffer(raw, dtype=np.uint8).reshape(n, 10)
    band = (codes[:, 0].astype(np.uint64) - 48) * 10 + (codes[:, 1] - 48)
    digits = codes[:, 2:]
    values = np.where(digits >= 97, digits - 87, digits - 48).astype(np.uint64)  # 0-9 and a-f
    crc = np.zeros(n, dtype=np.uint64)
    for k in range(8):
        crc = (crc << np.uint64(4)) | values[:, k]
    return (band << np.uint64(32)) | crc


class NoisePost(NamedTuple):
    """What judging reads of a mention, and no more: a store reads a run's thousands of unjudged
    posts as these rather than as whole `Mention`s (validating every field of every mention cost
    more than judging it). A `Mention` has the same attributes, so either can be judged."""

    id: str
    brand: str
    author_handle: str
    author_followers: int
    created_at: datetime
    text: str
    title: str | None = None

    @classmethod
    def of(cls, mention: NoisePostLike) -> NoisePost:
        return cls(mention.id, mention.brand, mention.author_handle, mention.author_followers, mention.created_at,
                   mention.text, mention.title)


class NoisePostLike(Protocol):
    """A `NoisePost` or a `Mention`."""

    @property
    def id(self) -> str: ...
    @property
    def brand(self) -> str: ...
    @property
    def author_handle(self) -> str: ...
    @property
    def author_followers(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def text(self) -> str: ...
    @property
    def title(self) -> str | None: ...


@dataclass(frozen=True)
class NoiseMark:
    """One mention as noise handling judged it.

    `duplicate_of` is the first post of its cluster (never another copy), so a cluster is one
    lookup. `bands` are the LSH keys a later copy finds this post by, and `signature` the MinHash
    it is checked against; both are kept in the store so clustering survives restarts and spans
    runs, sources and hours. `spam` is the scorer's verdict; `not_spam` a person's word, which
    wins and survives re-scoring.
    """

    mention_id: str
    brand: str
    author_handle: str
    author_followers: int
    created_at: datetime
    duplicate_of: str | None = None
    bands: tuple[str, ...] = ()
    signature: bytes = b""
    spam_score: float = 0.0
    spam_reasons: tuple[str, ...] = ()
    spam: bool = False
    not_spam: bool = False

    @property
    def is_spam(self) -> bool:
        """Flagged as spam: the scorer said so and no one has said otherwise."""
        return self.spam and not self.not_spam

    @property
    def root(self) -> str:
        """The cluster this post belongs to: its first post's id (its own, for a first post)."""
        return self.duplicate_of or self.mention_id


@dataclass(frozen=True)
class ClusterStats:
    """The copies of one first post: how many, by how many accounts, with how much engagement."""

    root_id: str
    copies: int = 0  # posts that copy it (the first post not counted)
    accounts: int = 1  # distinct accounts that posted the text, the first post's included
    engagement: int = 0  # the copies' own engagement (Engagement.total), summed
    last_copy_at: datetime | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def posts(self) -> int:
        return self.copies + 1

    def summary(self) -> str:
        """What the original's alert shows: "posted 37 times by 30 accounts"."""
        if self.copies == 0:
            return "posted once"
        accounts = f"{self.accounts} account" + ("s" if self.accounts != 1 else "")
        return f"posted {self.posts} times by {accounts}"


@dataclass
class NoiseStats:
    """What one noise step found among the mentions it judged."""

    judged: int = 0
    duplicates: int = 0
    spam: int = 0
    reflagged: int = 0  # earlier posts flagged once their text turned out to come from a bot ring

    def __add__(self, other: NoiseStats) -> NoiseStats:
        """Two steps' counts together (the pipeline judges brand by brand)."""
        return NoiseStats(self.judged + other.judged, self.duplicates + other.duplicates, self.spam + other.spam,
                          self.reflagged + other.reflagged)
